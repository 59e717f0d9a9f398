"""``perch user create``: a user who signs in with a password, made on the local data folder
(or ``PERCH_DATABASE_URL``), e.g. the administrator before the first start of the server.

The password is asked for twice at a prompt, or read from the first line of stdin with
``--password-stdin`` (never from an option: options end up in shell histories and ``ps``).
"""

from __future__ import annotations

import sys
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
from perch.errors import PerchError

user_app = typer.Typer(help="Manage users.", no_args_is_help=True)


@user_app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="The name the user signs in with.")],
    email: Annotated[
        str | None, typer.Option(help="An e-mail address, also accepted to sign in.")
    ] = None,
    superadmin: Annotated[
        bool, typer.Option("--superadmin", help="May do everything, in every tenant.")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Create a user."""
    from perch import identity

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("no password on stdin")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with open_data(data_dir, create=True) as store:
        try:
            user = identity.create_user(
                store,
                username,
                password,
                email=email,
                superadmin=superadmin,
                principal=principal(),
            )
        except PerchError as exc:
            report_error(exc)
            return
    role = "superadmin" if user.superadmin else "user"
    console().print(f"Created {role} '{user.username}'", markup=False)
