"""Kestra 2.x's paths for acting on one execution: ``/executions/{id}/actions/resume``,
``…/actions/pause``, ``…/actions/restart`` (POST) and ``…/actions/kill`` (DELETE).

They do what the 1.x paths do, through the same service functions and the same checks; they
differ in the answer: 200 with the execution as it is once the action is applied (Kestra 2.x
waits for its asynchronous command; Perch applies the action in the request's transaction), where
1.x answers 204 (resume), 202 (kill) or 200 with no body (pause). Errors are the same as on the
1.x paths (404, 409 when the state does not allow it, 422 for bad values).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from perch.api.auth import PrincipalDep
from perch.api.context import StoreDep, TenantDep
from perch.api.convert import execution_in, shown_execution
from perch.api.multipart import FORM_BODY, form_inputs, split_uploads
from perch.api.routes.actions import MAX_REVISION, ExecutionId
from perch.api.routes.actions import restart as restart_one
from perch.api.routes.decisions import TaskRunId
from perch.api.shapes import ERRORS, ExecutionShape, OmitUnsetRoute
from perch.engine import service
from perch.permissions import Action

router = APIRouter(tags=["Executions"], route_class=OmitUnsetRoute)


@router.post(
    "/executions/{executionId}/actions/resume",
    summary="Resume a paused execution with onResume values (Kestra 2.x path)",
    response_model=ExecutionShape,
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
) -> JSONResponse:
    """As ``POST /executions/{executionId}/resume``, answering with the resumed execution."""
    inputs, uploads = split_uploads(await form_inputs(request))
    resumed = await run_in_threadpool(
        service.resume,
        store,
        execution_id,
        inputs,
        principal,
        task_run_id=task_run_id,
        tenant=tenant,
        uploads=uploads,
    )
    return JSONResponse(await run_in_threadpool(shown_execution, store, resumed))


@router.post(
    "/executions/{executionId}/actions/pause",
    summary="Pause a running execution (Kestra 2.x path)",
    response_model=ExecutionShape,
    responses=ERRORS,
)
def pause(
    execution_id: ExecutionId, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> JSONResponse:
    """As ``POST /executions/{executionId}/pause``, answering with the paused execution."""
    execution_in(store, tenant, execution_id, principal, Action.UPDATE)
    return JSONResponse(shown_execution(store, service.pause(store, execution_id, principal)))


@router.delete(
    "/executions/{executionId}/actions/kill",
    summary="Kill an execution (Kestra 2.x path)",
    response_model=ExecutionShape,
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
) -> JSONResponse:
    """As ``DELETE /executions/{executionId}/kill``, answering with the execution (KILLING or
    KILLED)."""
    del is_on_kill_cascade
    execution_in(store, tenant, execution_id, principal, Action.UPDATE)
    return JSONResponse(shown_execution(store, service.kill(store, execution_id, principal)))


@router.post(
    "/executions/{executionId}/actions/restart",
    summary="Restart a failed execution from its failed tasks (Kestra 2.x path)",
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
    """As ``POST /executions/{executionId}/restart`` (the same answer)."""
    return restart_one(execution_id, store, tenant, principal, revision)
