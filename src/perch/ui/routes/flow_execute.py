"""``/ui/flows/{namespace}/{flowId}/execute``: the Execute form, generated from the flow's
``inputs`` with the widgets of the Resume form (:mod:`perch.ui.forms`). The values go to the
service function the REST API's create calls, which validates them; a bad value comes back
next to its field, and a started execution leads to its page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from perch.engine import service
from perch.engine.ports import Store
from perch.errors import FlowNotFound, Forbidden, InputValidationError, PerchError
from perch.flows import Flow
from perch.permissions import Action, Resource
from perch.ui.forms import fields_of, values_of
from perch.ui.render import page
from perch.ui.routes.execution import page_url
from perch.ui.routes.flows import flow_url, may, not_found_page, readable_flow
from perch.ui.session import FormViewerDep, Viewer, ViewerDep

router = APIRouter()


def _flow(store: Store, viewer: Viewer, namespace: str, flow_id: str) -> Flow:
    _, flow = readable_flow(store, viewer, namespace, flow_id)
    if flow is None:
        raise FlowNotFound(f"Flow '{namespace}.{flow_id}' no longer validates: edit it first")
    return flow


def _render(
    request: Request,
    viewer: Viewer,
    flow: Flow,
    *,
    status: int = 200,
    sent: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    problem: str | None = None,
) -> Response:
    refusal = None
    if not may(viewer, Resource.EXECUTION, Action.CREATE, flow.namespace):
        refusal = f"You may not execute flows of {flow.namespace} (EXECUTION:CREATE)."
    elif flow.disabled:
        refusal = "This flow is disabled: it cannot be executed."
    return page(
        request,
        "flow_execute.html",
        status_code=status,
        viewer=viewer,
        section="flows",
        flow=flow,
        fields=fields_of(flow.inputs or [], sent, errors),
        refusal=refusal,
        problem=problem,
        url=flow_url(flow.namespace, flow.id),
    )


@router.get("/flows/{namespace}/{flow_id}/execute", response_class=HTMLResponse)
async def execute_form(
    request: Request, namespace: str, flow_id: str, viewer: ViewerDep
) -> Response:
    store = request.app.state.perch_ui.store
    try:
        flow = await anyio.to_thread.run_sync(_flow, store, viewer, namespace, flow_id)
    except FlowNotFound as exc:
        return not_found_page(request, viewer, str(exc))
    return _render(request, viewer, flow)


@router.post("/flows/{namespace}/{flow_id}/execute")
async def execute(
    request: Request, namespace: str, flow_id: str, viewer: FormViewerDep
) -> Response:
    """Start an execution with the form's values (files as FILE inputs)."""
    store = request.app.state.perch_ui.store
    form = await request.form()
    try:
        flow = await anyio.to_thread.run_sync(_flow, store, viewer, namespace, flow_id)
    except FlowNotFound as exc:
        return not_found_page(request, viewer, str(exc))
    values, uploads = await values_of(flow.inputs or [], form)

    def run() -> str | tuple[int, dict[str, str], str | None]:
        if not may(viewer, Resource.EXECUTION, Action.CREATE, namespace):
            return 403, {}, f"Access denied: EXECUTION:CREATE on {namespace} is missing"
        try:
            started = service.create_execution(
                store,
                viewer.tenant,
                namespace,
                flow_id,
                values,
                viewer.principal,
                uploads=uploads,
            )
        except InputValidationError as exc:
            errors = {p.input_id: p.message for p in exc.problems}
            declared = {d.id for d in flow.inputs or []}
            other = [f"{k}: {v}" for k, v in errors.items() if k not in declared]
            return 422, errors, "; ".join(other) or None
        except Forbidden as exc:
            return 403, {}, str(exc)
        except PerchError as exc:
            return 409, {}, str(exc)
        return page_url(started)

    outcome = await anyio.to_thread.run_sync(run)
    if isinstance(outcome, str):
        return RedirectResponse(outcome, status_code=303)
    status, errors, problem = outcome
    return _render(
        request, viewer, flow, status=status, sent=values, errors=errors, problem=problem
    )
