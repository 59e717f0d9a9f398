"""``/ui/approvals``: the inbox — the paused executions the signed-in user may resume."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from perch.durations import parse_duration
from perch.engine import find_task, resume_declarations, service
from perch.engine.context import context_for, reading
from perch.engine.model import Execution, TaskRun
from perch.engine.ports import Store
from perch.errors import InvalidDuration
from perch.flows import Flow
from perch.flows.tasks.pause import Pause
from perch.ui.forms import fields_of
from perch.ui.render import page
from perch.ui.session import Viewer, ViewerDep

router = APIRouter()

PAGE_SIZE = 25


def _expires(flow: Flow, run: TaskRun | None, since: datetime) -> datetime | None:
    """When the pause's ``pauseDuration`` ends (None without one, or when it is an expression,
    which only the engine renders)."""
    if run is None:
        return None
    task = find_task(flow, run.task_id)
    duration = task.effective_duration if isinstance(task, Pause) else None
    if duration is None or "{{" in duration:
        return None
    try:
        return since + parse_duration(duration)
    except InvalidDuration:
        return None


def _item(store: Store, approval: service.Approval) -> dict[str, Any]:
    execution: Execution = approval.execution
    run = approval.task_run
    since = (run.state if run is not None else execution.state).histories[-1].date
    ctx = context_for(store)
    with reading(store) as tx:
        flow = ctx.flow_for(tx, execution)
    declarations = resume_declarations(flow, execution, run.id if run is not None else None)
    started_by = next((lb.value for lb in execution.labels if lb.key == "system.username"), None)
    return {
        "execution": execution,
        "run": run,
        "since": since,
        "expires": _expires(flow, run, since),
        "fields": fields_of(declarations),
        "started_by": started_by,
        "assignees": approval.assignees,
        "link": f"/ui/executions/{execution.namespace}/{execution.flow_id}/{execution.id}",
    }


def _inbox(store: Store, viewer: Viewer, page_number: int) -> tuple[list[dict[str, Any]], int]:
    found, total = service.approvals(
        store, viewer.tenant, viewer.principal, page=page_number, size=PAGE_SIZE
    )
    return [_item(store, approval) for approval in found], total


@router.get("/approvals", response_class=HTMLResponse)
async def approvals(
    request: Request, viewer: ViewerDep, page_number: int = Query(1, alias="page", ge=1, le=10_000)
) -> Response:
    """Oldest first: each with its flow, what is asked, who started it and how long it has
    waited; the Resume form inline."""
    store = request.app.state.perch_ui.store
    items, total = await anyio.to_thread.run_sync(_inbox, store, viewer, page_number)
    return page(
        request,
        "approvals.html",
        viewer=viewer,
        items=items,
        total=total,
        page_number=page_number,
        pages=max(1, -(-total // PAGE_SIZE)),
        now=datetime.now(UTC),
    )
