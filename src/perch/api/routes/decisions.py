"""Resuming paused executions: one (with ``onResume`` values), a dry run of those values, by
ids and by query.

Resuming one is the latency-critical path: the body is read here, then one transaction checks
the tenant, validates the values and applies the resume (no separate read first). Literal paths
(``/executions/resume/by-ids``) are declared before ``/executions/{executionId}/resume``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from perch.api.auth import PrincipalDep
from perch.api.context import StoreDep, TenantDep
from perch.api.filters import FILTER_HELP, execution_query
from perch.api.inputchecks import ValidateInputsShape, validation_json
from perch.api.multipart import FORM_BODY, form_inputs, split_uploads
from perch.api.routes.actions import (
    BULK_ERRORS,
    NO_NUL,
    ExecutionId,
    Ids,
    report_json,
)
from perch.api.shapes import ERRORS, BulkReportShape, OmitUnsetRoute
from perch.engine import service

router = APIRouter(tags=["Executions"], route_class=OmitUnsetRoute)

TaskRunId = Annotated[
    str | None,
    Query(
        alias="taskRunId",
        pattern=NO_NUL,
        description="The paused task run to resume, when several are paused (a Parallel, a "
        "ForEach); by default the first one",
    ),
]


@router.post(
    "/executions/resume/by-ids",
    summary="Resume several paused executions (all or none)",
    response_model=BulkReportShape,
    responses=BULK_ERRORS,
)
def resume_by_ids(
    ids: Ids, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> JSONResponse:
    """Resume each execution, without ``onResume`` values (their defaults apply); when one is
    not found or not PAUSED, none is resumed (400, each refused id and why)."""
    checked = service.check_all(store, tenant, ids, service.RESUME)
    result = service.resume_by_ids(store, checked, principal, tenant=tenant)
    return JSONResponse(report_json(result))


@router.post(
    "/executions/resume/by-query",
    summary="Resume the paused executions matching filters",
    description=FILTER_HELP,
    response_model=BulkReportShape,
    responses=ERRORS,
)
def resume_by_query(
    request: Request, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> JSONResponse:
    """Resume every PAUSED match; the other matches (and any whose required ``onResume``
    inputs have no default) are listed in ``invalids``."""
    query = execution_query(request, tenant)
    return JSONResponse(report_json(service.resume_by_query(store, query, principal)))


@router.post(
    "/executions/{executionId}/resume/validate",
    summary="Check resume values without resuming",
    response_model=ValidateInputsShape,
    responses=ERRORS,
    openapi_extra=FORM_BODY,
)
async def validate_resume(
    *,
    execution_id: ExecutionId,
    request: Request,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    task_run_id: TaskRunId = None,
) -> JSONResponse:
    """Each ``onResume`` input with the value the submission would give it and its errors;
    nothing changes. 409 when the execution is not paused, 403 for someone its HumanTask is
    not assigned to."""
    inputs, uploads = split_uploads(await form_inputs(request))
    checked = await run_in_threadpool(
        service.validate_resume,
        store,
        execution_id,
        inputs,
        principal,
        task_run_id=task_run_id,
        tenant=tenant,
        uploads=uploads,
    )
    return JSONResponse(
        validation_json(
            checked.flow.id, checked.flow.namespace, checked.declarations, checked.checks
        )
    )


@router.post(
    "/executions/{executionId}/resume",
    summary="Resume a paused execution with onResume values",
    status_code=204,
    response_class=Response,
    responses=ERRORS,
    openapi_extra=FORM_BODY,
)
async def resume(
    *,
    execution_id: ExecutionId,
    request: Request,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    task_run_id: TaskRunId = None,
) -> Response:
    """Resume with the submitted ``onResume`` values (``curl -F approved=true``, a FILE input
    as a file part: ``-F doc=@report.pdf``, stored with the execution); who resumed
    goes to ``outputs.<pause>.resumed.by``. 409 when it is not paused (naming who resumed it),
    422 naming each bad value (the execution stays PAUSED)."""
    inputs, uploads = split_uploads(await form_inputs(request))
    await run_in_threadpool(
        service.resume,
        store,
        execution_id,
        inputs,
        principal,
        task_run_id=task_run_id,
        tenant=tenant,
        uploads=uploads,
    )
    return Response(status_code=204)
