"""Building the ASGI application: routers mounted with and without the tenant prefix, the error
table, the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi import routing as fastapi_routing
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from perch.api import errors
from perch.api.auth import Authenticator, authenticated
from perch.api.authorize import GrantsCache, authorize
from perch.api.bodies import BoundedBodies, StrictJsonBodies
from perch.api.context import ApiState, default_tenant, tenant_access, tenant_from_path
from perch.api.docs import install_docs
from perch.api.headers import HtmlHeaders
from perch.api.origin import AuditOrigins
from perch.api.routeguard import guard_routers
from perch.api.settings import ApiSettings
from perch.api.shapes import ErrorShape
from perch.api.tenancy import TenantDirectory
from perch.api.timing import TimedRequests
from perch.engine.ports import Store
from perch.engine.principal import Principal

API_PREFIX = "/api/v1"
OPENAPI_PATH = f"{API_PREFIX}/openapi.json"

__all__ = ["API_PREFIX", "OPENAPI_PATH", "ApiSettings", "create_app", "prepare_routes"]


def _unique_id(route: APIRoute) -> str:
    # Every route is mounted twice (with and without the tenant); OpenAPI needs distinct ids.
    # Two modules may name their endpoints alike (flows.search, executions.search).
    scope = "tenant" if "{tenant}" in route.path_format else "default"
    concept = route.endpoint.__module__.rpartition(".")[2]
    return f"{concept}_{route.name}_{scope}"


def create_app(store: Store, settings: ApiSettings | None = None) -> FastAPI:
    """The REST API over ``store`` (which also holds users and API tokens)."""
    from perch.api.routes import INSTANCE_ROUTERS, ROUTERS, public_router, webhooks

    settings = settings or ApiSettings()
    app = FastAPI(
        title="Perch",
        version=settings.version,
        summary="Workflows that pause for people: Kestra-compatible REST API.",
        # Served by an authenticated route below: nothing but health, configs and setup is
        # public, and the browser sends the docs page's credentials on to the document.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=_unique_id,
    )
    app.state.perch = ApiState(
        store=store,
        settings=settings,
        authenticator=Authenticator(store, settings),
        tenants=TenantDirectory(store),
        grants=GrantsCache(store),
    )
    errors.install(app)
    app.add_middleware(HtmlHeaders)
    app.add_middleware(TimedRequests)
    app.add_middleware(AuditOrigins)
    app.add_middleware(StrictJsonBodies)
    # Added last, so it runs first: nothing reads a body before its size is bounded.
    app.add_middleware(
        BoundedBodies, authenticator=app.state.perch.authenticator, limit=settings.max_body_size
    )
    install_docs(app, OPENAPI_PATH)
    _serve_openapi(app)
    app.include_router(public_router)
    # Webhook triggers carry no credentials (the key is the secret): before the other routes.
    app.include_router(webhooks.router, prefix=API_PREFIX, dependencies=[Depends(default_tenant)])
    app.include_router(
        webhooks.router,
        prefix=f"{API_PREFIX}/{{tenant}}",
        dependencies=[Depends(tenant_from_path)],
    )
    # Default-tenant routes first: `/api/v1/flows/...` must never be read as tenant "flows".
    for router in INSTANCE_ROUTERS:
        _mount(app, router, API_PREFIX, default_tenant)
    for router in ROUTERS:
        _mount(app, router, API_PREFIX, default_tenant)
    for router in ROUTERS:
        _mount(app, router, f"{API_PREFIX}/{{tenant}}", tenant_from_path)
    guard_routers(app)
    return app


def prepare_routes(app: FastAPI) -> int:
    """Build now what FastAPI builds on the first request to each mounted router (every
    route's dependencies and pydantic schemas, a quarter of a second for all of Perch's):
    otherwise the first requests after a start do that work on the event loop, and every
    other request, ``/health`` included, waits for it. The number of routers prepared."""
    if getattr(app, "middleware_stack", None) is None:
        app.middleware_stack = app.build_middleware_stack()
    return _prepare(app.router.routes)


def _prepare(routes: Any) -> int:
    prepared = 0
    for route in routes:
        _note_endpoint(route)
        # FastAPI's included routers (0.12x and later) build their routes lazily.
        candidates = getattr(route, "effective_candidates", None)
        if callable(candidates):
            low_priority = getattr(route, "effective_low_priority_routes", None)
            if callable(low_priority):
                low_priority()
            prepared += 1 + _prepare(candidates())
    return prepared


def _note_endpoint(route: Any) -> None:
    # FastAPI reads each endpoint's source (file, line) for its error messages on the
    # endpoint's first request, tokenizing the function: milliseconds on the event loop.
    # Its cache is private; without it, the first requests simply pay as before.
    remember = getattr(fastapi_routing, "_extract_endpoint_context", None)
    call = getattr(getattr(route, "dependant", None), "call", None)
    if callable(remember) and call is not None:
        remember(call)


def _openapi(request: Request, _: Annotated[Principal, Depends(authenticated)]) -> JSONResponse:
    # Module level on purpose: FastAPI caches facts about endpoint functions in module-level
    # caches, and a function made per app (a closure over it) would keep every app alive.
    app: FastAPI = request.app
    return JSONResponse(app.openapi())


def _serve_openapi(app: FastAPI) -> None:
    app.add_api_route(OPENAPI_PATH, _openapi, methods=["GET"], include_in_schema=False)


def _mount(app: FastAPI, router: APIRouter, prefix: str, tenant: Any) -> None:
    responses: dict[int | str, dict[str, Any]] = {
        403: {"model": ErrorShape, "description": "A service account outside its tenant"}
    }
    if "{tenant}" in prefix:
        responses[404] = {"model": ErrorShape, "description": "No such tenant (or resource)"}
    app.include_router(
        router,
        prefix=prefix,
        # Credentials first: nobody learns which tenants exist without them.
        dependencies=[
            Depends(authenticated),
            Depends(tenant),
            Depends(tenant_access),
            Depends(authorize),
        ],
        responses=responses,
    )
