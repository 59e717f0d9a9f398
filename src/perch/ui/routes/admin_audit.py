"""``/ui/admin/audit``: the audit trail, newest first, filtered and paged, and its export — the
same JSON lines or CSV as the API's ``/auditlogs/export`` for the same filters.

As the API's audit routes, it needs AUDITLOG:READ on some namespace and shows the records of the
namespaces it covers; records of no namespace (users, groups, roles…) only to whoever may read
the whole tenant's trail. Dates are UTC days: "until" includes its whole day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio.to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from perch.engine.access import scope
from perch.engine.auditexport import csv_lines, jsonl_lines
from perch.engine.auditlog import AuditQuery, export_audit, search_audit
from perch.permissions import Action, Resource
from perch.ui.access import admin_page, anywhere, denied, denied_text
from perch.ui.session import Viewer, ViewerDep

router = APIRouter()

SIZES = (25, 50, 100)
RESOURCE_TYPES = ("EXECUTION", *(r.value for r in Resource if r is not Resource.EXECUTION))
_Text = Annotated[str, Query(max_length=255)]


@dataclass(frozen=True, slots=True)
class AuditFilters:
    action: str = ""
    type: str = ""
    user: str = ""
    namespace: str = ""
    execution: str = ""
    start: str = ""
    end: str = ""
    size: int = 25

    def query(self, tenant: str, page_number: int = 1) -> AuditQuery:
        start = _day(self.start)
        end = _day(self.end)
        return AuditQuery(
            tenant=tenant,
            principal=self.user or None,
            action=self.action.upper() or None,
            resource_type=self.type or None,
            namespace=self.namespace or None,
            execution_id=self.execution or None,
            start=start,
            end=end + timedelta(days=1) if end is not None else None,
            page=page_number,
            size=self.size,
        )

    def encoded(self, **changes: Any) -> str:
        """The query string of these filters (with ``changes``), for links that keep them."""
        fields = ("action", "type", "user", "namespace", "execution", "start", "end", "size")
        data = [(k, changes.get(k, getattr(self, k))) for k in fields]
        data.extend((k, v) for k, v in changes.items() if k not in fields)
        return urlencode([(k, v) for k, v in data if v not in ("", None)])


def _day(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text[:10]).replace(tzinfo=UTC) if text else None
    except ValueError:
        return None


def _filters(  # noqa: PLR0917 - the form's fields
    action: str,
    type: str,
    user: str,
    namespace: str,
    execution: str,
    start: str,
    end: str,
    size: int,
) -> AuditFilters:
    return AuditFilters(
        action=action.strip(),
        type=type if type in RESOURCE_TYPES else "",
        user=user.strip(),
        namespace=namespace.strip(),
        execution=execution.strip(),
        start=start.strip() if _day(start.strip()) else "",
        end=end.strip() if _day(end.strip()) else "",
        size=size if size in SIZES else 25,
    )


def _readable(viewer: Viewer) -> tuple[str, ...] | None:
    return scope(viewer.principal, Resource.AUDITLOG, Action.READ)


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit(  # noqa: PLR0917 - the filter's fields
    request: Request,
    viewer: ViewerDep,
    action: _Text = "",
    type: _Text = "",
    user: _Text = "",
    namespace: _Text = "",
    execution: _Text = "",
    start: _Text = "",
    end: _Text = "",
    size: int = Query(25, ge=1, le=100),
    page_number: int = Query(1, alias="page", ge=1, le=100_000),
) -> Response:
    if not anywhere(viewer, Resource.AUDITLOG, Action.READ):
        return denied(request, viewer, denied_text(Resource.AUDITLOG, Action.READ))
    filters = _filters(action, type, user, namespace, execution, start, end, size)
    store = request.app.state.perch_ui.store
    found = await anyio.to_thread.run_sync(
        lambda: search_audit(
            store, filters.query(viewer.tenant, page_number), namespaces=_readable(viewer)
        )
    )
    return admin_page(
        request,
        viewer,
        "admin_audit.html",
        filters=filters,
        records=found.results,
        total=found.total,
        page_number=page_number,
        pages=max(1, -(-found.total // filters.size)),
        sizes=SIZES,
        types=RESOURCE_TYPES,
    )


@router.get("/admin/audit/export")
async def export(  # noqa: PLR0917 - the filter's fields
    request: Request,
    viewer: ViewerDep,
    action: _Text = "",
    type: _Text = "",
    user: _Text = "",
    namespace: _Text = "",
    execution: _Text = "",
    start: _Text = "",
    end: _Text = "",
    format: Annotated[str, Query(pattern="^(jsonl|csv)$")] = "jsonl",
) -> Response:
    """Every record matching the filters, newest first, as a download."""
    if not anywhere(viewer, Resource.AUDITLOG, Action.READ):
        return denied(request, viewer, denied_text(Resource.AUDITLOG, Action.READ))
    filters = _filters(action, type, user, namespace, execution, start, end, 25)
    store = request.app.state.perch_ui.store
    records = export_audit(store, filters.query(viewer.tenant), namespaces=_readable(viewer))
    if format == "csv":
        body, media, name = csv_lines(records), "text/csv; charset=utf-8", "auditlogs.csv"
    else:
        body, media, name = jsonl_lines(records), "application/x-ndjson", "auditlogs.jsonl"
    return StreamingResponse(
        body,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
