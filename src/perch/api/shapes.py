"""The JSON shapes of the API, as pydantic models: they document the OpenAPI schemas and
schemathesis checks every response against them. Field names follow Kestra's (camelCase)."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from perch.engine.states import StateType


class OmitUnsetRoute(APIRoute):
    """A route whose answer, when it returns data for its ``response_model`` to check, keeps
    only the properties the route set: the model's defaults (``None``) are not added back.

    Kestra's server leaves out the properties that have no value, and the converters build
    answers that way (:func:`perch.api.convert.non_null`); without this, FastAPI would fill
    every optional property of the model back in with ``null``. Every router of the API uses it.
    """

    def __init__(self, path: str, endpoint: Any, **kwargs: Any) -> None:
        kwargs["response_model_exclude_unset"] = True
        super().__init__(path, endpoint, **kwargs)


class Shape(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")


class HistoryShape(Shape):
    state: StateType
    date: str = Field(description="When the state was entered (ISO-8601, UTC)")


class StateShape(Shape):
    current: StateType
    histories: list[HistoryShape]
    startDate: str
    endDate: str | None = None
    duration: str = Field(description="ISO-8601 duration, e.g. PT1.5S")


class AttemptShape(Shape):
    state: StateShape


class TaskRunShape(Shape):
    id: str
    executionId: str
    namespace: str
    flowId: str
    taskId: str
    parentTaskRunId: str | None = None
    value: str | None = None
    iteration: int | None = None
    attempts: list[AttemptShape] | None = None
    outputs: dict[str, Any] | None = None
    state: StateShape


class LabelShape(Shape):
    key: str
    value: str


class AssignmentShape(Shape):
    taskRunId: str
    taskId: str
    users: list[str] = Field(description="Usernames or e-mail addresses")
    groups: list[str] = Field(description="Group names: any member may decide")


class ExecutionShape(Shape):
    id: str
    tenantId: str
    namespace: str
    flowId: str
    flowRevision: int
    state: StateShape
    taskRunList: list[TaskRunShape] | None = None
    inputs: dict[str, Any] | None = None
    outputs: dict[str, Any] | None = None
    labels: list[LabelShape] = Field(default_factory=list)
    variables: dict[str, Any] | None = None
    trigger: dict[str, Any] | None = None
    parentId: str | None = None
    originalId: str | None = None
    deleted: bool = False
    metadata: dict[str, Any] | None = None
    assignment: AssignmentShape | None = Field(
        default=None, description="While paused on a HumanTask: who may resume it"
    )


class ExecutionResponseShape(ExecutionShape):
    url: str = Field(description="The execution's page in the web UI")


class ExecutionPageShape(Shape):
    results: list[ExecutionShape]
    total: int = Field(
        description="How many executions match: exact up to the server's exact-count limit "
        "(10,000 by default), an estimate beyond it"
    )
    totalEstimated: bool | None = Field(
        None,
        description="Present and `true` when `total` is an estimate; the `X-Total-Estimated` "
        "response header says the same (`true` or `false`)",
    )


class BulkShape(Shape):
    count: int


class InvalidShape(Shape):
    invalidValue: str
    message: str


class BulkReportShape(BulkShape):
    """A bulk action's outcome: how many executions it changed, and each one it left alone
    (refused, a query's match in the wrong state, or one that changed meanwhile) and why."""

    invalids: list[InvalidShape] = Field(default_factory=list)


class BulkErrorShape(Shape):
    message: str
    invalids: list[InvalidShape]


class ErrorShape(Shape):
    message: str


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorShape, "description": "Credentials missing or wrong"},
    404: {"model": ErrorShape, "description": "Not found"},
    409: {"model": ErrorShape, "description": "Conflict with the current state"},
    422: {"model": ErrorShape, "description": "Invalid request"},
}
"""Error responses most routes can give, for the OpenAPI document."""
