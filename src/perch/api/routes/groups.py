"""Groups of a tenant and their members (Kestra Enterprise's ``/api/v1/{tenant}/groups``).

A HumanTask assigned to a group waits for any of its members; a membership added or removed here
counts from the next decision on. Managing them needs GROUP permissions on the whole tenant.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import Field

from perch import identity
from perch.api.auth import PrincipalDep
from perch.api.context import StateDep, StoreDep, TenantDep
from perch.api.convert import iso
from perch.api.routes.users import (
    ADMIN_ERRORS,
    Page,
    Size,
    UserShape,
    user_json,
)
from perch.api.shapes import OmitUnsetRoute, Shape
from perch.identity import Group

router = APIRouter(tags=["Groups"], route_class=OmitUnsetRoute)


class GroupIn(Shape):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = None


class GroupUpdate(Shape):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = None


class GroupShape(Shape):
    id: str
    name: str
    description: str | None = None
    tenantId: str
    createdAt: str


class GroupPageShape(Shape):
    results: list[GroupShape]
    total: int


def _group_json(group: Group) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "tenantId": group.tenant,
        "createdAt": iso(group.created),
    }


@router.post("/groups", response_model=GroupShape, responses=ADMIN_ERRORS, summary="Create a group")
def create_group(
    body: GroupIn, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> dict[str, Any]:
    """A new group of this tenant (409 when the name is taken)."""
    group = identity.create_group(
        store, tenant, body.name, description=body.description, principal=principal
    )
    return _group_json(group)


@router.get(
    "/groups/search", response_model=GroupPageShape, responses=ADMIN_ERRORS, summary="Search groups"
)
def search_groups(
    *,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    q: str | None = None,
    page: Page = 1,
    size: Size = 10,
) -> dict[str, Any]:
    """This tenant's groups whose name or description contains ``q``, by name."""
    found, total = identity.search_groups(store, tenant, q, page=page, size=size)
    return {"results": [_group_json(g) for g in found], "total": total}


@router.get(
    "/groups/{id}", response_model=GroupShape, responses=ADMIN_ERRORS, summary="Get a group"
)
def get_group(
    id: str, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> dict[str, Any]:
    """One group, by id (or by name)."""
    return _group_json(identity.get_group(store, id, tenant=tenant))


@router.put(
    "/groups/{id}", response_model=GroupShape, responses=ADMIN_ERRORS, summary="Update a group"
)
def update_group(
    id: str, body: GroupUpdate, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Rename the group or change its description."""
    group = identity.update_group(
        store, id, tenant=tenant, name=body.name, description=body.description, principal=principal
    )
    return _group_json(group)


@router.delete(
    "/groups/{id}",
    status_code=204,
    response_class=Response,
    responses=ADMIN_ERRORS,
    summary="Delete a group",
)
def delete_group(
    *, id: str, state: StateDep, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> Response:
    """Delete the group and its memberships."""
    identity.delete_group(store, id, tenant=tenant, principal=principal)
    state.grants.forget()
    return Response(status_code=204)


@router.get(
    "/groups/{id}/members",
    response_model=list[UserShape],
    responses=ADMIN_ERRORS,
    summary="List a group's members",
)
def list_members(
    id: str, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> list[dict[str, Any]]:
    return [user_json(u) for u in identity.group_members(store, id, tenant=tenant)]


@router.put(
    "/groups/{id}/members/{userId}",
    status_code=204,
    response_class=Response,
    responses=ADMIN_ERRORS,
    summary="Add a user to a group",
)
def add_member(
    *,
    id: str,
    userId: str,
    state: StateDep,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
) -> Response:
    """``userId`` may also be a username or an e-mail. Adding a member twice is not an error."""
    identity.set_membership(store, id, userId, True, tenant=tenant, principal=principal)
    state.grants.forget()
    return Response(status_code=204)


@router.delete(
    "/groups/{id}/members/{userId}",
    status_code=204,
    response_class=Response,
    responses=ADMIN_ERRORS,
    summary="Remove a user from a group",
)
def remove_member(
    *,
    id: str,
    userId: str,
    state: StateDep,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
) -> Response:
    """The user may no longer decide what the group is assigned, from the next decision on."""
    identity.set_membership(store, id, userId, False, tenant=tenant, principal=principal)
    state.grants.forget()
    return Response(status_code=204)
