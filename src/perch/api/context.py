"""What every route can depend on: the store, the settings, the tenant of the request."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Path, Request

from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import Store

if TYPE_CHECKING:
    from perch.api.app import ApiSettings
    from perch.api.auth import Authenticator

TENANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_TENANT = re.compile(TENANT_PATTERN)


@dataclass(frozen=True, slots=True)
class ApiState:
    """Held by the application (``app.state.perch``)."""

    store: Store
    settings: ApiSettings
    authenticator: Authenticator


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.perch
    return state


def store_of(request: Request) -> Store:
    return api_state(request).store


async def tenant_from_path(
    request: Request,
    tenant: Annotated[str, Path(pattern=TENANT_PATTERN, description="The tenant, e.g. `main`")],
) -> None:
    request.state.tenant = tenant


async def default_tenant(request: Request) -> None:
    request.state.tenant = DEFAULT_TENANT


def tenant_of(request: Request) -> str:
    """The tenant of this request: from the path, or ``main`` on the un-prefixed routes."""
    tenant: str = getattr(request.state, "tenant", DEFAULT_TENANT)
    return tenant


StoreDep = Annotated[Store, Depends(store_of)]
TenantDep = Annotated[str, Depends(tenant_of)]
StateDep = Annotated[ApiState, Depends(api_state)]
