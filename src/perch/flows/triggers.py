"""Trigger models: Schedule (cron), Flow (reacts to other executions) and Webhook.

Conditions (the older ``conditions`` list) are many small types; Perch reads each as a ``type``
plus its properties and leaves their meaning to the trigger engine.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AliasChoices, ConfigDict, Field, ValidationInfo, field_validator

from perch.flows.cron import cron_problem
from perch.flows.properties import (
    Choice,
    Duration,
    DynBool,
    Labels,
    LogLevel,
    State,
    TaskId,
    Text,
)
from perch.flows.tasks.base import WorkerGroup
from perch.modelbase import StrictModel


class Condition(StrictModel):
    """One condition of a trigger's ``conditions`` list: a ``type`` and its own properties."""

    model_config = ConfigDict(extra="allow")

    type: str


class Trigger(StrictModel):
    """Properties every trigger has."""

    type_names: ClassVar[tuple[str, ...]] = ()

    id: TaskId
    type: str
    description: Text | None = None
    conditions: list[Condition] | None = None
    disabled: bool = False
    workerGroup: WorkerGroup | None = None
    logLevel: LogLevel | None = Field(
        default=None, validation_alias=AliasChoices("logLevel", "minLogLevel")
    )
    logToFile: bool = False
    stopAfter: list[State] | None = None
    labels: Labels | None = None
    version: Text | None = None
    failOnTriggerError: bool = False
    allowConcurrent: bool = False

    @property
    def canonical_type(self) -> str:
        """The Kestra class name of this trigger's type, whatever alias the flow used."""
        return self.type_names[0] if self.type_names else self.type


class Schedule(Trigger):
    """Start an execution at every time matched by ``cron`` (in ``timezone``)."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.trigger.Schedule",
        "io.kestra.core.models.triggers.types.Schedule",
    )

    # withSeconds comes first so that the cron check can see it.
    withSeconds: bool = False
    cron: Text
    timezone: Text | None = None
    inputs: dict[str, Any] | None = None
    lateMaximumDelay: Duration | None = None
    scheduleConditions: list[Condition] | None = None
    backfill: dict[str, Any] | None = None
    recoverMissedSchedules: Annotated[str, Choice("ALL", "NONE", "LAST", dynamic=False)] | None = (
        None
    )
    interval: Duration | None = Field(default=None, description="Deprecated, unused")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str, info: ValidationInfo) -> str:
        problem = cron_problem(value, with_seconds=bool(info.data.get("withSeconds", False)))
        if problem is not None:
            raise ValueError(problem)
        return value


class UpstreamFlow(StrictModel):
    """One flow a Flow trigger's preconditions wait for."""

    namespace: Text
    flowId: Text | None = None
    states: list[State] | None = None
    labels: dict[str, Any] | None = None


_FILTER_TYPES = (
    "EQUAL_TO",
    "NOT_EQUAL_TO",
    "IN",
    "NOT_IN",
    "IS_TRUE",
    "IS_FALSE",
    "IS_NULL",
    "IS_NOT_NULL",
    "STARTS_WITH",
    "ENDS_WITH",
    "REGEX",
    "CONTAINS",
)


class ExecutionFilterItem(StrictModel):
    """One test on an upstream execution (``field`` compared by ``type``)."""

    field: Annotated[str, Choice("FLOW_ID", "NAMESPACE", "STATE", "EXPRESSION", dynamic=False)]
    type: Annotated[str, Choice(*_FILTER_TYPES, dynamic=False)]
    value: Text | None = None
    values: list[Text] | None = None


class ExecutionFilter(StrictModel):
    """A named group of filters combined with AND (default) or OR."""

    id: TaskId
    operand: Annotated[str, Choice("AND", "OR", dynamic=False)] = "AND"
    filters: list[ExecutionFilterItem]


class TimeWindow(StrictModel):
    """The period in which all preconditions must be met."""

    type: Annotated[
        str,
        Choice(
            "DURATION_WINDOW",
            "SLIDING_WINDOW",
            "DAILY_TIME_DEADLINE",
            "DAILY_TIME_WINDOW",
            dynamic=False,
        ),
    ] = "DURATION_WINDOW"
    window: Duration | None = None
    windowAdvance: Duration | None = None
    deadline: Text | None = None
    startTime: Text | None = None
    endTime: Text | None = None


class Preconditions(StrictModel):
    """What must have happened upstream (``flows``, ``where``) within ``timeWindow``."""

    id: TaskId
    timeWindow: TimeWindow | None = None
    resetOnSuccess: bool = True
    flows: list[UpstreamFlow] | None = None
    where: list[ExecutionFilter] | None = None


class FlowTrigger(Trigger):
    """Start an execution when other executions reach ``states`` and the preconditions hold."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.trigger.Flow",
        "io.kestra.core.models.triggers.types.Flow",
    )

    inputs: dict[str, Any] | None = None
    states: list[State] | None = None
    preconditions: Preconditions | None = None


class Webhook(Trigger):
    """Start an execution when ``/executions/webhook/{namespace}/{flowId}/{key}`` is called."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.trigger.Webhook",
        "io.kestra.core.models.triggers.types.Webhook",
    )

    key: Text = Field(max_length=256)
    inputs: dict[str, Any] | None = None
    wait: DynBool | None = None
    returnOutputs: DynBool | None = None
    responseContentType: Text | None = None


BUILTIN_TRIGGERS: tuple[type[Trigger], ...] = (Schedule, FlowTrigger, Webhook)
