"""Refused requests in the audit trail: every 403 and 409 answered to a known principal.

Refusals that the services record themselves, with more to say (a HumanTask's
``RESUME_DENIED``), are not written twice. The record is written on its own, after the
refusal: the refused action wrote nothing.
"""

from __future__ import annotations

import logging

import anyio.to_thread
from fastapi import Request

from perch.engine.effects import Audit
from perch.engine.executor import context_for
from perch.engine.principal import Principal
from perch.errors import NotAssigned, PerchError

_log = logging.getLogger(__name__)

_ACTIONS = {403: ("ACCESS_DENIED", "DENIED"), 409: ("CONFLICT", "CONFLICT")}


async def record_refusal(request: Request, exc: PerchError, status: int) -> None:
    """An audit record of a 403 or 409 answered to the principal of ``request``."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if status not in _ACTIONS or principal is None or isinstance(exc, NotAssigned):
        return
    action, outcome = _ACTIONS[status]
    route = request.scope.get("route")
    execution_id = request.path_params.get("executionId")
    detail = {
        "method": request.method,
        "route": getattr(route, "path", request.url.path),
        "status": status,
        "message": exc.message[:500],
    }
    record = Audit(
        action,
        principal,
        detail,
        tenant=getattr(request.state, "tenant", None),
        namespace=request.path_params.get("namespace"),
        outcome=outcome,
    )
    store = request.app.state.perch.store

    def write() -> None:
        now = context_for(store).clock.now()
        with store.transaction() as tx:
            tx.add_audit(execution_id if isinstance(execution_id, str) else None, record, now)

    try:
        await anyio.to_thread.run_sync(write)
    except Exception:  # the answer stands; a store that cannot write says so in its own log
        _log.exception("could not record a refused request in the audit trail")
