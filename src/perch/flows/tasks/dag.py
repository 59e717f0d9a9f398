"""The Dag flowable: tasks that run as soon as the tasks they depend on have ended.

A Dag holds entries ``{task: {...}, dependsOn: [ids]}``. Validation refuses a ``dependsOn``
that names no task of the same Dag, and dependencies that loop back to a task (Kestra's
messages: "Not existing task id in dependency: …" and "Cyclic dependency detected: …").
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, SerializeAsAny, model_validator

from perch.flows.properties import DynInt, TaskId
from perch.flows.tasks.base import ChildShape, FlowableTask, Task, with_children
from perch.modelbase import StrictModel


class DagTask(StrictModel):
    """One entry of a Dag: a task and the ids of the Dag's tasks it waits for."""

    task: SerializeAsAny[Task]
    dependsOn: list[TaskId] | None = None


def missing_dependencies(entries: list[DagTask]) -> list[str]:
    """The ``dependsOn`` ids that name no task of the Dag, in the order written."""
    known = {entry.task.id for entry in entries}
    return [dep for entry in entries for dep in entry.dependsOn or () if dep not in known]


def cyclic_tasks(entries: list[DagTask]) -> list[str]:
    """The tasks that depend, directly or through others, on themselves (in the Dag's order)."""
    depends = {entry.task.id: list(entry.dependsOn or ()) for entry in entries}
    found: list[str] = []
    for entry in entries:
        start = entry.task.id
        seen: set[str] = set()
        stack = list(depends.get(start, ()))
        while stack:
            current = stack.pop()
            if current == start:
                found.append(start)
                break
            if current in seen:
                continue
            seen.add(current)
            stack.extend(depends.get(current, ()))
    return found


class Dag(FlowableTask):
    """Run ``tasks`` as a graph: each starts once every task it ``dependsOn`` has ended
    without failing, at most ``concurrent`` at once (0: no limit)."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.Dag",
        "io.kestra.core.tasks.flows.Dag",
    )
    child_fields: ClassVar[dict[str, ChildShape]] = with_children(tasks=ChildShape.ENTRIES)

    tasks: list[DagTask] = Field(min_length=1)
    concurrent: DynInt = 0

    @model_validator(mode="after")
    def _graph(self) -> Dag:
        missing = missing_dependencies(self.tasks)
        if missing:
            raise ValueError(f"Not existing task id in dependency: {', '.join(missing)}")
        cyclic = cyclic_tasks(self.tasks)
        if cyclic:
            raise ValueError(f"Cyclic dependency detected: {', '.join(cyclic)}")
        return self

    def depends(self) -> dict[str, tuple[str, ...]]:
        """The dependencies of each task of the Dag, by task id."""
        return {entry.task.id: tuple(entry.dependsOn or ()) for entry in self.tasks}

    def entry_tasks(self) -> list[Task]:
        """The Dag's tasks, in the order written."""
        return [entry.task for entry in self.tasks]


MODELS: tuple[type[Task], ...] = (Dag,)
