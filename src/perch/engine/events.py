"""What can happen to an execution: the inputs of :func:`perch.engine.transition`.

Events are plain data. Values typed by people (``Resume.inputs``) arrive already validated
against the Pause's ``onResume`` declarations and are never rendered as templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from perch.engine.model import JSON
from perch.engine.principal import SYSTEM, Principal
from perch.engine.states import StateType


@dataclass(frozen=True, slots=True)
class Start:
    """Move a CREATED (or a QUEUED whose slot freed) execution forward."""

    principal: Principal = SYSTEM


@dataclass(frozen=True, slots=True)
class TaskStarted:
    """A worker claimed the job of a task run and began attempt ``attempt``."""

    task_run_id: str
    attempt: int
    worker_id: str


@dataclass(frozen=True, slots=True)
class TaskResult:
    """A worker finished attempt ``attempt`` of a task run (a stale attempt is rejected)."""

    task_run_id: str
    attempt: int
    state: StateType
    outputs: Mapping[str, JSON] | None = None
    error: str | None = None
    worker_id: str | None = None


@dataclass(frozen=True, slots=True)
class Resume:
    """A person (or a bulk action) resumes a PAUSED execution with ``onResume`` values."""

    principal: Principal
    inputs: Mapping[str, JSON] = field(default_factory=dict)
    task_run_id: str | None = None
    """Which paused task run; ``None`` resumes the single paused one (or a manual pause)."""


@dataclass(frozen=True, slots=True)
class Pause:
    """Pause a RUNNING execution by hand: running task runs finish, nothing new starts."""

    principal: Principal


@dataclass(frozen=True, slots=True)
class Kill:
    """Kill the execution: running task runs are cancelled, paused ones KILLED."""

    principal: Principal
    to_state: StateType = StateType.KILLED


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A timer written by an earlier transition came due."""

    timer_id: str
    task_run_id: str | None
    action: str
    payload: Mapping[str, JSON] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SubflowEnded:
    """A child execution started by a Subflow task run reached a terminal state."""

    task_run_id: str
    child_execution_id: str
    child_state: StateType
    child_outputs: Mapping[str, JSON] | None = None
    outputs_error: str | None = None
    """Why the child's outputs could not be read: the Subflow task run fails."""


@dataclass(frozen=True, slots=True)
class Restart:
    """Restart a FAILED (or PAUSED) execution from its failed task runs, keeping its id."""

    principal: Principal


Event = (
    Start | TaskStarted | TaskResult | Resume | Pause | Kill | TimerFired | SubflowEnded | Restart
)
