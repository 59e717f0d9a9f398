"""Flowables that repeat: WaitFor (run tasks until a condition holds) and ForEachItem (one
subflow execution per batch of the lines of a file).

ForEachItem runs three internal tasks, as Kestra does, with ids made from its own:
``<id>_split`` (a worker cuts the file into batch files), ``<id>_items`` (the executor starts
one subflow execution per batch) and ``<id>_merge`` (a worker merges the subflows' outputs).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, ClassVar

from pydantic import Field, PrivateAttr

from perch.flows.paths import Path
from perch.flows.properties import Choice, Duration, DynBool, DynInt, Labels, Text
from perch.flows.tasks.base import (
    ChildShape,
    FlowableTask,
    Task,
    TaskKind,
    TaskList,
    with_children,
)
from perch.modelbase import StrictModel


class CheckFrequency(StrictModel):
    """How often a WaitFor checks, and when it gives up."""

    maxIterations: DynInt | None = 100
    maxDuration: Duration | None = "PT1H"
    interval: Duration = "PT1S"


class WaitFor(FlowableTask):
    """Run ``tasks`` again and again, ``checkFrequency.interval`` apart, until ``condition``
    (rendered after each iteration) is true or a maximum is reached."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.WaitFor",
        "io.kestra.plugin.core.flow.LoopUntil",
    )
    child_fields: ClassVar[dict[str, ChildShape]] = with_children(tasks=ChildShape.LIST)

    tasks: TaskList = Field(min_length=1)
    condition: Text
    checkFrequency: CheckFrequency = Field(default_factory=CheckFrequency)
    failOnMaxReached: DynBool = False


class Batch(StrictModel):
    """How ForEachItem cuts its file: ``rows`` lines a batch (1 by default), or batches of
    about ``bytes`` (``10MB``), or ``partitions`` batches of about equal size."""

    rows: DynInt | None = None
    bytes: Text | None = None
    partitions: DynInt | None = None
    separator: Text | None = None


class ForEachItemSplit(Task):
    """Internal: cut the items file into batch files (a worker task)."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.ForEachItem$ForEachItemSplit",
    )

    items: Text
    batch: Batch


class ForEachItemExecutable(Task):
    """Internal: start one subflow execution per batch (handled by the executor)."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.ForEachItem$ForEachItemExecutable",
    )
    kind: ClassVar[TaskKind] = TaskKind.FLOWABLE


class ForEachItemMergeOutputs(Task):
    """Internal: merge the outputs of the subflow executions into one file (the executor
    writes it from the outputs it received)."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.ForEachItem$ForEachItemMergeOutputs",
    )
    kind: ClassVar[TaskKind] = TaskKind.FLOWABLE


SPLIT, ITEMS, MERGE = "_split", "_items", "_merge"


class ForEachItem(FlowableTask):
    """Start one execution of ``namespace``/``flowId`` per batch of lines of ``items`` (a
    ``kestra:///`` file), with ``{{ taskrun.items }}`` the URI of the batch's file."""

    type_names: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.core.flow.ForEachItem",)

    items: Text
    batch: Batch = Field(default_factory=Batch)
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

    _internal: tuple[Task, ...] = PrivateAttr(default=())

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        self._internal = (
            ForEachItemSplit(
                id=self.id + SPLIT,
                type=ForEachItemSplit.type_names[0],
                items=self.items,
                batch=self.batch,
            ),
            ForEachItemExecutable(id=self.id + ITEMS, type=ForEachItemExecutable.type_names[0]),
            ForEachItemMergeOutputs(id=self.id + MERGE, type=ForEachItemMergeOutputs.type_names[0]),
        )

    @property
    def internal_tasks(self) -> tuple[Task, ...]:
        """The split, items and merge tasks, in the order they run."""
        return self._internal

    def children(self) -> Iterator[tuple[Path, Task]]:
        for index, task in enumerate(self._internal):
            yield ("tasks", index), task
        yield from super().children()


MODELS: tuple[type[Task], ...] = (WaitFor, ForEachItem)
