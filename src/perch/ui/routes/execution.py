"""``/ui/executions/{namespace}/{flowId}/{id}``: one execution — its state, inputs, task runs
on a timeline, logs, outputs and audit records — with the Resume form when it waits for the
person looking, and Pause, Kill, Restart and Replay as its state allows.

The URL is the one ``appLink()`` gives, so the link in a Slack message or an e-mail leads here
(through the login page when needed)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from perch.engine import resume_declarations, service
from perch.engine.access import readable, require_on
from perch.engine.assignment import assignees_of, may_decide, paused_run
from perch.engine.auditlog import AuditQuery, search_audit
from perch.engine.context import context_for, reading
from perch.engine.model import Execution
from perch.engine.ports import Store
from perch.engine.states import StateType
from perch.errors import (
    ExecutionNotFound,
    Forbidden,
    InputValidationError,
    NotAssigned,
    NotPaused,
    PerchError,
)
from perch.inputs import InputBase
from perch.permissions import Action, Resource
from perch.ui.forms import fields_of, values_of
from perch.ui.render import page
from perch.ui.session import FormViewerDep, Viewer, ViewerDep
from perch.ui.timeline import timeline

router = APIRouter()

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
_ACTIONS = ("pause", "kill", "restart", "replay")


def page_url(execution: Execution) -> str:
    return f"/ui/executions/{execution.namespace}/{execution.flow_id}/{execution.id}"


def _execution(store: Store, viewer: Viewer, namespace: str, flow_id: str, eid: str) -> Execution:
    """The execution shown at this URL, if the viewer may read it (else not found)."""
    try:
        execution = service.get_execution(store, eid)
    except ExecutionNotFound:
        execution = None
    if (
        execution is None
        or execution.tenant != viewer.tenant
        or (execution.namespace, execution.flow_id) != (namespace, flow_id)
        or not readable(viewer.principal, Resource.EXECUTION, execution.namespace)
    ):
        raise ExecutionNotFound(f"Execution '{eid}' not found")
    return execution


def _decision(
    store: Store, viewer: Viewer, execution: Execution
) -> tuple[list[InputBase], str | None, Any]:
    """What the Resume form asks, and why the viewer may not decide (None when they may)."""
    if execution.state.current is not StateType.PAUSED:
        return [], None, None
    ctx = context_for(store)
    with reading(store) as tx:
        flow = ctx.flow_for(tx, execution)
        run = paused_run(execution)
        declarations = resume_declarations(flow, execution, run.id if run else None)
        try:
            require_on(viewer.principal, execution, Action.UPDATE)
        except Forbidden as exc:
            return declarations, str(exc), run
        if not may_decide(tx, viewer.principal, execution, run):
            assignees = assignees_of(run) if run is not None else None
            who = ""
            if assignees is not None:
                names = [*assignees.users, *(f"group {g}" for g in assignees.groups)]
                who = f" Only {', '.join(names)} may decide."
            return declarations, f"Access denied to resume this execution.{who}", run
    return declarations, None, run


def _with_decision(
    store: Store, viewer: Viewer, namespace: str, flow_id: str, eid: str
) -> tuple[Execution, tuple[list[InputBase], str | None, Any]]:
    execution = _execution(store, viewer, namespace, flow_id, eid)
    return execution, _decision(store, viewer, execution)


def _view(
    store: Store,
    viewer: Viewer,
    namespace: str,
    flow_id: str,
    eid: str,
    *,
    level: str | None = None,
    sent: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    execution = _execution(store, viewer, namespace, flow_id, eid)
    declarations, refusal, run = _decision(store, viewer, execution)
    logs = service.logs(store, execution.id, min_level=level)
    # Kill and pause follow RBAC alone: an operator may stop an approval they cannot decide.
    may_update = _allowed(viewer, namespace, Action.UPDATE)
    audit: list[Any] = []
    if _allowed(viewer, namespace, Action.READ, Resource.AUDITLOG):
        audit = search_audit(
            store, AuditQuery(tenant=viewer.tenant, execution_id=execution.id, size=100)
        ).results
    state = execution.state.current
    return {
        "execution": execution,
        "state": state.value,
        "inputs": service.mask_secrets(dict(execution.inputs or {})),
        "outputs": [
            (r.task_id, r.value, service.mask_secrets(dict(r.outputs)))
            for r in execution.task_runs
            if r.outputs
        ],
        "flow_outputs": service.mask_secrets(execution.outputs) if execution.outputs else None,
        "timeline": timeline(execution, datetime.now(UTC)),
        "logs": logs,
        "levels": LEVELS,
        "level": level or "",
        "paused_run": run,
        "assignees": assignees_of(run) if run is not None else None,
        "fields": fields_of(declarations, sent, errors) if state is StateType.PAUSED else [],
        "refusal": refusal,
        "actions": _actions(state) if may_update else (),
        "audit": audit,
        "notice": notice,
        "url": page_url(execution),
    }


def _allowed(
    viewer: Viewer, namespace: str, action: Action, resource: Resource = Resource.EXECUTION
) -> bool:
    grants = viewer.principal.grants
    return grants is not None and grants.allows(resource, action, namespace)


def _actions(state: StateType) -> tuple[str, ...]:
    found = []
    if state is StateType.RUNNING:
        found.append("pause")
    if not state.is_terminated:
        found.append("kill")
    if state in (StateType.FAILED, StateType.KILLED, StateType.WARNING):
        found.append("restart")
    if state.is_terminated:
        found.append("replay")
    return tuple(found)


def _render(request: Request, status: int = 200, **view: Any) -> Response:
    return page(request, "execution.html", status_code=status, **view)


def _not_found(request: Request, viewer: Viewer, message: str) -> Response:
    return page(request, "error.html", status_code=404, viewer=viewer, message=message)


@router.get("/executions/{namespace}/{flow_id}/{execution_id}", response_class=HTMLResponse)
async def execution_page(  # noqa: PLR0917 - path parameters
    request: Request,
    namespace: str,
    flow_id: str,
    execution_id: str,
    viewer: ViewerDep,
    level: str | None = Query(None, pattern="^(TRACE|DEBUG|INFO|WARN|ERROR)?$"),
) -> Response:
    store = request.app.state.perch_ui.store
    try:
        view = await anyio.to_thread.run_sync(
            lambda: _view(store, viewer, namespace, flow_id, execution_id, level=level or None)
        )
    except ExecutionNotFound as exc:
        return _not_found(request, viewer, str(exc))
    return _render(request, viewer=viewer, **view)


@router.post("/executions/{namespace}/{flow_id}/{execution_id}/resume")
async def resume(
    request: Request, namespace: str, flow_id: str, execution_id: str, viewer: FormViewerDep
) -> Response:
    """Resume with the form's values; on a bad value, the page again with the error next to
    its field (and the execution still PAUSED)."""
    store = request.app.state.perch_ui.store
    form = await request.form()
    try:
        execution, (declarations, _, run) = await anyio.to_thread.run_sync(
            lambda: _with_decision(store, viewer, namespace, flow_id, execution_id)
        )
    except ExecutionNotFound as exc:
        return _not_found(request, viewer, str(exc))
    values, uploads = await values_of(declarations, form)

    def act() -> tuple[int, dict[str, Any]]:
        try:
            service.resume(
                store,
                execution.id,
                values,
                viewer.principal,
                task_run_id=run.id if run is not None else None,
                tenant=viewer.tenant,
                uploads=uploads,
            )
        except InputValidationError as exc:
            errors = {p.input_id: p.message for p in exc.problems}
            view = _view(
                store, viewer, namespace, flow_id, execution_id, sent=values, errors=errors
            )
            return 422, view
        except NotAssigned:
            notice = "Access denied to resume this execution"
            return 403, _view(store, viewer, namespace, flow_id, execution_id, notice=notice)
        except (NotPaused, Forbidden) as exc:
            view = _view(store, viewer, namespace, flow_id, execution_id, notice=str(exc))
            return 409 if isinstance(exc, NotPaused) else 403, view
        return 303, {}

    try:
        status, view = await anyio.to_thread.run_sync(act)
    except ExecutionNotFound as exc:
        return _not_found(request, viewer, str(exc))
    if status == 303:
        target = f"/ui/executions/{namespace}/{flow_id}/{execution_id}"
        return RedirectResponse(target, status_code=303)
    return _render(request, status, viewer=viewer, **view)


@router.post("/executions/{namespace}/{flow_id}/{execution_id}/{action}")
async def act(  # noqa: PLR0917 - path parameters
    request: Request,
    namespace: str,
    flow_id: str,
    execution_id: str,
    action: str,
    viewer: FormViewerDep,
) -> Response:
    """Pause, Kill, Restart or Replay (the page asked for a confirmation first)."""
    store = request.app.state.perch_ui.store
    if action not in _ACTIONS:
        return _not_found(request, viewer, f"No action '{action}'")

    def run() -> tuple[str, str | None]:
        execution = _execution(store, viewer, namespace, flow_id, execution_id)
        try:
            if action == "pause":
                service.pause(store, execution.id, viewer.principal)
            elif action == "kill":
                service.kill(store, execution.id, viewer.principal)
            elif action == "restart":
                service.restart(store, execution.id, viewer.principal)
            else:
                replayed = service.replay(store, execution.id, viewer.principal)
                return page_url(replayed), None
        except PerchError as exc:
            return page_url(execution), str(exc)
        return page_url(execution), None

    try:
        target, problem = await anyio.to_thread.run_sync(run)
    except ExecutionNotFound as exc:
        return _not_found(request, viewer, str(exc))
    if problem is not None:
        view = await anyio.to_thread.run_sync(
            lambda: _view(store, viewer, namespace, flow_id, execution_id, notice=problem)
        )
        return _render(request, 409, viewer=viewer, **view)
    return RedirectResponse(target, status_code=303)
