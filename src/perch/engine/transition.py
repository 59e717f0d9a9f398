"""The one entry point of the state machine: ``transition(flow, execution, event)``.

Pure: it reads only its arguments (time is ``now``), returns the new execution and the effects
to write with it, and raises :class:`perch.errors.IllegalState` subclasses or
:class:`perch.errors.StaleResult` for events that must not apply. It never bumps
``version``: the store does, when it writes the result with a compare-and-set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from perch.engine.advance import advance
from perch.engine.draft import Draft
from perch.engine.effects import Audit, Effect
from perch.engine.events import (
    Event,
    Kill,
    Pause,
    Restart,
    Resume,
    Start,
    SubflowEnded,
    TaskResult,
    TaskStarted,
    TimerFired,
)
from perch.engine.foreachitem import batch_ended
from perch.engine.model import Execution
from perch.engine.pausing import kill, manual_pause, pause_elapsed, resume
from perch.engine.restart import restart
from perch.engine.starting import (
    PAUSE_ELAPSED,
    RETRY,
    SLEEP_DONE,
    TASK_TIMEOUT,
    as_bool,
    end_subflow_run,
)
from perch.engine.states import StateType, fail_state
from perch.engine.waitfor import WAITFOR_NEXT, next_iteration
from perch.engine.work import task_result, task_started, timer_retry, timer_timeout
from perch.errors import IllegalState, StaleResult
from perch.flows import Flow
from perch.flows.tasks.flowable import Subflow
from perch.flows.tasks.loops import ForEachItemExecutable

_STARTABLE = (StateType.CREATED, StateType.QUEUED, StateType.RESTARTED)


@dataclass(frozen=True)
class Transition:
    """The execution after an event, and what must be written with it."""

    execution: Execution
    effects: tuple[Effect, ...]


def transition(
    flow: Flow,
    execution: Execution,
    event: Event,
    *,
    now: datetime,
    hooks: Mapping[str, Callable[..., Any]] | None = None,
    workers: Callable[[str], bool] | None = None,
) -> Transition:
    """Apply ``event`` to ``execution`` and advance it as far as it goes without outside work.

    ``flow`` is the revision the execution is pinned to. ``hooks`` are the template functions
    that reach outside (``secret``, ``kv``...); ``workers(key)`` whether worker group ``key``
    has a live worker (for ``workerGroup.fallback``). Raises :class:`perch.errors.NotPaused`,
    :class:`perch.errors.NotRunning`, :class:`perch.errors.AlreadyFinished`,
    :class:`perch.errors.IllegalState` or :class:`perch.errors.StaleResult`.
    """
    d = Draft(flow, execution, now, hooks, workers)
    if isinstance(event, TaskResult):
        task_result(d, event)
    elif isinstance(event, TaskStarted):
        if not task_started(d, event):
            return Transition(d.build(), tuple(d.effects))
    elif isinstance(event, TimerFired):
        _timer(d, event)
    elif isinstance(event, Start):
        _start(d, event)
    elif isinstance(event, Resume):
        resume(d, event)
    elif isinstance(event, Pause):
        manual_pause(d, event)
    elif isinstance(event, Kill):
        kill(d, event)
    elif isinstance(event, SubflowEnded):
        _subflow_ended(d, event)
    elif isinstance(event, Restart):
        restart(d, event)
    else:  # pragma: no cover - the Event union is closed
        raise TypeError(f"unknown event {event!r}")
    advance(d)
    return Transition(d.build(), tuple(d.effects))


def _start(d: Draft, event: Start) -> None:
    current = d.state.current
    if current not in _STARTABLE:
        raise IllegalState(f"Execution '{d.original.id}' has already started ({current.value})")
    replay = d.original.original_id is not None
    if current is StateType.CREATED or (replay and current is StateType.RESTARTED):
        detail: dict[str, str | None] = {
            "executionId": d.original.id,
            "namespace": d.original.namespace,
            "flowId": d.original.flow_id,
        }
        if replay:
            detail["originalId"] = d.original.original_id
        d.emit(Audit("REPLAY" if replay else "CREATE", event.principal, detail))
    d.set_state(StateType.RUNNING)


def _timer(d: Draft, event: TimerFired) -> None:
    if event.action == PAUSE_ELAPSED:
        pause_elapsed(d, event)
    elif event.action == RETRY:
        timer_retry(d, event)
    elif event.action == TASK_TIMEOUT:
        timer_timeout(d, event)
    elif event.action == WAITFOR_NEXT:
        next_iteration(d, event)
    elif event.action == SLEEP_DONE:
        if d.state.current.is_terminated or not d.has_run(event.task_run_id or ""):
            return
        run = d.run(event.task_run_id or "")
        if run.state.current is StateType.RUNNING:
            d.move_run(run, StateType.SUCCESS)
    else:
        raise IllegalState(f"Unknown timer action '{event.action}'")


_CHILD_STATES = {
    StateType.SUCCESS: StateType.SUCCESS,
    StateType.WARNING: StateType.WARNING,
    StateType.FAILED: StateType.FAILED,
    StateType.KILLED: StateType.KILLED,
    StateType.CANCELLED: StateType.CANCELLED,
}


def _subflow_ended(d: Draft, event: SubflowEnded) -> None:
    """The child of a waiting Subflow task run ended: mirror its state and outputs."""
    if d.state.current.is_terminated or not d.has_run(event.task_run_id):
        raise StaleResult()
    run = d.run(event.task_run_id)
    if isinstance(d.task(run), ForEachItemExecutable):
        batch_ended(d, event)
        return
    outputs = dict(run.outputs or {})
    if run.state.current.is_terminated or outputs.get("executionId") != event.child_execution_id:
        raise StaleResult()
    task = d.task(run)
    outputs["state"] = event.child_state.value
    outputs["outputs"] = dict(event.child_outputs or {})
    if event.outputs_error is not None:
        # As in Kestra: outputs that cannot be read fail the task run, whatever the child did
        # and whether or not its failures are transmitted.
        d.log(
            "ERROR",
            f"The outputs of subflow execution '{event.child_execution_id}' (which ended "
            f"{event.child_state.value}) could not be read: {event.outputs_error}",
            run,
        )
        failed = fail_state(allow_failure=task.allowFailure, allow_warning=task.allowWarning)
        end_subflow_run(d, run, failed, outputs)
        return
    state = _CHILD_STATES.get(event.child_state, StateType.FAILED)
    transmit = as_bool(d, task.transmitFailed, run) if isinstance(task, Subflow) else True
    if not transmit or (state is StateType.WARNING and task.allowWarning):
        # Kestra's guessState: without transmitFailed the task run succeeds whatever the
        # child did, and allowWarning turns a child's WARNING into SUCCESS.
        state = StateType.SUCCESS
    if state.is_failed:
        d.log("ERROR", f"Subflow execution '{event.child_execution_id}' ended {state.value}", run)
    if state is StateType.FAILED:
        state = fail_state(allow_failure=task.allowFailure, allow_warning=task.allowWarning)
    end_subflow_run(d, run, state, outputs)
