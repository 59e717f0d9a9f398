"""``perch audit verify|head``: check the audit trail of the local data folder (or
``PERCH_DATABASE_URL``, with the key and checkpoint of the data folder).

``verify`` walks each tenant's keyed chain and compares its head with the checkpoint file; on
the first break it names the record (its ``seq``, its position in the tenant's chain, and
whether it was changed, inserted or deleted, or the newest records cut off) and exits 1.
``head`` prints each tenant's head and, when the trail verifies, writes it to the checkpoint.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from perch.cli.local import DEFAULT_DATA_DIR, DataDirOption, console, fail, open_data
from perch.store.auditchain import AuditCheck

audit_app = typer.Typer(help="Check the tamper-evident audit trail.", no_args_is_help=True)

TenantOption = Annotated[
    str | None, typer.Option("--tenant", help="Only this tenant's chain (default: every tenant).")
]


def _store(store: Any) -> Any:
    if not hasattr(store, "verify_audit_chain"):
        fail("this store keeps no audit chain")
    return store


def describe_break(check: AuditCheck) -> str:
    """One line naming the first bad record and what happened to it."""
    where = f"tenant '{check.tenant}'" if check.tenant is not None else "the unkeyed records"
    position = f" (position {check.position})" if check.position is not None else ""
    record = f"record {check.broken_at}{position}" if check.broken_at is not None else "the chain"
    problem = check.problem or "broken"
    if problem == "deleted":
        what = f"{record}: a record before it was deleted"
    elif problem == "cut off":
        what = f"after {record}: the newest records were cut off"
    else:
        what = f"{record} was {problem}"
    return f"audit trail broken in {where}: {what} ({check.reason})"


@audit_app.command("verify")
def verify(tenant: TenantOption = None, data_dir: DataDirOption = DEFAULT_DATA_DIR) -> None:
    """Walk each tenant's chain; exit 1 naming the first record changed, inserted or deleted."""
    with open_data(data_dir) as opened:
        check: AuditCheck = _store(opened).verify_audit_chain(tenant)
    out = console()
    if not check.ok:
        console(stderr=True).print(Text(describe_break(check), style="bold red"))
        out.print(f"{check.records} records checked")
        raise typer.Exit(1)
    for name, head in check.heads:
        out.print(f"{name}: {head.position} records, head {head.hash}")
    out.print(f"ok: {check.records} records checked")


@audit_app.command("head")
def head(data_dir: DataDirOption = DEFAULT_DATA_DIR) -> None:
    """Print each tenant's chain head and write it to the checkpoint file of the data folder."""
    with open_data(data_dir) as opened:
        store = _store(opened)
        check: AuditCheck = store.verify_audit_chain()
        if not check.ok:
            console(stderr=True).print(Text(describe_break(check), style="bold red"))
            fail("the checkpoint was not written: verify the audit trail first")
        heads = dict(check.heads)
        store.checkpoint_audit_heads(heads)
    out = console()
    for name, found in sorted(heads.items()):
        out.print(f"{name} {found.position} {found.hash}")
    if not heads:
        out.print("no audit records yet")
