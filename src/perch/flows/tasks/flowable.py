"""Flowable tasks that hold other tasks: If, Switch, Sequential, Parallel, ForEach, AllowFailure,
the deprecated EachSequential/EachParallel, and Subflow (which starts another flow)."""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar

from pydantic import Field, field_validator, model_validator

from perch.flows.properties import Choice, DynBool, DynInt, Labels, Text
from perch.flows.tasks.base import (
    ChildShape,
    FlowableTask,
    Task,
    TaskKind,
    TaskList,
    with_children,
)
from perch.templating import is_template


class If(FlowableTask):
    """Run ``then`` when ``condition`` renders truthy, else ``else``."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.If",
        "io.kestra.core.tasks.flows.If",
    )
    child_fields: ClassVar[dict[str, ChildShape]] = with_children(
        then=ChildShape.LIST, **{"else": ChildShape.LIST}
    )

    condition: Text
    then: TaskList = Field(min_length=1)
    else_: TaskList | None = Field(default=None, alias="else")


class Switch(FlowableTask):
    """Run the tasks of the case named by the rendered ``value``, or ``defaults``."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.Switch",
        "io.kestra.core.tasks.flows.Switch",
    )
    child_fields: ClassVar[dict[str, ChildShape]] = with_children(
        cases=ChildShape.MAP, defaults=ChildShape.LIST
    )

    value: Text
    cases: dict[str, TaskList] | None = None
    defaults: TaskList | None = None

    @model_validator(mode="after")
    def _has_tasks(self) -> Switch:
        # Kestra refuses a Switch that could never run anything.
        if not self.cases and not self.defaults:
            raise ValueError("a Switch needs tasks in `cases` or in `defaults`")
        return self


class Sequential(FlowableTask):
    """Run ``tasks`` one after the other."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.Sequential",
        "io.kestra.core.tasks.flows.Sequential",
    )
    child_fields: ClassVar[dict[str, ChildShape]] = with_children(tasks=ChildShape.LIST)

    tasks: TaskList = Field(min_length=1)


class AllowFailure(Sequential):
    """Run ``tasks``; a failure inside ends this task in WARNING instead of failing the flow."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.AllowFailure",
        "io.kestra.core.tasks.flows.AllowFailure",
    )


class Parallel(FlowableTask):
    """Run ``tasks`` at the same time, at most ``concurrent`` at once (0: no limit)."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.Parallel",
        "io.kestra.core.tasks.flows.Parallel",
    )
    child_fields: ClassVar[dict[str, ChildShape]] = with_children(tasks=ChildShape.LIST)

    tasks: TaskList = Field(min_length=1)
    concurrent: DynInt = 0


def _check_values(value: Any) -> Any:
    """A list, or a string that is an expression or a JSON list (Kestra accepts all three)."""
    if isinstance(value, list) or (isinstance(value, str) and is_template(value)):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):  # RecursionError: `[[[[…` nested thousands deep
            parsed = None
        if isinstance(parsed, list):
            return value
        raise ValueError("must be a list, a JSON array in a string, or an expression")
    if isinstance(value, dict):
        return value
    raise ValueError("must be a list, a JSON array in a string, or an expression")


class ForEach(FlowableTask):
    """Run ``tasks`` once per item of ``values``, ``concurrencyLimit`` at a time (0: no limit)."""

    type_names: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.flow.ForEach",)
    child_fields: ClassVar[dict[str, ChildShape]] = with_children(tasks=ChildShape.LIST)

    values: list[Any] | dict[str, Any] | str
    concurrencyLimit: DynInt = 1
    tasks: TaskList = Field(min_length=1)

    @field_validator("values", mode="plain")
    @classmethod
    def _values(cls, value: Any) -> Any:
        return _check_values(value)

    @field_validator("concurrencyLimit")
    @classmethod
    def _limit(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError("must be 0 (no limit) or more")
        return value


class EachSequential(FlowableTask):
    """Deprecated predecessor of ForEach: run ``tasks`` once per item of ``value``, in order."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.EachSequential",
        "io.kestra.core.tasks.flows.EachSequential",
    )
    child_fields: ClassVar[dict[str, ChildShape]] = with_children(tasks=ChildShape.LIST)

    value: list[Any] | str
    tasks: TaskList = Field(min_length=1)

    @field_validator("value", mode="plain")
    @classmethod
    def _value(cls, value: Any) -> Any:
        return _check_values(value)


class EachParallel(EachSequential):
    """Deprecated predecessor of ForEach: run ``tasks`` once per item of ``value``, in parallel."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.EachParallel",
        "io.kestra.core.tasks.flows.EachParallel",
    )

    concurrent: DynInt = 0


class Subflow(Task):
    """Start an execution of another flow, and by default wait for it and mirror its state."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.Subflow",
        "io.kestra.core.tasks.flows.Subflow",
        "io.kestra.core.tasks.flows.Flow",
    )
    kind: ClassVar[TaskKind] = TaskKind.FLOWABLE

    namespace: Text
    flowId: Text
    revision: DynInt | None = None
    inputs: dict[str, Any] | None = None
    labels: Labels | None = None
    wait: DynBool = True
    transmitFailed: DynBool = True
    inheritLabels: DynBool = False
    scheduleDate: Text | None = None
    restartBehavior: Annotated[str, Choice("RETRY_FAILED", "NEW_EXECUTION")] | None = None
    outputs: dict[str, Any] | None = None

    @field_validator("labels")
    @classmethod
    def _no_system_labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        # As Kestra's Subflow: the child's system labels come from the engine alone.
        offending = [key for key in value or {} if key.startswith("system.")]
        if offending:
            raise ValueError(
                f"labels {', '.join(repr(k) for k in offending)}: labels starting with "
                "'system.' are set by the engine, not passed to a subflow"
            )
        return value


MODELS: tuple[type[Task], ...] = (
    If,
    Switch,
    Sequential,
    AllowFailure,
    Parallel,
    ForEach,
    EachSequential,
    EachParallel,
    Subflow,
)
