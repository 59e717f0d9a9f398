"""``perch group create|list|add-member|remove-member``: groups of a tenant, on the local data
folder or with ``--server`` through a running server (as a superadmin).

A HumanTask assigned to a group waits for any of its members: membership counts at the moment
someone decides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from perch.cli.local import DEFAULT_DATA_DIR, DataDirOption, principal
from perch.cli.remote import Remote, ServerOption, TenantOption, TokenOption
from perch.cli.target import Target, print_table, say
from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import Store

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

    Target(data_dir, server, tenant, token).run(
        lambda remote: remote.call(
            "POST", "/groups", json={"name": name, "description": description}
        ),
        lambda store: identity.create_group(
            store, tenant, name, description=description, principal=principal()
        ),
        create=True,
    )
    say(f"Created group '{name}'")


@group_app.command("list")
def list_(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """List the tenant's groups with their members."""
    from perch import identity

    def remote_rows(remote: Remote) -> list[tuple[str, str, str]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            params = {"page": page, "size": 500}
            body = remote.call("GET", "/groups/search", params=params).json()
            found.extend(body["results"])
            if not body["results"] or len(found) >= int(body["total"]):
                break
            page += 1
        rows = []
        for group in found:
            members = remote.call("GET", f"/groups/{group['id']}/members").json()
            names = ", ".join(m["username"] for m in members)
            rows.append((group["name"], group.get("description") or "", names))
        return rows

    def local_rows(store: Store) -> list[tuple[str, str, str]]:
        groups, _ = identity.search_groups(store, tenant, page=1, size=100_000)
        rows = []
        for each in groups:
            users = identity.group_members(store, each.id, tenant=tenant)
            names = ", ".join(u.username for u in users)
            rows.append((each.name, each.description or "", names))
        return rows

    rows = Target(data_dir, server, tenant, token).run(remote_rows, local_rows)
    print_table(("Group", "Description", "Members"), rows, f"{len(rows)} group(s)")


def _membership(  # noqa: PLR0917 - internal
    group: str,
    user: str,
    member: bool,
    data_dir: Path,
    server: str | None,
    tenant: str,
    token: str | None,
) -> None:
    from perch import identity

    def remote_change(remote: Remote) -> None:
        found = remote.call("GET", f"/groups/{group}").json()
        method = "PUT" if member else "DELETE"
        remote.call(method, f"/groups/{found['id']}/members/{user}", ok=(204,))

    Target(data_dir, server, tenant, token).run(
        remote_change,
        lambda store: identity.set_membership(
            store, group, user, member, tenant=tenant, principal=principal()
        ),
    )


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
    say(f"Added '{user}' to group '{group}'")


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
    say(f"Removed '{user}' from group '{group}'")
