"""Pause and HumanTask: stop the execution until someone resumes it or a duration elapses.

``onResume`` declares the inputs collected at resume time (the same declarations as flow
inputs); their values become ``outputs.<taskId>.onResume.<inputId>``. ``onPause`` is one task
run when the pause begins (typically a notification with a link to resume).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, SerializeAsAny, model_validator

from perch.flows.properties import Choice, Duration, Text
from perch.flows.tasks.base import ChildShape, FlowableTask, Task, with_children
from perch.inputs import InputDeclaration
from perch.modelbase import StrictModel

PAUSE_BEHAVIORS = ("RESUME", "WARN", "CANCEL", "FAIL")


class Pause(FlowableTask):
    """Pause until resumed; after ``pauseDuration`` apply ``behavior`` (default RESUME)."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.flow.Pause",
        "io.kestra.core.tasks.flows.Pause",
    )
    child_fields: ClassVar[dict[str, ChildShape]] = with_children(
        onPause=ChildShape.SINGLE, tasks=ChildShape.LIST
    )

    default_behavior: ClassVar[str] = "RESUME"
    """What happens when ``pauseDuration`` elapses and ``behavior`` is not set."""

    pauseDuration: Duration | None = None
    behavior: Annotated[str, Choice(*PAUSE_BEHAVIORS)] | None = None
    delay: Duration | None = Field(
        default=None, description="Deprecated: use pauseDuration (Kestra copies delay into it)"
    )
    onResume: list[InputDeclaration] | None = None
    onPause: SerializeAsAny[Task] | None = None
    tasks: list[SerializeAsAny[Task]] | None = Field(
        default=None, description="Deprecated: put the tasks after the Pause instead"
    )

    @property
    def effective_duration(self) -> str | None:
        """``pauseDuration``, or the deprecated ``delay`` that Kestra copies into it."""
        if self.pauseDuration is not None:
            return self.pauseDuration
        return self.delay


class Assignment(StrictModel):
    """Who may resume a HumanTask: users (by name or e-mail) and RBAC groups."""

    users: list[Text] | None = None
    groups: list[Text] | None = None


class HumanTask(Pause):
    """A Pause that only the assigned users or members of the assigned groups may resume.

    Its ``pauseDuration`` ends in FAILED unless ``behavior`` says otherwise (as Kestra's): an
    approval nobody gave is not an approval."""

    type_names: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.ee.flow.HumanTask",)
    default_behavior: ClassVar[str] = "FAIL"

    assignment: Assignment

    @model_validator(mode="after")
    def _names_someone(self) -> HumanTask:
        if not self.assignment.users and not self.assignment.groups:
            raise ValueError("a HumanTask's `assignment` needs at least one user or group")
        return self


MODELS: tuple[type[Task], ...] = (Pause, HumanTask)
