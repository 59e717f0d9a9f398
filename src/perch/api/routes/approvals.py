"""``GET /api/v1/{tenant}/approvals``: the paused executions the caller may resume, oldest
first — the inbox of someone who decides. A paused HumanTask is listed for its assignees only,
by the same rule a resume applies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field

from perch.api.auth import PrincipalDep
from perch.api.context import StoreDep, TenantDep
from perch.api.convert import iso
from perch.api.routes.users import Page, Size
from perch.api.shapes import ERRORS, AssignmentShape, OmitUnsetRoute, Shape
from perch.engine import service

router = APIRouter(tags=["Executions"], route_class=OmitUnsetRoute)


class ApprovalShape(Shape):
    executionId: str
    namespace: str
    flowId: str
    startDate: str
    pausedSince: str | None = Field(default=None, description="When it started waiting")
    taskRunId: str | None = Field(default=None, description="None for a manual pause")
    taskId: str | None = None
    assignment: AssignmentShape | None = Field(
        default=None, description="For a HumanTask: who may decide"
    )


class ApprovalPageShape(Shape):
    results: list[ApprovalShape]
    total: int


def _approval_json(item: service.Approval) -> dict[str, Any]:
    execution, run = item.execution, item.task_run
    # The last change of state is the pause (of the task run, or of a manual pause).
    since = (run.state if run is not None else execution.state).histories[-1].date
    shown: dict[str, Any] = {
        "executionId": execution.id,
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "startDate": iso(execution.state.start_date),
        "pausedSince": iso(since),
        "taskRunId": run.id if run is not None else None,
        "taskId": run.task_id if run is not None else None,
        "assignment": None,
    }
    if run is not None and item.assignees is not None:
        shown["assignment"] = {
            "taskRunId": run.id,
            "taskId": run.task_id,
            **item.assignees.to_json(),
        }
    return shown


@router.get(
    "/approvals",
    response_model=ApprovalPageShape,
    responses=ERRORS,
    summary="The paused executions you may resume",
)
def approvals(
    *,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
    namespace: str | None = Query(default=None, description="This namespace and its children"),
    page: Page = 1,
    size: Size = 10,
) -> dict[str, Any]:
    """Oldest first. A paused HumanTask is listed only for its assignees (a listed user, or a
    member of a listed group now); any other paused execution for everyone who may see it."""
    found, total = service.approvals(
        store, tenant, principal, namespace_prefix=namespace, page=page, size=size
    )
    return {"results": [_approval_json(a) for a in found], "total": total}
