"""``/ui/dashboard``: the executions started over the last 7 days by state (a bar chart drawn on
the server, with the same counts as a table), how many approvals wait for the viewer, and the
median and 90th percentile of the time people took to decide over the last 7 days.

The counts are those of the executions the viewer may read (EXECUTION:READ), as the API's
search; the approvals those the inbox lists; the decision times are measured on the executions
the viewer may read, from the ``RESUME`` records of the audit trail and the task-run histories
(see :mod:`perch.engine.service.overview`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from perch.engine import service
from perch.engine.access import scope
from perch.engine.context import context_for
from perch.engine.service import overview
from perch.permissions import Action, Resource
from perch.ui.access import anywhere, denied_text
from perch.ui.chart import bar_chart
from perch.ui.render import page
from perch.ui.session import Viewer, ViewerDep

router = APIRouter()

DAYS = 7


def _view(store: Any, viewer: Viewer) -> dict[str, Any]:
    now = context_for(store).clock.now()
    readable = anywhere(viewer, Resource.EXECUTION, Action.READ)
    executions = None
    decisions = None
    if readable:
        seen = scope(viewer.principal, Resource.EXECUTION, Action.READ)
        executions = overview.executions_by_day(
            store, viewer.tenant, days=DAYS, scope=seen, now=now
        )
        decisions = overview.decision_times(
            store, viewer.tenant, since=now - timedelta(days=DAYS), scope=seen
        )
    _, waiting = service.approvals(store, viewer.tenant, viewer.principal, page=1, size=1)
    return {
        "executions": executions,
        "chart": bar_chart(executions) if executions is not None else None,
        "decisions": decisions,
        "waiting": waiting,
        "days": DAYS,
        "refused": denied_text(Resource.EXECUTION, Action.READ),
    }


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(request: Request, viewer: ViewerDep) -> Response:
    store = request.app.state.perch_ui.store
    view = await anyio.to_thread.run_sync(_view, store, viewer)
    return page(request, "dashboard.html", viewer=viewer, section="dashboard", **view)
