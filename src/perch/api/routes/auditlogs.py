"""The audit trail: ``GET /auditlogs/search`` (a page, newest first) and
``GET /auditlogs/export?format=jsonl|csv`` (every match, streamed), with the same filters.

Both need AUDITLOG:READ. Records of no namespace (users, groups, roles…) are shown only to a
caller who may read the whole tenant's audit trail; SECRET values were masked when the records
were written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import Field

from perch.api.auth import PrincipalDep
from perch.api.context import StoreDep, TenantDep
from perch.api.shapes import ERRORS, OmitUnsetRoute, Shape
from perch.engine.access import scope
from perch.engine.auditexport import csv_lines, jsonl_lines, record_json
from perch.engine.auditlog import AuditQuery, export_audit, search_audit
from perch.engine.principal import Principal
from perch.permissions import Action, Resource

router = APIRouter(tags=["Audit logs"], route_class=OmitUnsetRoute)

MAX_PAGE_SIZE = 1000
MAX_PAGE = 1_000_000


class AuditPrincipalShape(Shape):
    name: str
    kind: str = Field(
        description="USER, SERVICE_ACCOUNT, FLOW (a task acting for its flow) or SYSTEM"
    )


class AuditLogShape(Shape):
    """One audit record."""

    id: int = Field(description="The record's sequence number")
    tenant: str
    date: str = Field(description="ISO-8601, UTC")
    principal: AuditPrincipalShape
    action: str
    resourceType: str | None = None
    resourceId: str | None = None
    namespace: str | None = None
    executionId: str | None = None
    channel: str = Field(description="API, UI, CLI, LINK or SYSTEM")
    address: str | None = None
    userAgent: str | None = None
    outcome: str
    detail: Any = None
    before: Any = None
    after: Any = None


class AuditLogPageShape(Shape):
    results: list[AuditLogShape]
    total: int


class ExportFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def audit_query(  # noqa: PLR0917 - query parameters
    tenant: TenantDep,
    principal: Annotated[str | None, Query(description="The principal's name")] = None,
    action: Annotated[str | None, Query(description="The action, e.g. `RESUME`")] = None,
    resourceType: Annotated[
        str | None, Query(description="EXECUTION, FLOW, USER, GROUP, ROLE, BINDING…")
    ] = None,
    resourceId: Annotated[str | None, Query(description="The resource's id")] = None,
    namespace: Annotated[str | None, Query(description="The namespace and its children")] = None,
    executionId: Annotated[str | None, Query(description="The execution id")] = None,
    startDate: Annotated[
        datetime | None, Query(description="At or after (ISO-8601; UTC when no zone)")
    ] = None,
    endDate: Annotated[
        datetime | None, Query(description="Before (ISO-8601; UTC when no zone)")
    ] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="The page, from 1")] = 1,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Results per page")] = 25,
) -> AuditQuery:
    return AuditQuery(
        tenant=tenant,
        principal=principal,
        action=action,
        resource_type=resourceType,
        resource_id=resourceId,
        namespace=namespace,
        execution_id=executionId,
        start=_utc(startDate),
        end=_utc(endDate),
        page=page,
        size=size,
    )


AuditQueryDep = Annotated[AuditQuery, Depends(audit_query)]


def readable_namespaces(principal: Principal) -> tuple[str, ...] | None:
    """The namespaces whose audit records ``principal`` may read; None for the whole tenant
    (the only scope that shows records of no namespace: users, groups, roles)."""
    return scope(principal, Resource.AUDITLOG, Action.READ)


@router.get(
    "/auditlogs/search",
    summary="Search the audit trail",
    response_model=AuditLogPageShape,
    responses=ERRORS,
)
def search(store: StoreDep, query: AuditQueryDep, principal: PrincipalDep) -> JSONResponse:
    """The records that match every filter, newest first, a page at a time."""
    found = search_audit(store, query, namespaces=readable_namespaces(principal))
    return JSONResponse(
        {"results": [record_json(record) for record in found.results], "total": found.total}
    )


@router.get(
    "/auditlogs/export",
    summary="Export the audit trail as JSON lines or CSV",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/x-ndjson": {}, "text/csv": {}}},
        **ERRORS,
    },
)
def export(
    store: StoreDep,
    query: AuditQueryDep,
    principal: PrincipalDep,
    format: Annotated[ExportFormat, Query(description="`jsonl` or `csv`")] = ExportFormat.JSONL,
) -> StreamingResponse:
    """Every record that matches the filters, newest first (``page`` and ``size`` ignored)."""
    records = export_audit(store, query, namespaces=readable_namespaces(principal))
    if format is ExportFormat.CSV:
        body, media, name = csv_lines(records), "text/csv; charset=utf-8", "auditlogs.csv"
    else:
        body, media, name = jsonl_lines(records), "application/x-ndjson", "auditlogs.jsonl"
    return StreamingResponse(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
