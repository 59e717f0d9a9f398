"""The base class of every task model, and the properties all tasks share.

A task model declares the type names it answers to (``type_names``: the Kestra class name first,
then older class names) and whether it is *runnable* (a worker does the work) or *flowable* (the
executor decides what runs next). Properties that hold other tasks are listed in
``child_fields`` so that the validator can build nested tasks through the registry, keeping the
full path of every nested problem, and so that :meth:`Task.children` can walk the tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AliasChoices, Field, SerializeAsAny

from perch.flows.paths import Path
from perch.flows.properties import (
    Choice,
    Duration,
    DynBool,
    DynInt,
    LogLevel,
    TaskId,
    Text,
)
from perch.modelbase import StrictModel


class TaskKind(StrEnum):
    """Who handles a task: a worker (runnable) or the executor (flowable)."""

    RUNNABLE = "runnable"
    FLOWABLE = "flowable"


class ChildShape(StrEnum):
    """How a property holds nested tasks."""

    LIST = "list"  # tasks: [..]
    MAP = "map"  # cases: {name: [..]}
    SINGLE = "single"  # onPause: {..}
    ENTRIES = "entries"  # tasks: [{task: {..}, dependsOn: [..]}] (a Dag)


_RetryBehavior = Annotated[str, Choice("RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION")]


class _RetryBase(StrictModel):
    maxAttempts: DynInt | None = Field(
        default=None, validation_alias=AliasChoices("maxAttempts", "maxAttempt")
    )
    maxDuration: Duration | None = None
    warningOnRetry: DynBool | None = None
    behavior: _RetryBehavior | None = None


class ConstantRetry(_RetryBase):
    """Retry after the same ``interval`` each time."""

    type: Literal["constant"]
    interval: Duration


class ExponentialRetry(_RetryBase):
    """Retry after ``interval``, growing by ``delayFactor`` up to ``maxInterval``."""

    type: Literal["exponential"]
    interval: Duration
    maxInterval: Duration
    delayFactor: float | None = None


class RandomRetry(_RetryBase):
    """Retry after a random delay between ``minInterval`` and ``maxInterval``."""

    type: Literal["random"]
    minInterval: Duration
    maxInterval: Duration


Retry = Annotated[ConstantRetry | ExponentialRetry | RandomRetry, Field(discriminator="type")]


class WorkerGroup(StrictModel):
    """Where a task runs: only a worker started with ``--worker-group KEY`` takes it. With no
    live worker in that group, ``fallback`` says what happens: WAIT (the default) for one,
    FAIL the task, or CANCEL it."""

    key: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$", max_length=150)
    fallback: Literal["FAIL", "WAIT", "CANCEL"] | None = None


class Task(StrictModel):
    """Properties every task has, whatever its type."""

    type_names: ClassVar[tuple[str, ...]] = ()
    short_alias: ClassVar[bool] = True
    """Whether the last segment of the class name (``Log``) names this type too."""
    kind: ClassVar[TaskKind] = TaskKind.RUNNABLE
    child_fields: ClassVar[dict[str, ChildShape]] = {}

    id: TaskId
    type: str
    description: Text | None = None
    disabled: bool = False
    runIf: Text | None = None
    allowFailure: bool = False
    allowWarning: bool = False
    timeout: Duration | None = None
    retry: Retry | None = None
    logLevel: LogLevel | None = None
    logToFile: bool = False
    workerGroup: WorkerGroup | None = None
    version: Text | None = None
    taskCache: dict[str, Any] | None = None

    @property
    def canonical_type(self) -> str:
        """The Kestra class name of this task's type, whatever alias the flow used."""
        return self.type_names[0] if self.type_names else self.type

    @classmethod
    def attribute_for(cls, key: str) -> str:
        """The Python attribute that holds the YAML property ``key``."""
        for name, info in cls.model_fields.items():
            if key in (info.alias, name):
                return name
        raise KeyError(key)

    def children(self) -> Iterator[tuple[Path, Task]]:
        """Every task held directly by this one, with its path relative to this task."""
        for key, shape in self.child_fields.items():
            value: Any = getattr(self, self.attribute_for(key))
            if value is None:
                continue
            if shape is ChildShape.SINGLE:
                yield (key,), value
            elif shape is ChildShape.LIST:
                for index, task in enumerate(value):
                    yield (key, index), task
            elif shape is ChildShape.ENTRIES:
                for index, entry in enumerate(value):
                    yield (key, index, "task"), entry.task
            else:
                for case, tasks in value.items():
                    for index, task in enumerate(tasks):
                        yield (key, case, index), task

    def walk(self, path: Path = ()) -> Iterator[tuple[Path, Task]]:
        """This task and every task nested in it, depth first, with their paths."""
        yield path, self
        for relative, child in self.children():
            yield from child.walk((*path, *relative))


TaskList = list[SerializeAsAny[Task]]
"""A list of tasks of any registered type (built one by one through the registry)."""


class FlowableTask(Task):
    """A task the executor handles, which may hold its own ``errors`` and ``finally`` tasks."""

    kind: ClassVar[TaskKind] = TaskKind.FLOWABLE
    child_fields: ClassVar[dict[str, ChildShape]] = {
        "errors": ChildShape.LIST,
        "finally": ChildShape.LIST,
    }

    errors: TaskList | None = None
    finally_: TaskList | None = Field(default=None, alias="finally")


def with_children(**fields: ChildShape) -> dict[str, ChildShape]:
    """``child_fields`` of a flowable task: its own nested-task properties plus errors/finally."""
    return {**fields, **FlowableTask.child_fields}
