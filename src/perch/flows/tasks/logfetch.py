"""``io.kestra.plugin.core.log.Fetch``: an execution's log lines, as a file."""

from __future__ import annotations

from typing import Annotated, ClassVar

from perch.flows.properties import LOG_LEVELS, Choice, Text
from perch.flows.tasks.base import Task
from perch.flows.tasks.execution import ExecutionTarget


class Fetch(ExecutionTarget):
    """Write the log lines of an execution (this one by default) at ``level`` or above, of the
    tasks ``tasksId`` (all by default), to a file: outputs ``uri`` and ``size``."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.log.Fetch",
        "io.kestra.core.tasks.log.Fetch",
    )

    tasksId: list[Text] | None = None
    level: Annotated[str, Choice(*LOG_LEVELS, dynamic=False)] = "INFO"


MODELS: tuple[type[Task], ...] = (Fetch,)
