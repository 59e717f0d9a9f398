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

from perch.cli.local import DEFAULT_DATA_DIR, DataDirOption, fail, principal
from perch.cli.remote import Remote, ServerOption, TenantOption, TokenOption
from perch.cli.target import Target, print_table, say
from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import Store

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
    body = {"value": text, "description": description}
    Target(data_dir, server, tenant, token).run(
        lambda remote: remote.call("PUT", _path(namespace, key), json=body, ok=(204,)),
        lambda store: secretstore.set_secret(
            store, tenant, namespace, key, text, description=description, principal=principal()
        ),
        create=True,
    )
    say(f"Secret '{key}' set in namespace {namespace}")


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

    def remote_rows(remote: Remote) -> list[tuple[str, str, str]]:
        body = remote.call("GET", _path(namespace)).json()
        return [
            (r["key"], r.get("description") or "", str(r.get("updated") or ""))
            for r in body["results"]
        ]

    def local_rows(store: Store) -> list[tuple[str, str, str]]:
        found = secretstore.list_secrets(store, tenant, namespace)
        return [(m.key, m.description or "", m.updated.isoformat()) for m in found]

    rows = Target(data_dir, server, tenant, token).run(remote_rows, local_rows)
    print_table(
        ("Key", "Description", "Updated"), rows, f"{len(rows)} secret(s) in namespace {namespace}"
    )


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

    Target(data_dir, server, tenant, token).run(
        lambda remote: remote.call("DELETE", _path(namespace, key), ok=(204,)),
        lambda store: secretstore.delete_secret(
            store, tenant, namespace, key, principal=principal()
        ),
    )
    say(f"Deleted secret '{key}' of namespace {namespace}")
