"""The WorkingDirectory flowable: runnable tasks run one after the other in one shared
working directory.

Its children are ordinary task runs that any worker may run. What they leave in the directory
is kept between them as an archive in the execution's files (see
:mod:`perch.engine.workingdir`). Two internal worker tasks, with ids made from the
WorkingDirectory's own, do its file work: ``<id>_inputFiles`` writes ``inputFiles`` into the
directory before the children (only when there are some) and ``<id>_outputFiles`` stores the
files ``outputFiles`` match after them (only when it is set).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import Field, PrivateAttr, model_validator

from perch.flows.paths import Path
from perch.flows.properties import Text
from perch.flows.tasks.base import (
    ChildShape,
    FlowableTask,
    Task,
    TaskKind,
    TaskList,
    with_children,
)

INPUTS, OUTPUTS = "_inputFiles", "_outputFiles"


class WorkingDirectoryInputs(Task):
    """Internal: write the WorkingDirectory's ``inputFiles`` into its directory (a worker task)."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.WorkingDirectory$InputFiles",
    )

    inputFiles: dict[str, Text] | Text


class WorkingDirectoryOutputs(Task):
    """Internal: store the files of the WorkingDirectory's directory that ``outputFiles``
    match (a worker task)."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.WorkingDirectory$OutputFiles",
    )

    outputFiles: list[Text]


class WorkingDirectory(FlowableTask):
    """Run ``tasks`` (runnable tasks only) one after the other, sharing one working directory."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.WorkingDirectory",
        "io.kestra.core.tasks.flows.WorkingDirectory",
        "io.kestra.core.tasks.flows.Worker",
    )
    child_fields: ClassVar[dict[str, ChildShape]] = with_children(tasks=ChildShape.LIST)

    tasks: TaskList = Field(min_length=1)
    inputFiles: dict[str, Text] | Text | None = None
    outputFiles: list[Text] | None = None
    namespaceFiles: dict[str, Any] | None = None
    cache: dict[str, Any] | None = None

    _inputs: WorkingDirectoryInputs | None = PrivateAttr(default=None)
    _outputs: WorkingDirectoryOutputs | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _runnable_children(self) -> WorkingDirectory:
        # As Kestra: the children share a directory on a worker, so flowables cannot be among them.
        wrong = [task.id for task in self.tasks if task.kind is not TaskKind.RUNNABLE]
        if wrong:
            raise ValueError(
                "Only runnable tasks are allowed as children of a WorkingDirectory task "
                f"(not {', '.join(wrong)})"
            )
        return self

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        if self.inputFiles:
            self._inputs = WorkingDirectoryInputs(
                id=self.id + INPUTS,
                type=WorkingDirectoryInputs.type_names[0],
                inputFiles=self.inputFiles,
            )
        if self.outputFiles:
            self._outputs = WorkingDirectoryOutputs(
                id=self.id + OUTPUTS,
                type=WorkingDirectoryOutputs.type_names[0],
                outputFiles=self.outputFiles,
            )

    @property
    def inputs_task(self) -> WorkingDirectoryInputs | None:
        """The internal task that writes ``inputFiles``, when there are any."""
        return self._inputs

    @property
    def outputs_task(self) -> WorkingDirectoryOutputs | None:
        """The internal task that stores the ``outputFiles``, when it is set."""
        return self._outputs

    def children(self) -> Iterator[tuple[Path, Task]]:
        if self._inputs is not None:
            yield ("inputFiles",), self._inputs
        yield from super().children()
        if self._outputs is not None:
            yield ("outputFiles",), self._outputs


MODELS: tuple[type[Task], ...] = (WorkingDirectory,)
"""The internal tasks are not listed: a flow cannot name them."""
