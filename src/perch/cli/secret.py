"""``perch secret set|list|delete``: the secrets of a namespace, on the local data folder or with
``--server`` through a running server.

The value is read from standard input when it is not a terminal (``printf %s "$PW" | perch
secret set company DB_PASSWORD``; one trailing newline is dropped), else asked for at a hidden
prompt. ``--value`` exists for scripts that have no other way, but a value on the command line is
visible to every user of the machine (``ps``) and stays in shell histories. Nothing prints a
value: ``list`` shows names, descriptions and dates.
"""

from __future__ import annotations

import sys
from typing import Annotated
from urllib.parse import quote

import typer
from rich.table import Table

from perch.cli.local import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    console,
    fail,
    open_data,
    principal,
    report_error,
)
from perch.cli.remote import ServerOption, TenantOption, TokenOption, connect
from perch.engine.model import DEFAULT_TENANT
from perch.errors import PerchError

secret_app = typer.Typer(help="Manage namespace secrets.", no_args_is_help=True)

NamespaceArgument = Annotated[
    str, typer.Argument(help="The namespace (its flows and its children's read the secret).")
]
KeyArgument = Annotated[str, typer.Argument(help="The secret's name, as secret('NAME') reads it.")]


def _read_value(value: str | None) -> str:
    if value is not None:
        return value
    if not sys.stdin.isatty():
        text = sys.stdin.read()
        if text.endswith("\n"):
            text = text[:-1].removesuffix("\r")
        if not text:
            fail("no secret value on stdin")
        return text
    return str(typer.prompt("Value", hide_input=True, confirmation_prompt=True))


def _path(namespace: str, key: str | None = None) -> str:
    path = f"/namespaces/{quote(namespace, safe='')}/secrets"
    return path if key is None else f"{path}/{quote(key, safe='')}"


@secret_app.command("set")
def set_(  # noqa: PLR0917 - typer maps parameters to options
    namespace: NamespaceArgument,
    key: KeyArgument,
    value: Annotated[
        str | None,
        typer.Option(
            help="The value (visible to other users in `ps` and kept in shell histories: "
            "prefer stdin or the prompt)."
        ),
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the secret is for.")] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """Create or replace a secret (the value from stdin, or a hidden prompt)."""
    from perch.engine.service import secretstore

    text = _read_value(value)
    if server:
        with connect(server, tenant, token) as remote:
            body = {"value": text, "description": description}
            remote.call("PUT", _path(namespace, key), json=body, ok=(204,))
    else:
        with open_data(data_dir, create=True) as store:
            try:
                secretstore.set_secret(
                    store,
                    tenant,
                    namespace,
                    key,
                    text,
                    description=description,
                    principal=principal(),
                )
            except PerchError as exc:
                report_error(exc)
                return
    console().print(f"Secret '{key}' set in namespace {namespace}", markup=False)


@secret_app.command("list")
def list_(
    namespace: NamespaceArgument,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """List the namespace's secrets by name (never their values)."""
    from perch.engine.service import secretstore

    rows: list[tuple[str, str, str]] = []
    if server:
        with connect(server, tenant, token) as remote:
            body = remote.call("GET", _path(namespace)).json()
            rows = [
                (r["key"], r.get("description") or "", str(r.get("updated") or ""))
                for r in body["results"]
            ]
    else:
        with open_data(data_dir) as store:
            try:
                found = secretstore.list_secrets(store, tenant, namespace)
            except PerchError as exc:
                report_error(exc)
                return
            rows = [(m.key, m.description or "", m.updated.isoformat()) for m in found]
    table = Table("Key", "Description", "Updated", box=None)
    for row in rows:
        table.add_row(*row)
    out = console()
    out.print(table)
    out.print(f"{len(rows)} secret(s) in namespace {namespace}", markup=False)


@secret_app.command("delete")
def delete(  # noqa: PLR0917 - typer maps parameters to options
    namespace: NamespaceArgument,
    key: KeyArgument,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """Delete a secret."""
    from perch.engine.service import secretstore

    if server:
        with connect(server, tenant, token) as remote:
            remote.call("DELETE", _path(namespace, key), ok=(204,))
    else:
        with open_data(data_dir) as store:
            try:
                secretstore.delete_secret(store, tenant, namespace, key, principal=principal())
            except PerchError as exc:
                report_error(exc)
                return
    console().print(f"Deleted secret '{key}' of namespace {namespace}", markup=False)
