"""``perch token create``: an API token for a service account, made on the local data folder
(or ``PERCH_DATABASE_URL``) without going through a server.

The token goes to stdout alone, so scripts can capture it
(``TOKEN=$(perch token create --service-account ci)``); what it is and when it expires go to
stderr. A missing service account is an error unless ``--create`` asks for it, so a typo in
the name never mints a token for a new, unintended account.
"""

from __future__ import annotations

from typing import Annotated

import typer

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
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Create an API token and print it (once: it cannot be shown again)."""
    from perch import identity
    from perch.durations import parse_duration

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
                account = identity.create_service_account(
                    store, tenant, service_account, principal=acting
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
