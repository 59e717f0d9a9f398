"""``/ui/executions``: every execution the user may read, filtered, paged and sorted, with bulk
Resume, Pause, Kill and Restart on the rows picked or on all that match the filter.

A bulk action reports each row it did not change, by id and why (not paused, not running, not
theirs to decide), beside the count of those it changed: nothing is silently skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from perch.engine import service
from perch.engine.access import scope
from perch.engine.ports import DEFAULT_COUNT_LIMIT, ExecutionQuery, Store
from perch.engine.states import StateType
from perch.errors import PerchError
from perch.permissions import Action, Resource
from perch.ui.render import page
from perch.ui.session import FormViewerDep, Viewer, ViewerDep

router = APIRouter()

SIZES = (25, 50, 100)
STATES = tuple(s.value for s in StateType)
SORTS = {
    "newest": ("start_date", True),
    "oldest": ("start_date", False),
    "ended": ("end_date", True),
}
MAX_FIELD = 200


@dataclass(frozen=True, slots=True)
class Filters:
    """What the filter form says; the same fields travel with a bulk action on all matches."""

    states: tuple[str, ...] = ()
    namespace: str = ""
    flow: str = ""
    label: str = ""
    start: str = ""
    end: str = ""
    q: str = ""
    sort: str = "newest"
    size: int = 25

    def query(self, viewer: Viewer, page_number: int = 1) -> ExecutionQuery:
        sort_field, descending = SORTS.get(self.sort, SORTS["newest"])
        labels: tuple[tuple[str, str], ...] = ()
        if ":" in self.label:
            key, _, value = self.label.partition(":")
            labels = ((key.strip(), value.strip()),)
        return ExecutionQuery(
            tenant=viewer.tenant,
            states=tuple(StateType(s) for s in self.states if s in STATES),
            namespace_prefix=self.namespace or None,
            flow_id=self.flow or None,
            labels=labels,
            start_after=_day(self.start),
            start_before=_day(self.end, end=True),
            text=self.q or None,
            page=page_number,
            size=self.size if self.size in SIZES else 25,
            sort_field=sort_field,
            sort_desc=descending,
            namespace_scope=scope(viewer.principal, Resource.EXECUTION, Action.READ),
            count_limit=DEFAULT_COUNT_LIMIT,
        )

    def encoded(self, **changes: Any) -> str:
        """The query string of these filters (with ``changes``), for links that keep them."""
        data: list[tuple[str, Any]] = [("state", s) for s in self.states]
        for key in ("namespace", "flow", "label", "start", "end", "q", "sort", "size"):
            data.append((key, changes.get(key, getattr(self, key))))
        data.extend((k, v) for k, v in changes.items() if k == "page")
        return urlencode([(k, v) for k, v in data if v not in ("", None)])


def _day(text: str, *, end: bool = False) -> datetime | None:
    try:
        day = datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None
    except ValueError:
        return None
    if day is not None and end and len(text) <= 10:
        day = day.replace(hour=23, minute=59, second=59)
    return day


def _rows(store: Store, viewer: Viewer, filters: Filters, page_number: int) -> dict[str, Any]:
    found = service.search_executions(store, filters.query(viewer, page_number))
    size = filters.size if filters.size in SIZES else 25
    return {
        "rows": found.results,
        "total": f"about {found.total:,}" if found.estimated else found.total,
        "pages": max(1, -(-found.total // size)),
    }


def _filters(  # noqa: PLR0917 - the form's fields
    state: list[str] | None,
    namespace: str,
    flow: str,
    label: str,
    start: str,
    end: str,
    q: str,
    sort: str,
    size: int,
) -> Filters:
    return Filters(
        states=tuple(s for s in (state or []) if s in STATES),
        namespace=namespace.strip(),
        flow=flow.strip(),
        label=label.strip(),
        start=start.strip(),
        end=end.strip(),
        q=q.strip(),
        sort=sort if sort in SORTS else "newest",
        size=size if size in SIZES else 25,
    )


_Text = Annotated[str, Query(max_length=MAX_FIELD)]


@router.get("/executions", response_class=HTMLResponse)
async def executions(  # noqa: PLR0917 - the filter's fields
    request: Request,
    viewer: ViewerDep,
    state: Annotated[list[str] | None, Query(max_length=len(STATES))] = None,
    namespace: _Text = "",
    flow: _Text = "",
    label: _Text = "",
    start: _Text = "",
    end: _Text = "",
    q: _Text = "",
    sort: _Text = "newest",
    size: int = Query(25, ge=1, le=100),
    page_number: int = Query(1, alias="page", ge=1, le=100_000),
) -> Response:
    filters = _filters(state, namespace, flow, label, start, end, q, sort, size)
    store = request.app.state.perch_ui.store
    view = await anyio.to_thread.run_sync(_rows, store, viewer, filters, page_number)
    return page(
        request,
        "executions.html",
        viewer=viewer,
        section="executions",
        filters=filters,
        states=STATES,
        sorts=tuple(SORTS),
        sizes=SIZES,
        page_number=page_number,
        report=None,
        **view,
    )


_BULK: dict[str, Callable[..., service.BulkResult]] = {
    "resume": service.resume_by_ids,
    "pause": service.pause_by_ids,
    "kill": service.kill_by_ids,
    "restart": service.restart_by_ids,
}


def _failed(message: str) -> dict[str, Any]:
    return {"error": message, "action": None, "done": 0, "skipped": []}


@router.post("/executions/bulk", response_class=HTMLResponse)
async def bulk(  # noqa: PLR0917 - the form's fields
    request: Request,
    viewer: FormViewerDep,
    action: Annotated[str, Form(max_length=16)],
    ids: Annotated[list[str] | None, Form()] = None,
    everything: Annotated[str | None, Form(alias="all")] = None,
    state: Annotated[list[str] | None, Form()] = None,
    namespace: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    flow: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    label: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    start: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    end: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    q: Annotated[str, Form(max_length=MAX_FIELD)] = "",
    sort: Annotated[str, Form(max_length=MAX_FIELD)] = "newest",
    size: Annotated[int, Form(ge=1, le=100)] = 25,
) -> Response:
    """Act on the rows picked (``ids``), or on every execution matching the filter (``all``);
    then the list again with the report."""
    filters = _filters(state, namespace, flow, label, start, end, q, sort, size)
    store = request.app.state.perch_ui.store
    act = _BULK.get(action)

    def run() -> dict[str, Any]:
        if act is None:
            return _failed(f"No bulk action '{action}'")
        if everything:
            query = replace(filters.query(viewer), page=1)
            picked = service.matching_ids(store, query)
        else:
            picked = [i for i in (ids or []) if i][:10_000]
        if not picked:
            return _failed("Pick at least one execution.")
        try:
            result = act(store, picked, viewer.principal, tenant=viewer.tenant)
        except PerchError as exc:
            return _failed(str(exc))
        return {"error": None, "action": action, "done": result.count, "skipped": result.skipped}

    report = await anyio.to_thread.run_sync(run)
    view = await anyio.to_thread.run_sync(_rows, store, viewer, filters, 1)
    return page(
        request,
        "executions.html",
        status_code=422 if report["error"] else 200,
        viewer=viewer,
        section="executions",
        filters=filters,
        states=STATES,
        sorts=tuple(SORTS),
        sizes=SIZES,
        page_number=1,
        report=report,
        **view,
    )
