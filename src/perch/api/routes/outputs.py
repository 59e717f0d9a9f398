"""An execution's outputs on their own: Kestra 2.x's ``/outputs`` API (2.x clients no longer
read them from the execution). The flow's outputs, which task runs have outputs, and the outputs
of one task run; reading the execution is enough, and SECRET values are masked.

Perch keeps outputs inline with the task runs (``inline: true``), and still shows them in the
execution too, as Kestra 1.x does.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import Field

from perch.api.auth import PrincipalDep
from perch.api.context import StoreDep, TenantDep
from perch.api.convert import execution_in, non_null
from perch.api.routes.actions import NO_NUL, ExecutionId
from perch.api.shapes import ERRORS, OmitUnsetRoute, Shape
from perch.engine import service
from perch.engine.service.inspect import TaskRunNotFound

router = APIRouter(tags=["Outputs"], route_class=OmitUnsetRoute)

TaskRunId = Annotated[
    str, Path(alias="taskRunId", pattern=NO_NUL, description="The task run whose outputs to read")
]


class TaskOutputShape(Shape):
    taskId: str
    taskRunId: str
    value: str | None = Field(default=None, description="The ForEach value the run belongs to")
    iteration: int | None = None
    inline: bool = Field(description="Whether the outputs are held with the task run")


@router.get(
    "/outputs/executions/{executionId}",
    summary="The flow outputs of an execution",
    response_model=dict[str, Any],
    responses=ERRORS,
)
def execution_outputs(
    execution_id: ExecutionId, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> JSONResponse:
    """The values of the flow's ``outputs`` (an empty object until the execution ends)."""
    execution = execution_in(store, tenant, execution_id, principal)
    return JSONResponse(service.mask_secrets(dict(execution.outputs or {})))


@router.get(
    "/outputs/tasks/{executionId}",
    summary="The task runs of an execution that have outputs",
    response_model=list[TaskOutputShape],
    responses=ERRORS,
)
def task_outputs(
    execution_id: ExecutionId, store: StoreDep, tenant: TenantDep, principal: PrincipalDep
) -> JSONResponse:
    """One entry per task run with outputs, in the order they started."""
    execution = execution_in(store, tenant, execution_id, principal)
    found = [
        non_null(
            {
                "taskId": run.task_id,
                "taskRunId": run.id,
                "value": run.value,
                "iteration": run.iteration,
                "inline": True,
            }
        )
        for run in execution.task_runs
        if run.outputs is not None
    ]
    return JSONResponse(service.mask_secrets(found))


@router.get(
    "/outputs/tasks/{executionId}/{taskRunId}",
    summary="The outputs of one task run",
    response_model=dict[str, Any],
    responses=ERRORS,
)
def task_run_outputs(
    execution_id: ExecutionId,
    task_run_id: TaskRunId,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
) -> JSONResponse:
    """The task run's outputs (an empty object when it has none); 404 for an unknown run."""
    execution = execution_in(store, tenant, execution_id, principal)
    for run in execution.task_runs:
        if run.id == task_run_id:
            return JSONResponse(service.mask_secrets(dict(run.outputs or {})))
    raise TaskRunNotFound(f"Task run '{task_run_id}' not found in execution '{execution_id}'.")
