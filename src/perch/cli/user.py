"""``perch user create|list|disable|enable|delete``: users who sign in with a password, on the
local data folder (or ``PERCH_DATABASE_URL``), or with ``--server`` through a running server's
``/api/v1/users`` (as a superadmin).

The password is asked for twice at a prompt, or read from the first line of stdin with
``--password-stdin`` (never from an option: options end up in shell histories and ``ps``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from perch.cli.local import DEFAULT_DATA_DIR, DataDirOption, fail, principal
from perch.cli.remote import Remote, ServerOption, TokenOption
from perch.cli.target import Target, print_table, say
from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import Store

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
    body = {
        "username": username,
        "password": password,
        "email": email,
        "displayName": display_name,
        "superAdmin": superadmin,
    }

    def remote_create(remote: Remote) -> tuple[str, bool]:
        created = remote.call("POST", "/users", instance=True, json=body).json()
        return str(created["username"]), bool(created["superAdmin"])

    def local_create(store: Store) -> tuple[str, bool]:
        user = identity.create_user(
            store,
            username,
            password,
            email=email,
            display_name=display_name,
            superadmin=superadmin,
            principal=principal(),
        )
        return user.username, user.superadmin

    made, is_admin = _target(data_dir, server, token).run(remote_create, local_create, create=True)
    say(f"Created {'superadmin' if is_admin else 'user'} '{made}'")


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

    def local_rows(store: Store) -> list[dict[str, Any]]:
        found, _ = identity.search_users(store, search, page=1, size=100_000)
        return [
            {
                "username": u.username,
                "email": u.email,
                "displayName": u.display_name,
                "superAdmin": u.superadmin,
                "disabled": u.disabled,
            }
            for u in found
        ]

    rows = _target(data_dir, server, token).run(lambda r: _all_users(r, search), local_rows)
    print_table(
        ("Username", "E-mail", "Name", "Role", "Status"),
        (
            (
                str(row["username"]),
                str(row.get("email") or ""),
                str(row.get("displayName") or ""),
                "superadmin" if row.get("superAdmin") else "user",
                "disabled" if row.get("disabled") else "enabled",
            )
            for row in rows
        ),
        f"{len(rows)} user(s)",
    )


def _target(data_dir: Path, server: str | None, token: str | None) -> Target:
    # Users belong to the instance, not to a tenant.
    return Target(data_dir, server, DEFAULT_TENANT, token)


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
    login: str, data_dir: Path, server: str | None, token: str | None, **change: Any
) -> None:
    """Apply one change to the user ``login``, locally or through ``server``."""
    from perch import identity

    def remote_change(remote: Remote) -> None:
        user_id = _remote_user_id(remote, login)
        if change.get("delete"):
            remote.call("DELETE", f"/users/{user_id}", instance=True, ok=(204,))
        else:
            remote.call("PUT", f"/users/{user_id}", instance=True, json=change)

    def local_change(store: Store) -> None:
        user = identity.find_user(store, login)
        if user is None:
            fail(f"no user '{login}'")
            return
        if change.get("delete"):
            identity.delete_user(store, user.id, principal=principal())
        else:
            changes = identity.UserChanges(disabled=change["disabled"])
            identity.update_user(store, user.id, changes, principal=principal())

    _target(data_dir, server, token).run(remote_change, local_change)


@user_app.command("disable")
def disable(
    user: UserArgument,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Disable a user: their password stops working with the next request."""
    _change(user, data_dir, server, token, disabled=True)
    say(f"Disabled user '{user}'")


@user_app.command("enable")
def enable(
    user: UserArgument,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Enable a disabled user again."""
    _change(user, data_dir, server, token, disabled=False)
    say(f"Enabled user '{user}'")


@user_app.command("delete")
def delete(
    user: UserArgument,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    token: TokenOption = None,
) -> None:
    """Delete a user and their group memberships (their audit records stay)."""
    _change(user, data_dir, server, token, delete=True)
    say(f"Deleted user '{user}'")
