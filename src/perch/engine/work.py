"""What workers report, and what happens around an attempt: timeouts and retries.

An attempt is current when its number is the task run's attempt count and it has not ended;
anything a worker says about another attempt (an old one, one that timed out, a task run that
was killed) is rejected with :class:`perch.errors.StaleResult`, so a late worker can never undo
a decision that was already written.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from perch.durations import format_duration, parse_duration
from perch.engine.draft import Draft
from perch.engine.effects import CancelTimers, ScheduleTimer
from perch.engine.events import TaskResult, TaskStarted, TimerFired
from perch.engine.ids import new_id
from perch.engine.model import Attempt, TaskRun
from perch.engine.starting import RETRY, TASK_TIMEOUT, WAITING_KEY, as_bool, as_int, dispatch
from perch.engine.states import State, StateType, fail_state
from perch.engine.variables import DUE_RETRIES_KEY, MANUAL_PAUSE_KEY
from perch.errors import PerchError, StaleResult
from perch.flows import Task
from perch.flows.tasks.base import ConstantRetry, ExponentialRetry, Retry

LOST_ATTEMPTS_KEY = "lostAttempts"
"""Execution metadata: how many attempts of each task run lost their worker, by task run id."""
MAX_LOST_ATTEMPTS = 3
"""Attempts of one task run that may lose their worker (a crash or restart while it ran)
before the task run fails instead of starting again: a task that brings the server down at
every start must not be retried forever."""

_DONE = (StateType.SUCCESS, StateType.WARNING, StateType.SKIPPED)


def _current(d: Draft, task_run_id: str, attempt: int) -> TaskRun:
    if d.state.current.is_terminated or not d.has_run(task_run_id):
        raise StaleResult()
    run = d.run(task_run_id)
    if run.state.current.is_terminated or attempt != len(run.attempts):
        raise StaleResult()
    return run


def _with_attempt(d: Draft, run: TaskRun, attempt: Attempt) -> TaskRun:
    return d.put(run.evolve(attempts=(*run.attempts[:-1], attempt)))


def task_started(d: Draft, event: TaskStarted) -> bool:
    """A worker began the current attempt (or took over a job whose lease ended); True when
    the task run ended instead (it lost its worker too often), and the execution must advance.
    """
    if (
        d.has_run(event.task_run_id)
        and event.attempt == len(d.run(event.task_run_id).attempts) + 1
        and not d.state.current.is_terminated
    ):
        # The caller counts a re-claimed job as a new attempt: the lost one failed.
        run = d.run(event.task_run_id)
        if run.state.current.is_terminated or not run.attempts:
            raise StaleResult()
        last = run.attempts[-1]
        if last.state.current.is_terminated:
            raise StaleResult()
        run = _with_attempt(
            d, run, Attempt(last.state.with_state(StateType.FAILED, d.now), last.worker_id)
        )
        lost_counts = dict(d.metadata.get(LOST_ATTEMPTS_KEY) or {})
        lost = int(lost_counts.get(run.id, 0)) + 1
        lost_counts[run.id] = lost
        d.set_meta(LOST_ATTEMPTS_KEY, lost_counts)
        if lost >= MAX_LOST_ATTEMPTS:
            task = d.task(run)
            d.log(
                "ERROR",
                f"Task '{run.task_id}' lost its worker {lost} times (the server crashed or "
                "restarted while it ran, or it exceeded a limit that stops the process); "
                "it is failed instead of being started again",
                run,
            )
            d.move_run(
                run, fail_state(allow_failure=task.allowFailure, allow_warning=task.allowWarning)
            )
            return True
        run = d.put(run.evolve(attempts=(*run.attempts, Attempt(State.new(d.now)))))
    run = _current(d, event.task_run_id, event.attempt)
    last = run.attempts[-1]
    if last.state.current.is_terminated:
        raise StaleResult()
    if last.state.current is StateType.RUNNING and last.worker_id == event.worker_id:
        return False
    # A running attempt taken by another worker was handed back (its worker stopped
    # gracefully): the same attempt goes on, neither failed nor counted lost.
    taken_over = last.state.current is StateType.RUNNING
    if taken_over:
        d.log("INFO", f"Attempt {event.attempt} handed back by {last.worker_id}, continued", run)
    attempt = Attempt(last.state.with_state(StateType.RUNNING, d.now), event.worker_id)
    run = _with_attempt(d, run, attempt)
    waiting = d.metadata.get(WAITING_KEY)
    if isinstance(waiting, dict) and run.id in waiting:
        rest = {k: v for k, v in waiting.items() if k != run.id}
        d.set_meta(WAITING_KEY, rest or None)
    d.move_run(run, StateType.RUNNING)
    task = d.task(run)
    if task.timeout is not None:
        if taken_over:
            d.emit(CancelTimers((run.id,)))
        try:
            limit = parse_duration(str(d.render(task.timeout, run)))
        except PerchError as exc:
            d.log("WARN", f"Ignoring the task timeout: {exc}", run)
            return False
        d.emit(
            ScheduleTimer(new_id(), d.now + limit, TASK_TIMEOUT, run.id, {"attempt": event.attempt})
        )
    return False


def task_result(d: Draft, event: TaskResult) -> None:
    """Record the outcome of the current attempt; a failure may schedule a retry."""
    run = _current(d, event.task_run_id, event.attempt)
    last = run.attempts[-1]
    if last.state.current.is_terminated or (
        event.worker_id is not None
        and last.worker_id is not None
        and event.worker_id != last.worker_id
    ):
        raise StaleResult()
    task = d.task(run)
    if task.timeout is not None:
        d.emit(CancelTimers((run.id,)))
    if event.outputs is not None:
        run = d.put(run.evolve(outputs=dict(event.outputs)))
    if event.error:
        d.log("ERROR", event.error, run)
    if event.state in _DONE:
        state = event.state
        policy = retry_policy(d, task)
        warn = None if policy is None else policy.warningOnRetry
        if warn is not None and len(run.attempts) > 1 and state is StateType.SUCCESS:
            state = StateType.WARNING if as_bool(d, warn, run) else state
        if state is StateType.WARNING and task.allowWarning:
            state = StateType.SUCCESS
        d.move_run(run, state)
        return
    fail_attempt(d, run, task)


def fail_attempt(d: Draft, run: TaskRun, task: Task) -> None:
    """The current attempt failed: retry it later if the task's ``retry`` allows, else fail."""
    last = run.attempts[-1]
    run = _with_attempt(
        d, run, Attempt(last.state.with_state(StateType.FAILED, d.now), last.worker_id)
    )
    try:
        delay = retry_delay(d, task, run)
    except PerchError as exc:
        d.log("WARN", f"Not retrying: {exc}", run)
        delay = None
    if delay is None:
        d.move_run(
            run, fail_state(allow_failure=task.allowFailure, allow_warning=task.allowWarning)
        )
        return
    d.move_run(run, StateType.RETRYING)
    d.emit(ScheduleTimer(new_id(), d.now + delay, RETRY, run.id, {"attempt": len(run.attempts)}))


def retry_policy(d: Draft, task: Task) -> Retry | None:
    """The task's ``retry``, else the flow's (unless the flow asks for a new execution, which
    is the caller's business: the task then simply fails)."""
    if task.retry is not None:
        return task.retry
    flow_retry = d.flow.retry
    if flow_retry is None or flow_retry.behavior == "CREATE_NEW_EXECUTION":
        return None
    return flow_retry


def retry_delay(d: Draft, task: Task, run: TaskRun) -> timedelta | None:
    """How long to wait before the next attempt, or ``None`` when retries are used up."""
    retry = retry_policy(d, task)
    if retry is None:
        return None
    done = len(run.attempts)
    if retry.maxAttempts is not None and done >= as_int(d, retry.maxAttempts, run):
        return None

    def duration(text: str) -> timedelta:
        return parse_duration(str(d.render(text, run)))

    if isinstance(retry, ConstantRetry):
        delay = duration(retry.interval)
    elif isinstance(retry, ExponentialRetry):
        factor = retry.delayFactor if retry.delayFactor is not None else 2.0
        ceiling = duration(retry.maxInterval)
        try:
            delay = min(duration(retry.interval) * factor ** (done - 1), ceiling)
        except OverflowError:  # many attempts: the growth left every representable duration
            delay = ceiling
    else:
        low, high = duration(retry.minInterval), duration(retry.maxInterval)
        # Deterministic "randomness": a transition must give the same answer when replayed.
        digest = hashlib.sha256(f"{run.id}:{done}".encode()).digest()
        delay = low + (high - low) * (int.from_bytes(digest[:4], "big") / 2**32)
    if retry.maxDuration is not None:
        started = run.attempts[0].state.start_date
        if d.now + delay - started > duration(retry.maxDuration):
            return None
    return delay


def timer_retry(d: Draft, event: TimerFired) -> None:
    """The retry delay is over: dispatch the next attempt (ignored if the run moved on)."""
    if not d.has_run(event.task_run_id or "") or d.state.current.is_terminated:
        return
    run = d.run(event.task_run_id or "")
    if run.state.current is not StateType.RETRYING:
        return
    if event.payload.get("attempt") != len(run.attempts):
        return
    if d.metadata.get(MANUAL_PAUSE_KEY):
        # Paused by hand: nothing new starts, a retry included; the resume starts it.
        due = [*d.metadata.get(DUE_RETRIES_KEY, ()), run.id]
        d.set_meta(DUE_RETRIES_KEY, due)
        return
    dispatch(d, run)


def dispatch_due_retries(d: Draft) -> None:
    """Start the retries that fell due while the execution was paused by hand."""
    due = d.metadata.get(DUE_RETRIES_KEY)
    if not due:
        return
    d.set_meta(DUE_RETRIES_KEY, None)
    for run_id in due:
        if d.has_run(run_id) and d.run(run_id).state.current is StateType.RETRYING:
            dispatch(d, d.run(run_id))


def timer_timeout(d: Draft, event: TimerFired) -> None:
    """The attempt ran out of time: it fails (and a late result for it is stale)."""
    if not d.has_run(event.task_run_id or "") or d.state.current.is_terminated:
        return
    run = d.run(event.task_run_id or "")
    if run.state.current.is_terminated or event.payload.get("attempt") != len(run.attempts):
        return
    if run.attempts[-1].state.current.is_terminated:
        return
    task = d.task(run)
    limit = format_duration(parse_duration(str(d.render(task.timeout or "PT0S", run))))
    d.log("ERROR", f"Task '{task.id}' timed out after {limit}", run)
    fail_attempt(d, run, task)
