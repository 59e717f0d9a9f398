"""What every route can depend on: the store, the settings, the tenant of the request."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Path, Request

from perch.api.tenancy import TenantDirectory
from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import Store
from perch.engine.principal import Principal, PrincipalKind
from perch.errors import Forbidden

if TYPE_CHECKING:
    from perch.api.auth import Authenticator
    from perch.api.authorize import GrantsCache
    from perch.api.settings import ApiSettings

TENANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_TENANT = re.compile(TENANT_PATTERN)


@dataclass(frozen=True, slots=True)
class ApiState:
    """Held by the application (``app.state.perch``)."""

    store: Store
    settings: ApiSettings
    authenticator: Authenticator
    tenants: TenantDirectory
    grants: GrantsCache


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.perch
    return state


def store_of(request: Request) -> Store:
    return api_state(request).store


async def tenant_from_path(
    request: Request,
    tenant: Annotated[str, Path(pattern=TENANT_PATTERN, description="The tenant, e.g. `main`")],
) -> None:
    request.state.tenant = await api_state(request).tenants.resolve_async(tenant)


async def default_tenant(request: Request) -> None:
    request.state.tenant = DEFAULT_TENANT


async def tenant_access(request: Request) -> None:
    """403 for a service account outside its own tenant (it belongs to exactly one)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    tenant = tenant_of(request)
    if (
        principal is not None
        and principal.kind is PrincipalKind.SERVICE_ACCOUNT
        and principal.tenant not in (None, tenant)
    ):
        raise Forbidden(
            f"the service account '{principal.name}' belongs to tenant '{principal.tenant}',"
            f" not to '{tenant}'"
        )


def tenant_of(request: Request) -> str:
    """The tenant of this request: from the path, or ``main`` on the un-prefixed routes."""
    tenant: str = getattr(request.state, "tenant", DEFAULT_TENANT)
    return tenant


# The dependencies are coroutines on purpose: FastAPI runs a plain function dependency in a
# worker thread, a hand-off that costs far more than reading an attribute.


async def _store_dependency(request: Request) -> Store:
    return store_of(request)


async def _tenant_dependency(request: Request) -> str:
    return tenant_of(request)


async def _state_dependency(request: Request) -> ApiState:
    return api_state(request)


StoreDep = Annotated[Store, Depends(_store_dependency)]
TenantDep = Annotated[str, Depends(_tenant_dependency)]
StateDep = Annotated[ApiState, Depends(_state_dependency)]
