"""The flow editor: ``/ui/flows/new`` and ``/ui/flows/{namespace}/{flowId}/edit``.

The page is a form with the YAML in a textarea; Save creates or updates the flow through the
service functions the REST API calls (FLOW:CREATE or FLOW:UPDATE checked there), and the
problems of a refused source come back under the editor, each with its line. With scripts on,
the source is highlighted and checked as it is typed: ``POST /ui/flows/validate`` answers the
problems the same validator finds, without saving anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from perch.engine.ports import Store
from perch.engine.service import flows as flow_service
from perch.errors import FlowNotFound, FlowValidationError, Forbidden, PerchError, Problem
from perch.flows import check_flow
from perch.flows.yamlsource import load_yaml
from perch.permissions import Action, Resource
from perch.ui.render import page
from perch.ui.routes.flows import flow_url, may, not_found_page, readable_flow
from perch.ui.session import FormViewerDep, Viewer, ViewerDep

router = APIRouter()

MAX_SOURCE = 500_000
"""The longest source accepted (the flow parser's own limit)."""
MAX_NAME = 200

STARTER = """\
id: {flow_id}
namespace: {namespace}
description: What this flow does

inputs:
  - id: name
    type: STRING
    defaults: world

tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{{{ inputs.name }}}}"
"""


@dataclass(frozen=True, slots=True)
class Shown:
    """A problem as the editor lists it."""

    line: int | None
    column: int | None
    path: str
    message: str

    def as_json(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
        }


def _shown(problems: list[Problem]) -> list[Shown]:
    ordered = sorted(problems, key=lambda p: (p.line is None, p.line or 0, p.column or 0))
    return [Shown(p.line, p.column, p.path, p.message) for p in ordered]


def _at_key(source: str, key: str, message: str) -> Problem:
    position = load_yaml(source).keys.get((key,))
    return Problem(
        key, message, position.line if position else None, position.column if position else None
    )


def problems_of(
    store: Store, viewer: Viewer, source: str, editing: tuple[str, str] | None
) -> list[Problem]:
    """What Save would refuse: the validator's problems, then (for a valid flow) an id or
    namespace other than the edited flow's, or a new flow whose id is taken."""
    if len(source) > MAX_SOURCE:
        return [Problem("", f"The flow is longer than {MAX_SOURCE} characters")]
    result = check_flow(source)
    if result.flow is None:
        return result.problems
    flow = result.flow
    if editing is not None:
        namespace, flow_id = editing
        return [
            _at_key(source, key, f"The {what} must stay '{expected}' (it is '{got}')")
            for key, what, expected, got in (
                ("id", "flow id", flow_id, flow.id),
                ("namespace", "namespace", namespace, flow.namespace),
            )
            if expected != got
        ]
    if may(viewer, Resource.FLOW, Action.READ, flow.namespace):
        try:
            flow_service.read_flow(store, flow.namespace, flow.id, tenant=viewer.tenant)
        except FlowNotFound:
            return []
        return [_at_key(source, "id", f"Flow '{flow.namespace}.{flow.id}' already exists")]
    return []


def _editor(
    request: Request,
    viewer: Viewer,
    *,
    source: str,
    editing: tuple[str, str] | None,
    problems: list[Problem] | None = None,
    status: int = 200,
    revision: int | None = None,
    notice: str | None = None,
) -> Response:
    action = "/ui/flows/new" if editing is None else f"{flow_url(*editing)}/edit"
    return page(
        request,
        "flow_edit.html",
        status_code=status,
        viewer=viewer,
        section="flows",
        source=source,
        editing=editing,
        action=action,
        revision=revision,
        problems=_shown(problems or []),
        notice=notice,
    )


_Name = Annotated[str, Query(max_length=MAX_NAME)]
_NAMESPACE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")


@router.get("/flows/new", response_class=HTMLResponse)
async def new_flow(
    request: Request, viewer: ViewerDep, namespace: _Name = "company.team"
) -> Response:
    namespace = namespace.strip()
    if not _NAMESPACE.match(namespace):
        namespace = "company.team"
    starter = STARTER.format(flow_id="new_flow", namespace=namespace)
    return _editor(request, viewer, source=starter, editing=None)


@router.post("/flows/validate")
async def validate(
    request: Request,
    viewer: FormViewerDep,
    source: Annotated[str, Form()] = "",
    namespace: Annotated[str, Form(max_length=MAX_NAME)] = "",
    flow_id: Annotated[str, Form(max_length=MAX_NAME)] = "",
) -> JSONResponse:
    """The problems of ``source`` with their lines (``namespace`` and ``flow_id`` name the
    flow being edited, empty for a new one); nothing is saved."""
    store = request.app.state.perch_ui.store
    editing = (namespace, flow_id) if namespace and flow_id else None
    found = await anyio.to_thread.run_sync(problems_of, store, viewer, source, editing)
    shown = _shown(found)
    return JSONResponse(
        {"valid": not shown, "problems": [p.as_json() for p in shown]},
        headers={"Cache-Control": "no-store"},
    )


@router.post("/flows/new")
async def create(
    request: Request, viewer: FormViewerDep, source: Annotated[str, Form()] = ""
) -> Response:
    """Save a new flow: its page on success, else the editor again with the problems."""
    store = request.app.state.perch_ui.store

    def run() -> tuple[int, str | list[Problem]]:
        if len(source) > MAX_SOURCE:
            return 422, problems_of(store, viewer, source, None)
        try:
            stored, flow = flow_service.create_flow(
                store, source, viewer.principal, tenant=viewer.tenant
            )
        except FlowValidationError as exc:
            return 422, exc.problems
        except Forbidden as exc:
            return 403, [Problem("", str(exc))]
        except PerchError as exc:
            return 409, [Problem("", str(exc))]
        return 303, f"{flow_url(flow.namespace, flow.id)}?saved={stored.revision}"

    status, outcome = await anyio.to_thread.run_sync(run)
    if isinstance(outcome, str):
        return RedirectResponse(outcome, status_code=303)
    return _editor(request, viewer, source=source, editing=None, problems=outcome, status=status)


@router.get("/flows/{namespace}/{flow_id}/edit", response_class=HTMLResponse)
async def edit_flow(request: Request, namespace: str, flow_id: str, viewer: ViewerDep) -> Response:
    store = request.app.state.perch_ui.store
    try:
        stored, _ = await anyio.to_thread.run_sync(readable_flow, store, viewer, namespace, flow_id)
    except FlowNotFound as exc:
        return not_found_page(request, viewer, str(exc))
    notice = None
    if not may(viewer, Resource.FLOW, Action.UPDATE, namespace):
        notice = "You may read this flow but not change it: Save will be refused."
    return _editor(
        request,
        viewer,
        source=stored.source,
        editing=(namespace, flow_id),
        revision=stored.revision,
        notice=notice,
    )


@router.post("/flows/{namespace}/{flow_id}/edit")
async def update(
    request: Request,
    namespace: str,
    flow_id: str,
    viewer: FormViewerDep,
    source: Annotated[str, Form()] = "",
) -> Response:
    """Save the source as the flow's next revision (the same one when nothing changed)."""
    store = request.app.state.perch_ui.store
    editing = (namespace, flow_id)

    def run() -> tuple[int, str | list[Problem]]:
        readable_flow(store, viewer, namespace, flow_id)
        if len(source) > MAX_SOURCE:
            return 422, problems_of(store, viewer, source, editing)
        try:
            stored, _ = flow_service.update_flow(
                store, namespace, flow_id, source, viewer.principal, tenant=viewer.tenant
            )
        except FlowValidationError as exc:
            return 422, exc.problems
        except FlowNotFound:
            raise
        except Forbidden as exc:
            return 403, [Problem("", str(exc))]
        except PerchError as exc:
            return 409, [Problem("", str(exc))]
        return 303, f"{flow_url(namespace, flow_id)}?saved={stored.revision}"

    try:
        status, outcome = await anyio.to_thread.run_sync(run)
    except FlowNotFound as exc:
        return not_found_page(request, viewer, str(exc))
    if isinstance(outcome, str):
        return RedirectResponse(outcome, status_code=303)
    return _editor(request, viewer, source=source, editing=editing, problems=outcome, status=status)
