"""``perch user create|list|disable|enable|delete``: users who sign in with a password, on the
local data folder (or ``PERCH_DATABASE_URL``), or with ``--server`` through a running server's
``/api/v1/users`` (as a superadmin).

The password is asked for twice at a prompt, or read from the first line of stdin with
``--password-stdin`` (never from an option: options end up in shell histories and ``ps``).
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

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
from perch.cli.remote import Remote, ServerOption, TokenOption, connect
from perch.engine.model import DEFAULT_TENANT
from perch.errors import PerchError

user_app = typer.Typer(help="Manage users.", no_args_is_help=True)

UserArgument = Annotated[str, typer.Argument(help="The user's username or e-mail.")]


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("no password on stdin")
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@user_app.command("create")
def create(  # noqa: PLR0917 - typer maps parameters to options
    username: Annotated[str, typer.Argument(help="The name the user signs in with.")],
    email: Annotated[
        str | None, typer.Option(help="An e-mail address, also accepted to sign in.")
    ] = None,
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="The name shown to people.")
    ] = None,
    superadmin: Annotated[
        bool, typer.Option("--superadmin", help="May do everything, in every tenant.")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Create a user."""
    from perch import identity

    password = _read_password(password_stdin)
    if server:
        body = {
            "username": username,
            "password": password,
            "email": email,
            "displayName": display_name,
            "superAdmin": superadmin,
        }
        with connect(server, DEFAULT_TENANT, token) as remote:
            created = remote.call("POST", "/users", instance=True, json=body).json()
        made, is_admin = str(created["username"]), bool(created["superAdmin"])
    else:
        with open_data(data_dir, create=True) as store:
            try:
                user = identity.create_user(
                    store,
                    username,
                    password,
                    email=email,
                    display_name=display_name,
                    superadmin=superadmin,
                    principal=principal(),
                )
            except PerchError as exc:
                report_error(exc)
                return
        made, is_admin = user.username, user.superadmin
    role = "superadmin" if is_admin else "user"
    console().print(f"Created {role} '{made}'", markup=False)


@user_app.command("list")
def list_(
    search: Annotated[
        str | None, typer.Option(help="Only users whose name or e-mail contains this.")
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """List the users, by username."""
    from perch import identity

    if server:
        with connect(server, DEFAULT_TENANT, token) as remote:
            rows = _all_users(remote, search)
    else:
        with open_data(data_dir) as store:
            found, _ = identity.search_users(store, search, page=1, size=100_000)
        rows = [
            {
                "username": u.username,
                "email": u.email,
                "displayName": u.display_name,
                "superAdmin": u.superadmin,
                "disabled": u.disabled,
            }
            for u in found
        ]
    table = Table("Username", "E-mail", "Name", "Role", "Status", box=None)
    for row in rows:
        table.add_row(
            str(row["username"]),
            str(row.get("email") or ""),
            str(row.get("displayName") or ""),
            "superadmin" if row.get("superAdmin") else "user",
            "disabled" if row.get("disabled") else "enabled",
        )
    out = console()
    out.print(table)
    out.print(f"{len(rows)} user(s)", markup=False)


def _all_users(remote: Remote, search: str | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        params: dict[str, Any] = {"page": page, "size": 500}
        if search:
            params["q"] = search
        body = remote.call("GET", "/users/search", instance=True, params=params).json()
        rows.extend(body["results"])
        if not body["results"] or len(rows) >= int(body["total"]):
            return rows
        page += 1


def _remote_user_id(remote: Remote, login: str) -> str:
    for row in _all_users(remote, login):
        if login in (row["username"], row.get("email")) or login.lower() == row.get("email"):
            return str(row["id"])
    fail(f"no user '{login}'")
    raise AssertionError  # unreachable: fail exits


def _change(
    login: str, data_dir: Any, server: str | None, token: str | None, **change: Any
) -> None:
    """Apply one change to the user ``login``, locally or through ``server``."""
    from perch import identity

    if server:
        with connect(server, DEFAULT_TENANT, token) as remote:
            user_id = _remote_user_id(remote, login)
            if change.get("delete"):
                remote.call("DELETE", f"/users/{user_id}", instance=True, ok=(204,))
            else:
                remote.call("PUT", f"/users/{user_id}", instance=True, json=change)
        return
    with open_data(data_dir) as store:
        try:
            user = identity.find_user(store, login)
            if user is None:
                fail(f"no user '{login}'")
                return
            if change.get("delete"):
                identity.delete_user(store, user.id, principal=principal())
            else:
                changes = identity.UserChanges(disabled=change["disabled"])
                identity.update_user(store, user.id, changes, principal=principal())
        except PerchError as exc:
            report_error(exc)


@user_app.command("disable")
def disable(
    user: UserArgument,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Disable a user: their password stops working with the next request."""
    _change(user, data_dir, server, token, disabled=True)
    console().print(f"Disabled user '{user}'", markup=False)


@user_app.command("enable")
def enable(
    user: UserArgument,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Enable a disabled user again."""
    _change(user, data_dir, server, token, disabled=False)
    console().print(f"Enabled user '{user}'", markup=False)


@user_app.command("delete")
def delete(
    user: UserArgument,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Delete a user and their group memberships (their audit records stay)."""
    _change(user, data_dir, server, token, delete=True)
    console().print(f"Deleted user '{user}'", markup=False)
