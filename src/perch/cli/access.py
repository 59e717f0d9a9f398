"""``perch role create|list`` and ``perch binding create|list|delete``: who may do what in a
tenant, on the local data folder or with ``--server``.

A role is a set of permissions (``--allow FLOW:READ,UPDATE --allow EXECUTION:READ``); the
built-in Admin, Developer, Editor, Launcher and Viewer exist in every tenant. A binding gives
a role to a user, a group or a service account, on one namespace and its children
(``--namespace company``) or on the whole tenant.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from perch.cli.local import DEFAULT_DATA_DIR, DataDirOption, principal
from perch.cli.remote import ServerOption, TenantOption, TokenOption
from perch.cli.target import Target, print_table, reported, say
from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import Store
from perch.errors import IdentityError
from perch.permissions import permissions_json

role_app = typer.Typer(help="Manage roles (sets of permissions).", no_args_is_help=True)
binding_app = typer.Typer(
    help="Give roles to users, groups and service accounts.", no_args_is_help=True
)


def _permissions(allow: list[str]) -> dict[str, list[str]]:
    """``["FLOW:READ,UPDATE", "EXECUTION:READ"]`` as ``{"FLOW": ["READ", "UPDATE"], …}``."""
    found: dict[str, list[str]] = {}
    for each in allow:
        resource, colon, actions = each.partition(":")
        if not colon or not resource.strip() or not actions.strip():
            raise IdentityError(f"'{each}' is not RESOURCE:ACTION[,ACTION…] (e.g. FLOW:READ)")
        found.setdefault(resource.strip().upper(), []).extend(
            a.strip().upper() for a in actions.split(",") if a.strip()
        )
    return found


@role_app.command("create")
def create_role(  # noqa: PLR0917 - typer maps parameters to options
    name: Annotated[str, typer.Argument(help="The role's name, unique in the tenant.")],
    allow: Annotated[
        list[str] | None,
        typer.Option(help="A permission: RESOURCE:ACTION[,ACTION…], e.g. EXECUTION:READ,UPDATE."),
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the role is for.")] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """Create a role."""
    from perch.identity import roles

    permissions = reported(lambda: _permissions(allow or []))
    body = {"name": name, "description": description, "permissions": permissions}
    Target(data_dir, server, tenant, token).run(
        lambda remote: remote.call("POST", "/roles", json=body),
        lambda store: roles.create_role(
            store, tenant, name, permissions, description=description, principal=principal()
        ),
        create=True,
    )
    say(f"Created role '{name}'")


@role_app.command("list")
def list_roles(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """List the tenant's roles, built-in ones first, with their permissions."""
    from perch.identity import roles

    def local(store: Store) -> list[dict[str, Any]]:
        found, _ = roles.search_roles(store, tenant, page=1, size=100_000)
        return [
            {
                "id": r.id,
                "name": r.name,
                "builtin": r.builtin,
                "permissions": permissions_json(r.permissions),
            }
            for r in found
        ]

    rows: list[dict[str, Any]] = Target(data_dir, server, tenant, token).run(
        lambda remote: remote.call("GET", "/roles").json(), local
    )
    print_table(
        ("Role", "Id", "Permissions"),
        (
            (
                row["name"] + (" (built-in)" if row["builtin"] else ""),
                row["id"],
                "; ".join(f"{r}: {','.join(a)}" for r, a in row["permissions"].items()),
            )
            for row in rows
        ),
        f"{len(rows)} role(s)",
    )


@binding_app.command("create")
def create_binding(  # noqa: PLR0917 - typer maps parameters to options
    role: Annotated[str, typer.Option(help="The role's name or id, e.g. Launcher.")],
    user: Annotated[str | None, typer.Option(help="A user's username, e-mail or id.")] = None,
    group: Annotated[str | None, typer.Option(help="A group's name or id.")] = None,
    service_account: Annotated[
        str | None, typer.Option(help="A service account's name or id.")
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(help="Only this namespace and its children (default: the whole tenant)."),
    ] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """Give a role to one user, group or service account."""
    from perch.identity import roles

    subjects = [(t, v) for t, v in (("USER", user), ("GROUP", group)) if v is not None]
    if service_account is not None:
        subjects.append(("SERVICE_ACCOUNT", service_account))
    if len(subjects) != 1:
        reported(_one_subject)
    ((kind, who),) = subjects
    body = {"type": kind, "externalId": who, "roleId": role, "namespace": namespace}
    binding_id: str = Target(data_dir, server, tenant, token).run(
        lambda remote: str(remote.call("POST", "/bindings", json=body).json()["id"]),
        lambda store: (
            roles.create_binding(
                store, tenant, kind, who, role, namespace=namespace, principal=principal()
            ).id
        ),
        create=True,
    )
    where = f"namespace {namespace}" if namespace else f"tenant {tenant}"
    say(f"Bound role '{role}' to {who} on {where} ({binding_id})")


def _one_subject() -> None:
    raise IdentityError("name exactly one of --user, --group or --service-account")


@binding_app.command("list")
def list_bindings(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """List the tenant's bindings, oldest first."""
    from perch.identity import roles

    def local(store: Store) -> list[dict[str, Any]]:
        found, _ = roles.search_bindings(store, tenant, page=1, size=100_000)
        return [roles.binding_json(b) for b in found]

    rows: list[dict[str, Any]] = Target(data_dir, server, tenant, token).run(
        lambda remote: remote.call("GET", "/bindings").json(), local
    )
    print_table(
        ("Id", "Type", "Who", "Role", "Namespace"),
        ((r["id"], r["type"], r["externalId"], r["roleId"], r["namespace"] or "*") for r in rows),
        f"{len(rows)} binding(s)",
    )


@binding_app.command("delete")
def delete_binding(
    binding_id: Annotated[str, typer.Argument(help="The binding's id (see `binding list`).")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """Delete a binding: its role no longer applies, from the next request on."""
    from perch.identity import roles

    Target(data_dir, server, tenant, token).run(
        lambda remote: remote.call("DELETE", f"/bindings/{binding_id}", ok=(204,)),
        lambda store: roles.delete_binding(store, binding_id, tenant=tenant, principal=principal()),
    )
    say(f"Deleted binding {binding_id}")
