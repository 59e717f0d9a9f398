"""``perch token create|list|revoke``: API tokens of service accounts, on the local data folder
(or ``PERCH_DATABASE_URL``) without going through a server.

The token goes to stdout alone, so scripts can capture it
(``TOKEN=$(perch token create --service-account ci)``); what it is and when it expires go to
stderr. A missing service account is an error unless ``--create`` asks for it, so a typo in
the name never mints a token for a new, unintended account.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

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
from perch.engine.model import DEFAULT_TENANT
from perch.errors import PerchError

token_app = typer.Typer(help="Manage API tokens of service accounts.", no_args_is_help=True)


@token_app.command("create")
def create(
    *,
    service_account: Annotated[
        str, typer.Option("--service-account", "-s", help="The service account's name.")
    ],
    name: Annotated[str, typer.Option(help="A name to recognise the token by.")] = "cli",
    expires: Annotated[
        str | None,
        typer.Option(help="How long the token stays valid (ISO-8601, e.g. P30D); default never."),
    ] = None,
    create_account: Annotated[
        bool, typer.Option("--create", help="Create the service account if it does not exist.")
    ] = False,
    tenant: Annotated[str, typer.Option(help="The tenant of the service account.")] = (
        DEFAULT_TENANT
    ),
    role: Annotated[
        str,
        typer.Option(
            help="With --create: the role the new account gets on the whole tenant"
            " (e.g. Launcher to start and resume only)."
        ),
    ] = "Admin",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Create an API token and print it (once: it cannot be shown again). An account made
    with --create gets --role on the tenant; give others roles with `perch binding create`."""
    from perch import identity
    from perch.durations import parse_duration
    from perch.identity import roles

    acting = principal()
    try:
        max_age = parse_duration(expires) if expires else None
    except PerchError as exc:
        report_error(exc)
        return
    with open_data(data_dir, create=create_account) as store:
        try:
            account = identity.find_service_account(store, tenant, service_account)
            if account is None:
                if not create_account:
                    fail(
                        f"no service account '{service_account}' in tenant '{tenant}' "
                        "(add --create to create it)"
                    )
                    return
                roles.get_role(store, role, tenant=tenant)  # an unknown role: nothing made
                account = identity.create_service_account(
                    store, tenant, service_account, principal=acting
                )
                roles.create_binding(
                    store, tenant, "SERVICE_ACCOUNT", account.id, role, principal=acting
                )
            token, raw = identity.create_api_token(
                store, account.id, name, max_age=max_age, principal=acting
            )
        except PerchError as exc:
            report_error(exc)
            return
    until = f"expires {token.expires.isoformat()}" if token.expires else "never expires"
    console(stderr=True).print(
        f"API token '{token.name}' of service account '{account.name}' (tenant {tenant}), "
        f"{until}. It is shown once: keep it safe.",
        markup=False,
    )
    typer.echo(raw)


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


@token_app.command("list")
def list_(
    service_account: Annotated[
        str | None,
        typer.Option(
            "--service-account", "-s", help="Only this service account's tokens (default all)."
        ),
    ] = None,
    tenant: Annotated[str, typer.Option(help="The tenant of the service accounts.")] = (
        DEFAULT_TENANT
    ),
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """List API tokens: id, account, name, the token's first characters, dates (never the
    token itself, which is not stored)."""
    from perch import identity

    with open_data(data_dir) as store:
        accounts = identity.list_service_accounts(store, tenant)
        if service_account is not None:
            accounts = [a for a in accounts if a.name == service_account]
            if not accounts:
                fail(f"no service account '{service_account}' in tenant '{tenant}'")
        rows = [
            (account, token)
            for account in accounts
            for token in identity.list_api_tokens(store, account.id)
        ]
    table = Table(title=f"{len(rows)} API tokens")
    table.add_column("id", no_wrap=True, min_width=max((len(t.id) for _, t in rows), default=2))
    for column in ("account", "name", "starts with", "created", "expires", "revoked", "last used"):
        table.add_column(column, overflow="fold")
    for account, token in rows:
        table.add_row(
            token.id,
            account.name,
            token.name,
            token.prefix,
            _when(token.created),
            _when(token.expires),
            _when(token.revoked),
            _when(token.last_used),
        )
    console().print(table)


@token_app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (see perch token list).")],
    tenant: Annotated[str, typer.Option(help="The tenant of the service account.")] = (
        DEFAULT_TENANT
    ),
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Revoke an API token: it stops working at once."""
    from perch import identity

    with open_data(data_dir) as store:
        owned = {account.id for account in identity.list_service_accounts(store, tenant)}
        try:
            token = next(
                (
                    token
                    for account_id in owned
                    for token in identity.list_api_tokens(store, account_id)
                    if token.id == token_id
                ),
                None,
            )
            if token is None:
                fail(f"no API token '{token_id}' in tenant '{tenant}'")
                return
            identity.revoke_api_token(
                store, token_id, service_account_id=token.service_account_id, principal=principal()
            )
        except PerchError as exc:
            report_error(exc)
            return
    console().print(f"Revoked API token '{token.name}' ({token_id})", markup=False)
