"""What answers without credentials: ``/health`` (liveness) and ``/ready`` (readiness) for load
balancers, ``/metrics`` for Prometheus (counts and timings, no names or values),
``/api/v1/configs``, and the one-time setup page (:mod:`perch.api.routes.setup`)."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from perch.api.context import StateDep
from perch.api.routes import setup
from perch.api.shapes import OmitUnsetRoute
from perch.engine.context import reading
from perch.engine.ports import Store
from perch.metrics import CONTENT_TYPE, exposition

public_router = APIRouter(tags=["Meta"], route_class=OmitUnsetRoute)
public_router.include_router(setup.router)


@public_router.get("/health", summary="Liveness for load balancers")
async def health() -> dict[str, str]:
    # A coroutine: it needs no worker thread, so a busy threadpool never delays it.
    return {"status": "UP"}


def readiness_of(store: Store) -> str | None:
    """Why ``store``'s process should take no traffic (None: ready)."""
    check = getattr(store, "readiness", None)
    return check() if check is not None else None


def counts_of(store: Store) -> dict[str, dict[str, int]]:
    with reading(store) as tx:
        return tx.deployment_counts()


@public_router.get(
    "/ready",
    summary="Readiness: the database answers and its schema is current",
    responses={503: {"description": "Not ready: `reason` says why"}},
)
async def ready(state: StateDep) -> Response:
    problem = await anyio.to_thread.run_sync(readiness_of, state.store)
    if problem is not None:
        return JSONResponse({"status": "DOWN", "reason": problem}, status_code=503)
    return JSONResponse({"status": "UP"})


@public_router.get(
    "/metrics",
    summary="Prometheus metrics of this process and the database",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(state: StateDep) -> Response:
    store = state.store
    body = await anyio.to_thread.run_sync(exposition, lambda: counts_of(store))
    return Response(body, media_type=CONTENT_TYPE)


@public_router.get("/api/v1/configs", summary="Version and features of this server")
def configs(state: StateDep) -> dict[str, Any]:
    return {
        "version": state.settings.version,
        "isBasicAuthEnabled": True,
        "isSetupRequired": not state.authenticator.ready(),
        "edition": "OSS",
    }
