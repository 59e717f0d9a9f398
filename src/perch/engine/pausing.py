"""Pause, resume and kill: the human-in-the-loop transitions.

A resume and a pause timer both end a PAUSED task run; whichever is applied first wins, and the
other finds the task run no longer PAUSED (a resume raises :class:`NotPaused`, a timer is
ignored). A manual resume cancels the task run's timers in the same transition, so the timer
row is gone when the transaction commits.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from perch.engine.advance import end
from perch.engine.assignment import ASSIGNMENT_KEY
from perch.engine.draft import Draft
from perch.engine.effects import Audit, CancelTimers, SendEvent
from perch.engine.events import Kill, Pause, Resume, TimerFired
from perch.engine.flowindex import find_task
from perch.engine.model import Execution, TaskRun
from perch.engine.principal import SYSTEM, Principal
from perch.engine.starting import WAITING_KEY
from perch.engine.states import StateType
from perch.engine.variables import DUE_RETRIES_KEY, MANUAL_PAUSE_KEY
from perch.engine.work import dispatch_due_retries
from perch.engine.workingdir import discard_archives
from perch.errors import AlreadyFinished, NotPaused, NotRunning
from perch.flows import Flow
from perch.flows.tasks.flowable import Subflow
from perch.flows.tasks.pause import Pause as PauseTask
from perch.inputs import InputBase, serialize_input_value

ATTEMPT_NUMBER_KEY = "attemptNumber"


def resumed_output(d: Draft, principal: Principal | None, to: StateType) -> dict[str, Any]:
    """``outputs.<pause>.resumed``: who, when (ISO-8601 UTC with a ``Z``, as every other
    timestamp Perch shows; Kestra writes local time without a zone here), and to what."""
    by = None if principal is None or principal.is_system else principal.name
    on = d.now.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {"by": by, "on": on, "to": to.value}


def not_paused(execution: Execution) -> NotPaused:
    """The conflict of resuming ``execution`` when it is not paused, naming who ended its last
    pause and how (a kill records ``to: KILLING``; a resume or a restart, the state it went on
    in)."""
    for run in reversed(execution.task_runs):
        resumed = (run.outputs or {}).get("resumed")
        if isinstance(resumed, dict) and resumed.get("by"):
            by = str(resumed["by"])
            if resumed.get("to") == StateType.KILLING.value:
                return NotPaused(execution.id, killed_by=by)
            return NotPaused(execution.id, by)
    return NotPaused(execution.id)


def _paused_runs(d: Draft) -> list[TaskRun]:
    return [run for run in d.runs if run.state.current is StateType.PAUSED]


def _next_attempt(d: Draft) -> None:
    number = d.metadata.get(ATTEMPT_NUMBER_KEY)
    d.set_meta(ATTEMPT_NUMBER_KEY, (number if isinstance(number, int) else 1) + 1)


def _restart(d: Draft) -> None:
    d.set_state(StateType.RESTARTED)
    d.set_state(StateType.RUNNING)
    d.log("INFO", "Flow restarted")


def _end_pause(d: Draft, run: TaskRun, to: StateType, outputs: dict[str, Any]) -> None:
    task = d.task(run)
    # A Pause that ends failed (its timeout, a FAIL behavior) does not run its ``tasks``, as in
    # Kestra: it ends at once, unless an ``errors`` or ``finally`` branch has to run first.
    has_children = isinstance(task, PauseTask) and bool(
        task.errors or task.finally_ or (task.tasks and not to.is_failed)
    )
    if has_children and to is not StateType.CANCELLED:
        d.move_run(run, StateType.RUNNING, outputs=outputs)
    else:
        d.move_run(run, StateType.SUCCESS if to is StateType.RUNNING else to, outputs=outputs)


def _after_pause_ended(d: Draft) -> None:
    # Another task run still PAUSED (a parallel branch, a ForEach) keeps the execution PAUSED.
    if not _paused_runs(d):
        _next_attempt(d)
        _restart(d)


def resume(d: Draft, event: Resume) -> None:
    """Resume a paused task run with ``onResume`` values (already validated), or a manual
    pause; raises :class:`NotPaused` when there is nothing to resume."""
    if d.state.current is not StateType.PAUSED:
        raise not_paused(d.original)
    paused = _paused_runs(d)
    if event.task_run_id is not None:
        paused = [run for run in paused if run.id == event.task_run_id]
        if not paused:
            raise not_paused(d.original)
    detail = _detail(d, paused[0] if paused else None, event)
    d.emit(Audit("RESUME", event.principal, detail, before=StateType.PAUSED.value, after="RUNNING"))
    if not paused:
        d.set_meta(MANUAL_PAUSE_KEY, None)
        d.set_state(StateType.RUNNING)
        dispatch_due_retries(d)
        return
    run = paused[0]
    task = d.task(run)
    declared = isinstance(task, PauseTask) and task.onResume is not None
    outputs = {
        **_kept(run),
        "onResume": serialize_input_value(dict(event.inputs)) if declared or event.inputs else None,
        "resumed": resumed_output(d, event.principal, StateType.SUCCESS),
    }
    if _may_have_timer(task):
        d.emit(CancelTimers((run.id,)))
    _end_pause(d, run, StateType.RUNNING, outputs)
    d.set_meta(MANUAL_PAUSE_KEY, None)
    _after_pause_ended(d)


def _kept(run: TaskRun) -> dict[str, Any]:
    """What a paused task run's outputs keep when it ends: a HumanTask's assignment."""
    outputs = run.outputs or {}
    return {ASSIGNMENT_KEY: outputs[ASSIGNMENT_KEY]} if ASSIGNMENT_KEY in outputs else {}


def _may_have_timer(task: object) -> bool:
    """Whether a paused task run of ``task`` may hold a timer row: a Pause only schedules one
    for a ``pauseDuration`` (or ``delay``) or a ``timeout``. Anything else is assumed to."""
    if isinstance(task, PauseTask):
        return task.effective_duration is not None or task.timeout is not None
    return True


def _detail(d: Draft, run: TaskRun | None, event: Resume) -> dict[str, Any]:
    # The values as they were given; a SECRET one keeps its mark and is masked when recorded.
    detail: dict[str, Any] = {
        "executionId": d.original.id,
        "inputs": sorted(event.inputs),
        "values": dict(event.inputs),
    }
    if run is not None:
        detail["taskRunId"] = run.id
        detail["taskId"] = run.task_id
    return detail


def pause_elapsed(d: Draft, event: TimerFired) -> None:
    """A Pause's duration (or timeout) elapsed: apply its behavior, unless it already ended."""
    if d.state.current.is_terminated or not d.has_run(event.task_run_id or ""):
        return
    run = d.run(event.task_run_id or "")
    if run.state.current is not StateType.PAUSED:
        return
    to = StateType(str(event.payload.get("state", StateType.SUCCESS.value)))
    outputs = {**_kept(run), "onResume": None, "resumed": resumed_output(d, None, to)}
    if to is StateType.CANCELLED:
        _end_pause(d, run, to, outputs)
        _stop_everything(d, SYSTEM, StateType.CANCELLED)
        end(d, StateType.CANCELLED)
        return
    _end_pause(d, run, StateType.RUNNING if to is StateType.SUCCESS else to, outputs)
    if d.state.current is StateType.PAUSED:
        _after_pause_ended(d)


def manual_pause(d: Draft, event: Pause) -> None:
    """Pause a RUNNING execution by hand: task runs are left alone, nothing new starts."""
    if d.state.current is not StateType.RUNNING:
        raise NotRunning("The execution is not running")
    d.set_state(StateType.PAUSED)
    d.set_meta(MANUAL_PAUSE_KEY, True)
    d.emit(Audit("PAUSE", event.principal, {"executionId": d.original.id}))


def _stop_everything(d: Draft, principal: Principal, killed: StateType) -> None:
    """Every unfinished task run KILLED (``killed`` for none but the caller's choice); running
    subflows are killed too, and every pending timer goes."""
    for run in list(d.runs):
        if run.state.current.is_terminated:
            continue
        changes: dict[str, Any] = {}
        if run.state.current is StateType.PAUSED:
            changes["outputs"] = {
                **dict(run.outputs or {}),
                "resumed": resumed_output(d, principal, StateType.KILLING),
            }
        task = d.task(run)
        child = (run.outputs or {}).get("executionId")
        if isinstance(task, Subflow) and isinstance(child, str):
            d.emit(SendEvent(child, Kill(principal)))
        d.move_run(run, killed, **changes)
    d.emit(CancelTimers(None))


def kill(d: Draft, event: Kill) -> None:
    """Kill the execution at once: KILLING then ``to_state`` (KILLED by default)."""
    if d.state.current.is_terminated:
        raise AlreadyFinished()
    if d.state.current is StateType.PAUSED:
        d.set_state(StateType.RESTARTED)
    d.set_state(StateType.KILLING)
    discard_archives(d)
    _stop_everything(d, event.principal, StateType.KILLED)
    d.set_meta(MANUAL_PAUSE_KEY, None)
    d.set_meta(DUE_RETRIES_KEY, None)
    d.set_meta(WAITING_KEY, None)  # nothing waits for a worker any more
    d.emit(
        Audit("KILL", event.principal, {"executionId": d.original.id, "to": event.to_state.value})
    )
    end(d, event.to_state)


def resume_declarations(
    flow: Flow, execution: Execution, task_run_id: str | None = None
) -> list[InputBase]:
    """The ``onResume`` declarations of the paused task run (none for a manual pause);
    raises :class:`NotPaused` when the execution (or that task run) is not paused."""
    if execution.state.current is not StateType.PAUSED:
        raise not_paused(execution)
    paused = [run for run in execution.task_runs if run.state.current is StateType.PAUSED]
    if task_run_id is not None:
        paused = [run for run in paused if run.id == task_run_id]
        if not paused:
            raise not_paused(execution)
    if not paused:
        return []
    task = find_task(flow, paused[0].task_id)
    if isinstance(task, PauseTask):
        return list(task.onResume or [])
    return []
