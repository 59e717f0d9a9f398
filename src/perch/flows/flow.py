"""The Flow model: one Kestra flow document, with its tasks built through the registry."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, SerializeAsAny, field_validator

from perch.flows.paths import Path
from perch.flows.properties import Choice, FlowId, Labels, Matches, Namespace, Text
from perch.flows.tasks.base import Retry, Task, TaskList
from perch.flows.triggers import Trigger
from perch.inputs import InputDeclaration
from perch.modelbase import StrictModel

OUTPUT_ID_PATTERN = re.compile(r"^[a-zA-Z0-9][.a-zA-Z0-9_-]*$")
SYSTEM_LABEL_PREFIX = "system."
SETTABLE_SYSTEM_LABELS = ("system.readOnly",)


class FlowOutput(StrictModel):
    """A flow-level output: ``value`` is rendered when the execution ends."""

    id: Annotated[
        str,
        Matches(
            OUTPUT_ID_PATTERN,
            "output id",
            rule="use letters, digits, '.', '_' and '-', starting with a letter or a digit",
        ),
    ]
    type: Text
    value: Any = None
    description: Text | None = None
    displayName: Text | None = None
    required: bool | None = None


class Concurrency(StrictModel):
    """How many executions of the flow may run at once, and what happens to the others."""

    limit: int = Field(ge=1)
    behavior: Annotated[str, Choice("QUEUE", "CANCEL", "FAIL", dynamic=False)] = "QUEUE"


class PluginDefault(StrictModel):
    """Default property ``values`` for every task or trigger whose type matches ``type``.

    ``type`` is a full class name or a package prefix (``io.kestra.plugin.notifications``).
    With ``forced: true`` the values replace what the flow says instead of filling gaps.
    """

    type: Text
    forced: bool = False
    values: dict[str, Any] = Field(default_factory=dict)


class Check(StrictModel):
    """A flow-level check, evaluated before an execution is created (Kestra 1.2+)."""

    condition: Text
    message: Text
    style: Annotated[str, Choice("ERROR", "SUCCESS", "WARNING", "INFO", dynamic=False)] = "INFO"
    behavior: Annotated[
        str, Choice("BLOCK_EXECUTION", "FAIL_EXECUTION", "CREATE_EXECUTION", dynamic=False)
    ] = "BLOCK_EXECUTION"


class Flow(StrictModel):
    """A flow: its identity, inputs, tasks and triggers. ``source`` is the YAML as written."""

    id: FlowId
    namespace: Namespace
    revision: int | None = Field(default=None, ge=1)
    description: Text | None = None
    labels: Labels | None = None
    inputs: list[InputDeclaration] | None = None
    variables: dict[str, Any] | None = None
    tasks: TaskList = Field(min_length=1)
    errors: TaskList | None = None
    finally_: TaskList | None = Field(default=None, alias="finally")
    afterExecution: TaskList | None = None
    triggers: list[SerializeAsAny[Trigger]] | None = None
    outputs: list[FlowOutput] | None = None
    concurrency: Concurrency | None = None
    retry: Retry | None = None
    disabled: bool = False
    deleted: bool = Field(
        default=False, description="Written by Kestra's exports; a flow source cannot be deleted"
    )
    pluginDefaults: list[PluginDefault] | None = None
    taskDefaults: list[PluginDefault] | None = Field(
        default=None, description="Deprecated name of pluginDefaults"
    )
    sla: list[dict[str, Any]] | None = None
    checks: list[Check] | None = None

    _source: str = PrivateAttr(default="")

    @field_validator("labels")
    @classmethod
    def _no_system_labels(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        offending = [
            key
            for key in value or {}
            if key.startswith(SYSTEM_LABEL_PREFIX) and key not in SETTABLE_SYSTEM_LABELS
        ]
        if offending:
            raise ValueError(
                f"labels {', '.join(repr(k) for k in offending)}: labels starting with "
                f"'{SYSTEM_LABEL_PREFIX}' are set by the engine, not by a flow "
                f"(except {', '.join(SETTABLE_SYSTEM_LABELS)})"
            )
        return value

    @field_validator("deleted")
    @classmethod
    def _not_deleted(cls, value: bool) -> bool:
        # Kestra's exports carry `deleted: false`; a deleted flow is the API's business.
        if value:
            raise ValueError("a flow cannot be written as deleted; delete it through the API")
        return value

    @property
    def source(self) -> str:
        """The YAML text this flow was parsed from, byte for byte."""
        return self._source

    def with_source(self, source: str) -> Flow:
        """This flow, remembering ``source`` as its original text."""
        self._source = source
        return self

    @property
    def plugin_defaults(self) -> list[PluginDefault]:
        """``pluginDefaults`` and the deprecated ``taskDefaults``, in that order."""
        return [*(self.pluginDefaults or []), *(self.taskDefaults or [])]

    def walk_tasks(self) -> Iterator[tuple[Path, Task]]:
        """Every task in the flow with its path, depth first, in document order."""
        for key, tasks in (
            ("tasks", self.tasks),
            ("errors", self.errors),
            ("finally", self.finally_),
            ("afterExecution", self.afterExecution),
        ):
            for index, task in enumerate(tasks or []):
                yield from task.walk((key, index))

    def all_tasks(self) -> Iterator[Task]:
        """Every task in the flow, nested ones included, depth first."""
        for _, task in self.walk_tasks():
            yield task

    def find_task(self, task_id: str) -> Task | None:
        """The task with id ``task_id`` anywhere in the tree, or ``None``."""
        return next((t for t in self.all_tasks() if t.id == task_id), None)
