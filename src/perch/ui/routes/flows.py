"""``/ui/flows``: the flows the viewer may read, searched by namespace and text; one flow's page
(description, labels, inputs, its tasks drawn as a graph, recent executions, triggers and
revisions); the diff between two revisions and the roll back to one.

Every page reads through the same service functions as the REST API; a flow in a namespace the
viewer may not read is "not found", exactly like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from perch.engine import service
from perch.engine.access import allowed, readable, scope
from perch.engine.ports import DEFAULT_COUNT_LIMIT, ExecutionQuery, Store, StoredFlow
from perch.engine.service import flows as flow_service
from perch.engine.service.flowsearch import (
    FlowFilter,
    FlowSearch,
    distinct_namespaces,
    search_flows,
)
from perch.engine.service.triggers import search_triggers
from perch.errors import FlowNotFound, FlowValidationError, Forbidden, PerchError
from perch.flows import Flow
from perch.permissions import Action, Resource
from perch.ui.linediff import line_diff
from perch.ui.render import page
from perch.ui.session import FormViewerDep, Viewer, ViewerDep
from perch.ui.topology import layout

router = APIRouter()

PAGE_SIZE = 50
MAX_FIELD = 200
RECENT = 10


def flow_url(namespace: str, flow_id: str) -> str:
    return f"/ui/flows/{namespace}/{flow_id}"


def not_found(namespace: str, flow_id: str) -> FlowNotFound:
    return FlowNotFound(f"Flow '{namespace}.{flow_id}' not found")


def readable_flow(
    store: Store, viewer: Viewer, namespace: str, flow_id: str, revision: int | None = None
) -> tuple[StoredFlow, Flow | None]:
    """A revision of the flow (the latest by default), when the viewer may read its namespace;
    :class:`FlowNotFound` otherwise, as for a flow that does not exist."""
    if not readable(viewer.principal, Resource.FLOW, namespace):
        raise not_found(namespace, flow_id)
    return flow_service.read_flow(
        store, namespace, flow_id, tenant=viewer.tenant, revision=revision
    )


def may(viewer: Viewer, resource: Resource, action: Action, namespace: str) -> bool:
    return allowed(viewer.principal, resource, action, namespace)


def not_found_page(request: Request, viewer: Viewer, message: str) -> Response:
    return page(request, "error.html", status_code=404, viewer=viewer, message=message)


# --- the list ---------------------------------------------------------------------------------


def _listing(store: Store, viewer: Viewer, namespace: str, q: str, number: int) -> dict[str, Any]:
    filters = []
    if namespace:
        filters.append(FlowFilter("namespace", "PREFIX", namespace))
    if q:
        filters.append(FlowFilter("q", "EQUALS", q))
    readable_scope = scope(viewer.principal, Resource.FLOW, Action.READ)
    search = FlowSearch(
        tenant=viewer.tenant,
        filters=tuple(filters),
        page=number,
        size=PAGE_SIZE,
        namespace_scope=readable_scope,
    )
    found, total = search_flows(store, search)
    namespaces = distinct_namespaces(store, tenant=viewer.tenant, scope=readable_scope)
    return {
        "rows": found,
        "total": total,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "namespaces": namespaces,
    }


_Text = Annotated[str, Query(max_length=MAX_FIELD)]


@router.get("/flows", response_class=HTMLResponse)
async def flows(
    request: Request,
    viewer: ViewerDep,
    namespace: _Text = "",
    q: _Text = "",
    page_number: int = Query(1, alias="page", ge=1, le=100_000),
) -> Response:
    store = request.app.state.perch_ui.store
    namespace, q = namespace.strip(), q.strip()
    view = await anyio.to_thread.run_sync(_listing, store, viewer, namespace, q, page_number)
    return page(
        request,
        "flows.html",
        viewer=viewer,
        section="flows",
        namespace=namespace,
        q=q,
        page_number=page_number,
        **view,
    )


# --- one flow ---------------------------------------------------------------------------------


def _flow_view(store: Store, viewer: Viewer, namespace: str, flow_id: str) -> dict[str, Any]:
    stored, flow = readable_flow(store, viewer, namespace, flow_id)
    executions = service.search_executions(
        store,
        ExecutionQuery(
            tenant=viewer.tenant,
            namespace=namespace,
            flow_id=flow_id,
            size=RECENT,
            namespace_scope=scope(viewer.principal, Resource.EXECUTION, Action.READ),
            count_limit=DEFAULT_COUNT_LIMIT,
        ),
    )
    triggers = [
        t
        for t in search_triggers(store, viewer.principal, viewer.tenant, namespace, flow_id)
        if t.row.namespace == namespace
    ]
    revisions = flow_service.flow_revisions(store, namespace, flow_id, tenant=viewer.tenant)
    return {
        "stored": stored,
        "flow": flow,
        "graph": layout(flow) if flow is not None else None,
        "executions": executions.results,
        "executions_total": executions.total,
        "executions_estimated": executions.estimated,
        "triggers": triggers,
        "revisions": [r for r, _ in reversed(revisions)],
        "may_edit": may(viewer, Resource.FLOW, Action.UPDATE, namespace),
        "may_execute": may(viewer, Resource.EXECUTION, Action.CREATE, namespace),
        "url": flow_url(namespace, flow_id),
    }


@router.get("/flows/{namespace}/{flow_id}", response_class=HTMLResponse)
async def flow_page(  # noqa: PLR0917 - path and query parameters
    request: Request,
    namespace: str,
    flow_id: str,
    viewer: ViewerDep,
    saved: int | None = Query(None, ge=1, le=2**31 - 1),
    restored: int | None = Query(None, ge=1, le=2**31 - 1),
) -> Response:
    store = request.app.state.perch_ui.store
    try:
        view = await anyio.to_thread.run_sync(_flow_view, store, viewer, namespace, flow_id)
    except FlowNotFound as exc:
        return not_found_page(request, viewer, str(exc))
    notice = None
    if restored is not None:
        notice = f"Revision {restored} restored as revision {view['stored'].revision}."
    elif saved is not None:
        notice = f"Saved as revision {saved}."
    return page(request, "flow.html", viewer=viewer, section="flows", notice=notice, **view)


# --- revisions: diff and roll back ------------------------------------------------------------


def _revisions_view(
    store: Store,
    viewer: Viewer,
    namespace: str,
    flow_id: str,
    *,
    left: int | None,
    right: int | None,
) -> dict[str, Any]:
    if not readable(viewer.principal, Resource.FLOW, namespace):
        raise not_found(namespace, flow_id)
    revisions = [
        r for r, _ in flow_service.flow_revisions(store, namespace, flow_id, tenant=viewer.tenant)
    ]
    by_number = {r.revision: r for r in revisions}
    latest = revisions[-1]
    right_rev = by_number.get(right) if right is not None else latest
    if right_rev is None:
        raise FlowNotFound(f"Flow '{namespace}.{flow_id}' revision {right} not found")
    if left is None:
        earlier = [r for r in revisions if r.revision < right_rev.revision]
        left_rev = earlier[-1] if earlier else right_rev
    else:
        found = by_number.get(left)
        if found is None:
            raise FlowNotFound(f"Flow '{namespace}.{flow_id}' revision {left} not found")
        left_rev = found
    try:
        current: int | None = flow_service.read_flow(
            store, namespace, flow_id, tenant=viewer.tenant
        )[0].revision
    except FlowNotFound:
        current = None  # deleted: any revision can bring it back
    return {
        "revisions": list(reversed(revisions)),
        "left": left_rev,
        "right": right_rev,
        "diff": line_diff(left_rev.source, right_rev.source),
        "current": current,
        "may_edit": may(viewer, Resource.FLOW, Action.UPDATE, namespace),
        "namespace": namespace,
        "flow_id": flow_id,
        "url": flow_url(namespace, flow_id),
    }


_Revision = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


@router.get("/flows/{namespace}/{flow_id}/revisions", response_class=HTMLResponse)
async def revisions_page(  # noqa: PLR0917 - path and query parameters
    request: Request,
    namespace: str,
    flow_id: str,
    viewer: ViewerDep,
    left: _Revision = None,
    right: _Revision = None,
) -> Response:
    """Two revisions side by side as a line diff (the latest and the one before by default),
    and every revision with a link to roll back to it."""
    store = request.app.state.perch_ui.store
    try:
        view = await anyio.to_thread.run_sync(
            lambda: _revisions_view(store, viewer, namespace, flow_id, left=left, right=right)
        )
    except FlowNotFound as exc:
        return not_found_page(request, viewer, str(exc))
    return page(request, "flow_revisions.html", viewer=viewer, section="flows", **view)


@router.get(
    "/flows/{namespace}/{flow_id}/revisions/{revision}/restore", response_class=HTMLResponse
)
async def restore_page(
    request: Request, namespace: str, flow_id: str, revision: int, viewer: ViewerDep
) -> Response:
    """The confirmation of a roll back: what would change, and the Roll back button."""
    store = request.app.state.perch_ui.store

    def view() -> dict[str, Any]:
        found = _revisions_view(store, viewer, namespace, flow_id, left=None, right=revision)
        if found["current"] is not None:
            found = _revisions_view(
                store, viewer, namespace, flow_id, left=found["current"], right=revision
            )
        return found

    try:
        shown = await anyio.to_thread.run_sync(view)
    except FlowNotFound as exc:
        return not_found_page(request, viewer, str(exc))
    return page(request, "flow_restore.html", viewer=viewer, section="flows", problem=None, **shown)


@router.post("/flows/{namespace}/{flow_id}/revisions/{revision}/restore")
async def restore(
    request: Request, namespace: str, flow_id: str, revision: int, viewer: FormViewerDep
) -> Response:
    """Save the revision's source as the newest revision, then the flow's page."""
    store = request.app.state.perch_ui.store

    def run() -> tuple[int, str | None]:
        if not readable(viewer.principal, Resource.FLOW, namespace):
            raise not_found(namespace, flow_id)
        try:
            flow_service.restore_revision(
                store, namespace, flow_id, revision, viewer.principal, tenant=viewer.tenant
            )
        except FlowNotFound:
            raise
        except FlowValidationError as exc:
            lines = "; ".join(str(p) for p in exc.problems)
            return 422, f"Revision {revision} no longer validates: {lines}"
        except Forbidden as exc:
            return 403, str(exc)
        except PerchError as exc:
            return 409, str(exc)
        return 303, None

    try:
        status, problem = await anyio.to_thread.run_sync(run)
    except FlowNotFound as exc:
        return not_found_page(request, viewer, str(exc))
    if problem is not None:
        shown = await anyio.to_thread.run_sync(
            lambda: _revisions_view(store, viewer, namespace, flow_id, left=None, right=revision)
        )
        return page(
            request,
            "flow_restore.html",
            status_code=status,
            viewer=viewer,
            section="flows",
            problem=problem,
            **shown,
        )
    target = f"{flow_url(namespace, flow_id)}?restored={revision}"
    return RedirectResponse(target, status_code=303)
