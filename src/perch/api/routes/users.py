"""Users and tenants, at the instance level (Kestra Enterprise's ``/api/v1/users`` and
``/api/v1/tenants``): mounted once, without a tenant, and for superadmins only.

Disabling or deleting a user refuses their credentials from the next request on; their audit
records stay.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import Field

from perch import identity
from perch.api.auth import PrincipalDep
from perch.api.context import StateDep, StoreDep
from perch.api.convert import iso
from perch.api.filters import MAX_PAGE, MAX_PAGE_SIZE
from perch.api.shapes import ERRORS, ErrorShape, OmitUnsetRoute, Shape
from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import Store
from perch.engine.principal import Principal
from perch.errors import Forbidden
from perch.identity import Tenant, User

router = APIRouter(tags=["Users"], route_class=OmitUnsetRoute)

ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    403: {"model": ErrorShape, "description": "Only a superadmin may do this"},
}

Page = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Size = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]


class UserIn(Shape):
    username: str = Field(min_length=1, max_length=255)
    password: str = Field(min_length=1, max_length=1024, description="At least 8 characters")
    email: str | None = Field(default=None, max_length=255)
    displayName: str | None = Field(default=None, max_length=255)
    superAdmin: bool = False


class UserUpdate(Shape):
    username: str | None = Field(default=None, min_length=1, max_length=255)
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    email: str | None = Field(default=None, max_length=255, description='"" removes it')
    displayName: str | None = Field(default=None, max_length=255)
    superAdmin: bool | None = None
    disabled: bool | None = Field(default=None, description="A disabled user cannot sign in")


class UserShape(Shape):
    id: str
    username: str
    email: str | None = None
    displayName: str | None = None
    superAdmin: bool
    disabled: bool
    createdAt: str


class UserPageShape(Shape):
    results: list[UserShape]
    total: int


class TenantIn(Shape):
    id: str = Field(min_length=1, max_length=64, description="Lower-case letters, digits, - and _")
    name: str | None = Field(default=None, max_length=255)


class TenantShape(Shape):
    id: str
    name: str
    createdAt: str | None = None


def require_superadmin(store: Store, principal: Principal, what: str) -> None:
    """:class:`Forbidden` unless ``principal`` is an enabled superadmin."""
    if not identity.is_superadmin(store, principal):
        raise Forbidden(f"only a superadmin may {what}")


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "displayName": user.display_name,
        "superAdmin": user.superadmin,
        "disabled": user.disabled,
        "createdAt": iso(user.created),
    }


def _tenant_json(tenant: Tenant) -> dict[str, Any]:
    return {"id": tenant.id, "name": tenant.name, "createdAt": iso(tenant.created)}


@router.post("/users", response_model=UserShape, responses=ADMIN_ERRORS, summary="Create a user")
def create_user(body: UserIn, store: StoreDep, principal: PrincipalDep) -> dict[str, Any]:
    """A new user (409 when the username or e-mail is taken)."""
    require_superadmin(store, principal, "manage users")
    user = identity.create_user(
        store,
        body.username,
        body.password,
        email=body.email,
        display_name=body.displayName,
        superadmin=body.superAdmin,
        principal=principal,
    )
    return user_json(user)


@router.get(
    "/users/search", response_model=UserPageShape, responses=ADMIN_ERRORS, summary="Search users"
)
def search_users(
    store: StoreDep, principal: PrincipalDep, q: str | None = None, page: Page = 1, size: Size = 10
) -> dict[str, Any]:
    """Users whose username, e-mail or display name contains ``q``, by username."""
    require_superadmin(store, principal, "manage users")
    found, total = identity.search_users(store, q, page=page, size=size)
    return {"results": [user_json(u) for u in found], "total": total}


@router.get("/users", response_model=UserPageShape, responses=ADMIN_ERRORS, summary="List users")
def list_users(
    store: StoreDep, principal: PrincipalDep, page: Page = 1, size: Size = 10
) -> dict[str, Any]:
    """Every user, by username."""
    return search_users(store, principal, None, page, size)


@router.get("/users/{id}", response_model=UserShape, responses=ADMIN_ERRORS, summary="Get a user")
def get_user(id: str, store: StoreDep, principal: PrincipalDep) -> dict[str, Any]:
    require_superadmin(store, principal, "manage users")
    return user_json(identity.get_user(store, id))


@router.put(
    "/users/{id}", response_model=UserShape, responses=ADMIN_ERRORS, summary="Update a user"
)
def update_user(
    id: str, body: UserUpdate, state: StateDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Change what the body gives; ``disabled: true`` refuses the user's credentials from the
    next request on. The last enabled superadmin can be neither disabled nor demoted (422)."""
    require_superadmin(state.store, principal, "manage users")
    changes = identity.UserChanges(
        username=body.username,
        email=body.email,
        display_name=body.displayName,
        password=body.password,
        superadmin=body.superAdmin,
        disabled=body.disabled,
    )
    user = identity.update_user(state.store, id, changes, principal=principal)
    state.authenticator.forget()
    return user_json(user)


@router.delete(
    "/users/{id}",
    status_code=204,
    response_class=Response,
    responses=ADMIN_ERRORS,
    summary="Delete a user",
)
def delete_user(id: str, state: StateDep, principal: PrincipalDep) -> Response:
    """Delete the user and their group memberships; their audit records stay."""
    require_superadmin(state.store, principal, "manage users")
    identity.delete_user(state.store, id, principal=principal)
    state.authenticator.forget()
    return Response(status_code=204)


@router.post(
    "/tenants", response_model=TenantShape, responses=ADMIN_ERRORS, summary="Create a tenant"
)
def create_tenant(body: TenantIn, state: StateDep, principal: PrincipalDep) -> dict[str, Any]:
    """A new tenant. From then on, every ``/api/v1/{tenant}/…`` path must name an existing
    tenant (before, any tenant in a path means the default one)."""
    require_superadmin(state.store, principal, "manage tenants")
    tenant = identity.create_tenant(state.store, body.id, body.name, principal=principal)
    state.tenants.reload()
    return _tenant_json(tenant)


@router.get(
    "/tenants", response_model=list[TenantShape], responses=ADMIN_ERRORS, summary="List the tenants"
)
def list_tenants(store: StoreDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """The default tenant ``main``, then the created ones by id."""
    require_superadmin(store, principal, "manage tenants")
    default = {"id": DEFAULT_TENANT, "name": DEFAULT_TENANT, "createdAt": None}
    return [default, *(_tenant_json(t) for t in identity.list_tenants(store))]
