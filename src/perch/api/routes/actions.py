"""Pause, kill, restart and replay executions, one at a time or in bulk (by ids, by query).

The bulk actions by ids check every id first and act on none when one cannot be acted on
(400, Kestra's ``BulkErrorResponse``); the actions by query act on the matches in the right
state and report the others. Literal paths (``/executions/kill/by-ids``) are declared before
the parameterised ones (``/executions/{executionId}/kill``): the first route that matches wins.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import StringConstraints

from perch.api.auth import PrincipalDep
from perch.api.context import StoreDep, TenantDep
from perch.api.convert import execution_in, shown_execution
from perch.api.filters import FILTER_HELP, execution_query
from perch.api.shapes import ERRORS, BulkErrorShape, BulkReportShape, ExecutionShape, OmitUnsetRoute
from perch.engine import service
from perch.engine.service import BulkResult
from perch.errors import InvalidRequest
from perch.permissions import Action

router = APIRouter(tags=["Executions"], route_class=OmitUnsetRoute)

# PostgreSQL refuses text with NUL characters: such an id is a bad request, not a server error.
NO_NUL = r"^[^\x00]*$"
MAX_REVISION = 2**31 - 1  # the database's integer: a larger revision is refused, not a 500
ExecutionId = Annotated[
    str, Path(alias="executionId", pattern=NO_NUL, description="The execution's id")
]
Ids = Annotated[
    list[Annotated[str, StringConstraints(pattern=NO_NUL)]],
    Body(description="The executions' ids, as a JSON array"),
]
BULK_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: {"model": BulkErrorShape, "description": "Some ids cannot be acted on; none was"},
}
"""The error responses of the bulk actions by ids, for the OpenAPI document."""


def report_json(result: BulkResult) -> dict[str, Any]:
    """A bulk result as the API shows it: ``{count, invalids: [{invalidValue, message}]}``."""
    return {
        "count": result.count,
        "invalids": [{"invalidValue": i, "message": why} for i, why in result.skipped],
    }


# --- pause ---------------------------------------------------------------------------------------


@router.post(
    "/executions/pause/by-ids",
    summary="Pause several running executions (all or none)",
    response_model=BulkReportShape,
    responses=BULK_ERRORS,
)
def pause_by_ids(
    ids: Ids, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> JSONResponse:
    """Pause each execution; when one is not found or not RUNNING, none is paused (400)."""
    checked = service.check_all(store, tenant, ids, service.PAUSE)
    result = service.pause_by_ids(store, checked, principal, tenant=tenant)
    return JSONResponse(report_json(result))


@router.post(
    "/executions/pause/by-query",
    summary="Pause the running executions matching filters",
    description=FILTER_HELP,
    response_model=BulkReportShape,
    responses=ERRORS,
)
def pause_by_query(
    request: Request, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> JSONResponse:
    """Pause every RUNNING match; the other matches are listed in ``invalids``."""
    query = execution_query(request, tenant)
    return JSONResponse(report_json(service.pause_by_query(store, query, principal)))


@router.post(
    "/executions/{executionId}/pause",
    summary="Pause a running execution",
    status_code=200,
    response_class=Response,
    responses=ERRORS,
)
def pause(
    execution_id: ExecutionId, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> Response:
    """Running task runs finish, nothing new starts until it is resumed; 422 unless RUNNING."""
    execution_in(store, tenant, execution_id, principal, Action.UPDATE)
    service.pause(store, execution_id, principal)
    return Response(status_code=200)


# --- kill ----------------------------------------------------------------------------------------


@router.delete(
    "/executions/kill/by-ids",
    summary="Kill several executions (all or none)",
    response_model=BulkReportShape,
    responses=BULK_ERRORS,
)
def kill_by_ids(
    ids: Ids, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> JSONResponse:
    """Kill each execution; when one is not found or already finished, none is killed (400)."""
    checked = service.check_all(store, tenant, ids, service.KILL)
    result = service.kill_by_ids(store, checked, principal, tenant=tenant)
    return JSONResponse(report_json(result))


@router.delete(
    "/executions/kill/by-query",
    summary="Kill the unfinished executions matching filters",
    description=FILTER_HELP,
    response_model=BulkReportShape,
    responses=ERRORS,
)
def kill_by_query(
    request: Request, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> JSONResponse:
    """Kill every match that has not finished; the finished ones are listed in ``invalids``."""
    query = execution_query(request, tenant)
    return JSONResponse(report_json(service.kill_by_query(store, query, principal)))


@router.delete(
    "/executions/{executionId}/kill",
    summary="Kill an execution",
    status_code=202,
    response_class=Response,
    responses=ERRORS,
)
def kill(
    execution_id: ExecutionId,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    is_on_kill_cascade: Annotated[
        bool,
        Query(
            alias="isOnKillCascade",
            description="Accepted for Kestra's clients: subflows are always killed with it",
        ),
    ] = True,
) -> Response:
    """Stop it at once (a paused one ends KILLED); 409 when it has already finished."""
    del is_on_kill_cascade
    execution_in(store, tenant, execution_id, principal, Action.UPDATE)
    service.kill(store, execution_id, principal)
    return Response(status_code=202)


# --- restart -------------------------------------------------------------------------------------


@router.post(
    "/executions/restart/by-ids",
    summary="Restart several failed executions (all or none)",
    response_model=BulkReportShape,
    responses=BULK_ERRORS,
)
def restart_by_ids(
    ids: Ids, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> JSONResponse:
    """Restart each execution; when one cannot be restarted, none is (400)."""
    checked = service.check_all(store, tenant, ids, service.RESTART)
    result = service.restart_by_ids(store, checked, principal, tenant=tenant)
    return JSONResponse(report_json(result))


@router.post(
    "/executions/restart/by-query",
    summary="Restart the failed executions matching filters",
    description=FILTER_HELP,
    response_model=BulkReportShape,
    responses=ERRORS,
)
def restart_by_query(
    request: Request, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> JSONResponse:
    """Restart every failed (or paused) match; the other matches are listed in ``invalids``."""
    query = execution_query(request, tenant)
    return JSONResponse(report_json(service.restart_by_query(store, query, principal)))


@router.post(
    "/executions/{executionId}/restart",
    summary="Restart a failed execution from its failed tasks",
    response_model=ExecutionShape,
    responses=ERRORS,
)
def restart(
    execution_id: ExecutionId,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    revision: Annotated[
        int | None,
        Query(ge=1, le=MAX_REVISION, description="Only the revision it ran is supported"),
    ] = None,
) -> JSONResponse:
    """Same id, state RESTARTED then RUNNING; 409 unless FAILED, KILLED, CANCELLED or PAUSED."""
    execution = execution_in(store, tenant, execution_id, principal, Action.UPDATE)
    if revision is not None and revision != execution.flow_revision:
        # The engine reopens failed task runs of the flow they ran; another revision's tasks
        # may not match them. A replay can use another revision.
        raise InvalidRequest(
            f"a restart runs revision {execution.flow_revision}, the one the execution ran;"
            " replay it to use another revision"
        )
    restarted = service.restart(store, execution_id, principal)
    return JSONResponse(shown_execution(store, restarted))


# --- replay --------------------------------------------------------------------------------------


@router.post(
    "/executions/{executionId}/replay",
    summary="Run an execution again, as a new execution",
    response_model=ExecutionShape,
    responses=ERRORS,
)
def replay(
    *,
    execution_id: ExecutionId,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    task_run_id: Annotated[
        str | None,
        Query(
            alias="taskRunId",
            pattern=NO_NUL,
            description="Replay from this task run (default: the start)",
        ),
    ] = None,
    revision: Annotated[
        int | None,
        Query(ge=1, le=MAX_REVISION, description="The flow revision (default: the one it ran)"),
    ] = None,
) -> JSONResponse:
    """A new execution (new id, ``originalId`` the replayed one) that keeps the task runs
    before ``taskRunId``; 422 when that task run or revision does not fit."""
    execution_in(store, tenant, execution_id, principal, Action.CREATE)
    replayed = service.replay(
        store, execution_id, principal, task_run_id=task_run_id, revision=revision
    )
    return JSONResponse(shown_execution(store, replayed))
