"""``perch group create|list|add-member|remove-member``: groups of a tenant, on the local data
folder or with ``--server`` through a running server (as a superadmin).

A HumanTask assigned to a group waits for any of its members: membership counts at the moment
someone decides.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from perch.cli.local import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    console,
    open_data,
    principal,
    report_error,
)
from perch.cli.remote import ServerOption, TenantOption, TokenOption, connect
from perch.engine.model import DEFAULT_TENANT
from perch.errors import PerchError

group_app = typer.Typer(help="Manage groups of users.", no_args_is_help=True)

GroupArgument = Annotated[str, typer.Argument(help="The group's name (or id).")]
MemberArgument = Annotated[str, typer.Argument(help="The user's username, e-mail or id.")]


@group_app.command("create")
def create(  # noqa: PLR0917 - typer maps parameters to options
    name: Annotated[str, typer.Argument(help="The group's name, unique in the tenant.")],
    description: Annotated[str | None, typer.Option(help="What the group is for.")] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """Create a group."""
    from perch import identity

    if server:
        with connect(server, tenant, token) as remote:
            remote.call("POST", "/groups", json={"name": name, "description": description})
    else:
        with open_data(data_dir, create=True) as store:
            try:
                identity.create_group(
                    store, tenant, name, description=description, principal=principal()
                )
            except PerchError as exc:
                report_error(exc)
                return
    console().print(f"Created group '{name}'", markup=False)


@group_app.command("list")
def list_(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """List the tenant's groups with their members."""
    from perch import identity

    rows: list[tuple[str, str, list[str]]] = []
    if server:
        with connect(server, tenant, token) as remote:
            found: list[dict[str, Any]] = []
            page = 1
            while True:
                params = {"page": page, "size": 500}
                body = remote.call("GET", "/groups/search", params=params).json()
                found.extend(body["results"])
                if not body["results"] or len(found) >= int(body["total"]):
                    break
                page += 1
            for group in found:
                members = remote.call("GET", f"/groups/{group['id']}/members").json()
                rows.append(
                    (
                        group["name"],
                        group.get("description") or "",
                        [m["username"] for m in members],
                    )
                )
    else:
        with open_data(data_dir) as store:
            groups, _ = identity.search_groups(store, tenant, page=1, size=100_000)
            for each in groups:
                users = identity.group_members(store, each.id, tenant=tenant)
                rows.append((each.name, each.description or "", [u.username for u in users]))
    table = Table("Group", "Description", "Members", box=None)
    for name, description, members in rows:
        table.add_row(name, description, ", ".join(members))
    out = console()
    out.print(table)
    out.print(f"{len(rows)} group(s)", markup=False)


def _membership(  # noqa: PLR0917 - internal
    group: str,
    user: str,
    member: bool,
    data_dir: Any,
    server: str | None,
    tenant: str,
    token: str | None,
) -> None:
    from perch import identity

    if server:
        with connect(server, tenant, token) as remote:
            found = remote.call("GET", f"/groups/{group}").json()
            method = "PUT" if member else "DELETE"
            remote.call(method, f"/groups/{found['id']}/members/{user}", ok=(204,))
        return
    with open_data(data_dir) as store:
        try:
            identity.set_membership(
                store, group, user, member, tenant=tenant, principal=principal()
            )
        except PerchError as exc:
            report_error(exc)


@group_app.command("add-member")
def add_member(  # noqa: PLR0917 - typer maps parameters to options
    group: GroupArgument,
    user: MemberArgument,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """Add a user to a group."""
    _membership(group, user, True, data_dir, server, tenant, token)
    console().print(f"Added '{user}' to group '{group}'", markup=False)


@group_app.command("remove-member")
def remove_member(  # noqa: PLR0917 - typer maps parameters to options
    group: GroupArgument,
    user: MemberArgument,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """Remove a user from a group: they may no longer decide what it is assigned."""
    _membership(group, user, False, data_dir, server, tenant, token)
    console().print(f"Removed '{user}' from group '{group}'", markup=False)
