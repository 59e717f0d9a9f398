"""Roles and bindings of a tenant (Kestra Enterprise's ``/api/v1/{tenant}/roles`` and
``/bindings``).

A role maps resources to actions (``{"FLOW": ["READ"], "EXECUTION": ["READ", "UPDATE"]}``);
the built-in ones (Admin, Developer, Editor, Launcher, Viewer) are listed with the tenant's own
and cannot be changed. A binding gives a role to a user, a group or a service account, on a
namespace and its children or, without one, on the whole tenant. Changes count from the next
request in this process, and within a second in the others.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import Field

from perch.api.auth import PrincipalDep
from perch.api.context import StateDep, StoreDep, TenantDep
from perch.api.convert import iso, non_null
from perch.api.routes.users import ADMIN_ERRORS, Page, Size
from perch.api.shapes import OmitUnsetRoute, Shape
from perch.errors import IdentityError
from perch.identity import roles
from perch.permissions import BindingType, Role, permissions_json

router = APIRouter(tags=["Roles and bindings"], route_class=OmitUnsetRoute)


class RoleIn(Shape):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = None
    permissions: dict[str, list[str]] = Field(default_factory=dict)


class RoleUpdate(Shape):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = None
    permissions: dict[str, list[str]] | None = None


class RoleShape(Shape):
    id: str
    name: str
    description: str | None = None
    permissions: dict[str, list[str]]
    builtin: bool
    tenantId: str
    createdAt: str | None = None


class RolePageShape(Shape):
    results: list[RoleShape]
    total: int


class BindingIn(Shape):
    type: str = Field(description="USER, GROUP or SERVICE_ACCOUNT")
    externalId: str = Field(
        min_length=1, max_length=255, description="The user's, group's or account's id"
    )
    roleId: str = Field(min_length=1, max_length=255)
    namespace: str | None = Field(
        default=None, max_length=255, description="None: the whole tenant"
    )


class BindingShape(Shape):
    id: str
    type: str
    externalId: str
    roleId: str
    namespace: str | None = None
    created: str


class BindingPageShape(Shape):
    results: list[BindingShape]
    total: int


def _role_json(role: Role) -> dict[str, Any]:
    return non_null(
        {
            "id": role.id,
            "name": role.name,
            "description": role.description,
            "permissions": permissions_json(role.permissions),
            "builtin": role.builtin,
            "tenantId": role.tenant,
            "createdAt": iso(role.created) if role.created else None,
        }
    )


@router.post("/roles", response_model=RoleShape, responses=ADMIN_ERRORS, summary="Create a role")
def create_role(
    body: RoleIn, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> dict[str, Any]:
    """A new role of this tenant: 409 when the name is taken, 422 for an unknown permission."""
    role = roles.create_role(
        store,
        tenant,
        body.name,
        body.permissions,
        description=body.description,
        principal=principal,
    )
    return _role_json(role)


@router.get(
    "/roles/search", response_model=RolePageShape, responses=ADMIN_ERRORS, summary="Search roles"
)
def search_roles(
    *,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    q: str | None = None,
    page: Page = 1,
    size: Size = 25,
) -> dict[str, Any]:
    """Built-in roles first, then the tenant's own by name, whose name contains ``q``."""
    found, total = roles.search_roles(store, tenant, q, page=page, size=size)
    return {"results": [_role_json(r) for r in found], "total": total}


@router.get("/roles", response_model=list[RoleShape], responses=ADMIN_ERRORS, summary="List roles")
def list_roles(store: StoreDep, tenant: TenantDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    found, _ = roles.search_roles(store, tenant, None, page=1, size=10_000)
    return [_role_json(r) for r in found]


@router.get("/roles/{id}", response_model=RoleShape, responses=ADMIN_ERRORS, summary="Get a role")
def get_role(
    id: str, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> dict[str, Any]:
    """One role, by id or name."""
    return _role_json(roles.get_role(store, id, tenant=tenant))


@router.put(
    "/roles/{id}", response_model=RoleShape, responses=ADMIN_ERRORS, summary="Update a role"
)
def update_role(
    *,
    id: str,
    body: RoleUpdate,
    state: StateDep,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
) -> dict[str, Any]:
    """Change a custom role's name, description or permissions (built-in roles are fixed)."""
    role = roles.update_role(
        store,
        id,
        tenant=tenant,
        name=body.name,
        permissions=body.permissions,
        description=body.description,
        principal=principal,
    )
    state.grants.forget()
    return _role_json(role)


@router.delete(
    "/roles/{id}",
    status_code=204,
    response_class=Response,
    responses=ADMIN_ERRORS,
    summary="Delete a role",
)
def delete_role(
    *, id: str, state: StateDep, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> Response:
    """Delete a custom role and every binding to it."""
    roles.delete_role(store, id, tenant=tenant, principal=principal)
    state.grants.forget()
    return Response(status_code=204)


@router.post(
    "/bindings", response_model=BindingShape, responses=ADMIN_ERRORS, summary="Create a binding"
)
def create_binding(
    *, body: BindingIn, state: StateDep, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Give a role to a user, group or service account of this tenant (422 when any is
    unknown)."""
    binding = roles.create_binding(
        store,
        tenant,
        body.type,
        body.externalId,
        body.roleId,
        namespace=body.namespace or None,
        principal=principal,
    )
    state.grants.forget()
    return roles.binding_json(binding)


def _binding_type(value: str | None) -> BindingType | None:
    if value is None:
        return None
    try:
        return BindingType(value.upper())
    except ValueError:
        raise IdentityError(
            f"unknown binding type '{value}'; expected USER, GROUP or SERVICE_ACCOUNT"
        ) from None


@router.get(
    "/bindings/search",
    response_model=BindingPageShape,
    responses=ADMIN_ERRORS,
    summary="Search bindings",
)
def search_bindings(
    *,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    type: str | None = None,
    externalId: str | None = None,
    roleId: str | None = None,
    namespace: str | None = None,
    page: Page = 1,
    size: Size = 25,
) -> dict[str, Any]:
    """The tenant's bindings matching every filter given, oldest first."""
    found, total = roles.search_bindings(
        store,
        tenant,
        type=_binding_type(type),
        external_id=externalId,
        role_id=roleId,
        namespace=namespace,
        page=page,
        size=size,
    )
    return {"results": [roles.binding_json(b) for b in found], "total": total}


@router.get(
    "/bindings", response_model=list[BindingShape], responses=ADMIN_ERRORS, summary="List bindings"
)
def list_bindings(
    store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> list[dict[str, Any]]:
    found, _ = roles.search_bindings(store, tenant, page=1, size=10_000)
    return [roles.binding_json(b) for b in found]


@router.get(
    "/bindings/{id}", response_model=BindingShape, responses=ADMIN_ERRORS, summary="Get a binding"
)
def get_binding(
    id: str, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> dict[str, Any]:
    return roles.binding_json(roles.get_binding(store, id, tenant=tenant))


@router.delete(
    "/bindings/{id}",
    status_code=204,
    response_class=Response,
    responses=ADMIN_ERRORS,
    summary="Delete a binding",
)
def delete_binding(
    *, id: str, state: StateDep, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> Response:
    roles.delete_binding(store, id, tenant=tenant, principal=principal)
    state.grants.forget()
    return Response(status_code=204)
