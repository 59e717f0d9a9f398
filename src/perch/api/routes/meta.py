"""What answers without credentials: ``/health`` for load balancers, ``/api/v1/configs``, and
the one-time setup page (:mod:`perch.api.routes.setup`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from perch.api.context import StateDep
from perch.api.routes import setup

public_router = APIRouter(tags=["Meta"])
public_router.include_router(setup.router)


@public_router.get("/health", summary="Liveness for load balancers")
async def health() -> dict[str, str]:
    # A coroutine: it needs no worker thread, so a busy threadpool never delays it.
    return {"status": "UP"}


@public_router.get("/api/v1/configs", summary="Version and features of this server")
def configs(state: StateDep) -> dict[str, Any]:
    return {
        "version": state.settings.version,
        "isBasicAuthEnabled": True,
        "isSetupRequired": not state.authenticator.ready(),
        "edition": "OSS",
    }
