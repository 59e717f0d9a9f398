"""Kestra's execution and task-run states, and the predicates the engine relies on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class StateType(StrEnum):
    """The states of an execution or a task run, in Kestra's order."""

    CREATED = "CREATED"
    SUBMITTED = "SUBMITTED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    RESTARTED = "RESTARTED"
    KILLING = "KILLING"
    SUCCESS = "SUCCESS"
    WARNING = "WARNING"
    FAILED = "FAILED"
    KILLED = "KILLED"
    CANCELLED = "CANCELLED"
    QUEUED = "QUEUED"
    RETRYING = "RETRYING"
    RETRIED = "RETRIED"
    SKIPPED = "SKIPPED"
    BREAKPOINT = "BREAKPOINT"
    RESUBMITTED = "RESUBMITTED"

    @property
    def is_terminated(self) -> bool:
        return self in _TERMINATED

    @property
    def is_terminated_no_fail(self) -> bool:
        return self in _TERMINATED_NO_FAIL

    @property
    def is_failed(self) -> bool:
        return self in (StateType.FAILED, StateType.KILLED, StateType.CANCELLED)

    @property
    def is_running(self) -> bool:
        return self in (StateType.RUNNING, StateType.KILLING)

    @property
    def is_created(self) -> bool:
        return self in (StateType.CREATED, StateType.RESTARTED)

    @property
    def is_paused(self) -> bool:
        return self is StateType.PAUSED


_TERMINATED = frozenset(
    {
        StateType.FAILED,
        StateType.WARNING,
        StateType.SUCCESS,
        StateType.KILLED,
        StateType.CANCELLED,
        StateType.RETRIED,
        StateType.SKIPPED,
        StateType.RESUBMITTED,
    }
)
_TERMINATED_NO_FAIL = frozenset(
    {
        StateType.WARNING,
        StateType.SUCCESS,
        StateType.RETRIED,
        StateType.SKIPPED,
        StateType.RESUBMITTED,
    }
)


def fail_state(*, allow_failure: bool, allow_warning: bool) -> StateType:
    """The state a failing task ends in: Kestra's ``State.Type.fail(task)``."""
    if allow_failure and allow_warning:
        return StateType.SUCCESS
    if allow_failure:
        return StateType.WARNING
    return StateType.FAILED


@dataclass(frozen=True, slots=True)
class StateHistory:
    """One entry of a state history: the state and when it was entered (UTC)."""

    state: StateType
    date: datetime


@dataclass(frozen=True, slots=True)
class State:
    """The current state and every state entered before it, oldest first."""

    current: StateType
    histories: tuple[StateHistory, ...]

    @classmethod
    def new(cls, now: datetime, state: StateType = StateType.CREATED) -> State:
        return cls(state, (StateHistory(state, now),))

    def with_state(self, state: StateType, now: datetime) -> State:
        """This state moved to ``state`` at ``now`` (a no-op when already there)."""
        if state is self.current:
            return self
        # Built directly: dataclasses.replace costs several times more, on the hottest path.
        return State(state, (*self.histories, StateHistory(state, now)))

    @property
    def start_date(self) -> datetime:
        return self.histories[0].date

    @property
    def end_date(self) -> datetime | None:
        """When the state ended: set for terminated and paused states, as in Kestra."""
        if self.current.is_terminated or self.current.is_paused:
            return self.histories[-1].date
        return None

    @property
    def duration(self) -> timedelta:
        return self.histories[-1].date - self.histories[0].date

    def entered(self, state: StateType) -> bool:
        """Whether this state history ever passed through ``state``."""
        return any(h.state is state for h in self.histories)
