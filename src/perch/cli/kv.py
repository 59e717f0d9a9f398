"""``perch kv set|get|list|delete``: the KV pairs of a namespace, on the local data folder or with
``--server`` through a running server.

A value is typed as the API types a text body (``42`` a NUMBER, ``true`` a BOOLEAN,
``2024-05-01`` a DATE, ``{"a": 1}`` JSON, anything else a STRING) unless ``--type`` says
otherwise. ``get`` prints a STRING as it is and any other value as JSON.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote

import typer

from perch.cli.local import DEFAULT_DATA_DIR, DataDirOption, console, principal
from perch.cli.remote import Remote, ServerOption, TenantOption, TokenOption
from perch.cli.target import Target, print_table, reported, say
from perch.engine.kvtypes import KvType, coerce, infer_text, parse_ttl
from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import Store

kv_app = typer.Typer(help="Manage the KV store of a namespace.", no_args_is_help=True)

NamespaceArgument = Annotated[str, typer.Argument(help="The namespace the pairs belong to.")]
KeyArgument = Annotated[str, typer.Argument(help="The key, as kv('KEY') reads it.")]


def _path(namespace: str, key: str | None = None) -> str:
    path = f"/namespaces/{quote(namespace, safe='')}/kv"
    return path if key is None else f"{path}/{quote(key, safe='')}"


def _typed(value: str, kv_type: str | None) -> tuple[KvType, Any]:
    return infer_text(value) if kv_type is None else coerce(value, kv_type)


def _shown(kv_type: str, value: Any) -> str:
    if kv_type == KvType.STRING and isinstance(value, str):
        return value
    if isinstance(value, str) and kv_type in (KvType.DATETIME, KvType.DATE, KvType.DURATION):
        return value
    return json.dumps(value, ensure_ascii=False)


@kv_app.command("set")
def set_(  # noqa: PLR0917 - typer maps parameters to options
    namespace: NamespaceArgument,
    key: KeyArgument,
    value: Annotated[str, typer.Argument(help="The value (typed as described above).")],
    kv_type: Annotated[
        str | None,
        typer.Option("--type", help="STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION or JSON."),
    ] = None,
    ttl: Annotated[str | None, typer.Option(help="Expire after this ISO duration.")] = None,
    description: Annotated[str | None, typer.Option(help="What the pair is for.")] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """Create or replace a KV pair."""
    from perch.engine.service import kv as service

    typed, shown = reported(lambda: _typed(value, kv_type))
    expiry = reported(lambda: parse_ttl(ttl))
    headers = {"Content-Type": "application/json"}
    if ttl:
        headers["ttl"] = ttl
    if description:
        headers["description"] = description
    body = json.dumps(shown, ensure_ascii=False)
    if typed in (KvType.DATETIME, KvType.DATE, KvType.DURATION):
        headers["Content-Type"] = "text/plain"  # a bare ISO text keeps its type
        body = str(shown)
    Target(data_dir, server, tenant, token).run(
        lambda remote: remote.call(
            "PUT", _path(namespace, key), content=body.encode(), headers=headers
        ),
        lambda store: service.put_value(
            store,
            tenant,
            namespace,
            key,
            shown,
            kv_type=typed,
            ttl=expiry,
            description=description,
            principal=principal(),
        ),
        create=True,
    )
    say(f"Set '{key}' ({typed.value}) in namespace {namespace}")


@kv_app.command("get")
def get(  # noqa: PLR0917 - typer maps parameters to options
    namespace: NamespaceArgument,
    key: KeyArgument,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """Print the value of a key (exit 1 when it is missing or expired)."""
    from perch.engine.service import kv as service

    def remote_value(remote: Remote) -> tuple[str, Any]:
        body = remote.call("GET", _path(namespace, key)).json()
        return str(body["type"]), body["value"]

    def local_value(store: Store) -> tuple[str, Any]:
        entry = service.get_entry(store, tenant, namespace, key)
        return entry.type, entry.value

    kv_type, value = Target(data_dir, server, tenant, token).run(remote_value, local_value)
    typer.echo(_shown(kv_type, value))


@kv_app.command("list")
def list_(
    namespace: NamespaceArgument,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """List the namespace's pairs (keys, descriptions, dates)."""
    from perch.engine.service import kv as service

    def remote_rows(remote: Remote) -> list[tuple[str, str, str, str]]:
        found = remote.call("GET", _path(namespace)).json()
        return [
            (
                e["key"],
                e.get("description") or "",
                str(e.get("updateDate") or ""),
                str(e.get("expirationDate") or ""),
            )
            for e in found
        ]

    def local_rows(store: Store) -> list[tuple[str, str, str, str]]:
        return [
            (
                e.key,
                e.description or "",
                e.updated.isoformat(),
                e.expiration.isoformat() if e.expiration else "",
            )
            for e in service.list_entries(store, tenant, namespace)
        ]

    rows = Target(data_dir, server, tenant, token).run(remote_rows, local_rows)
    print_table(
        ("Key", "Description", "Updated", "Expires"),
        rows,
        f"{len(rows)} pair(s) in namespace {namespace}",
    )


@kv_app.command("delete")
def delete(  # noqa: PLR0917 - typer maps parameters to options
    namespace: NamespaceArgument,
    keys: Annotated[list[str], typer.Argument(help="The keys to delete.")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """Delete keys; exit 1 when none of them existed."""
    from perch.engine.service import kv as service

    def remote_delete(remote: Remote) -> list[str]:
        answer = remote.call("DELETE", _path(namespace), json={"keys": keys}).json()
        return [str(k) for k in answer["keys"]]

    deleted: list[str] = Target(data_dir, server, tenant, token).run(
        remote_delete,
        lambda store: service.delete_keys(store, tenant, namespace, keys, principal=principal()),
    )
    missing = [k for k in keys if k not in deleted]
    out = console()
    for key in deleted:
        out.print(f"Deleted '{key}' of namespace {namespace}", markup=False)
    if missing:
        console(stderr=True).print(
            f"Not found in namespace {namespace}: {', '.join(missing)}", markup=False
        )
    if not deleted:
        raise typer.Exit(1)
