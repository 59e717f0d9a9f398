"""Stepping a WaitFor: its tasks run, the condition is rendered, and until it holds the tasks
run again after ``checkFrequency.interval``.

As in Kestra, the WaitFor task run starts with ``outputs.iterationCount`` 1, which goes up by
one after each iteration (before the condition and the maximums are read). The wait between
iterations is a timer row, so a waiting execution holds nothing in memory. When the next
iteration begins, the previous iteration's task runs are dropped (their log lines stay), the
WaitFor task run's ``iteration`` goes up by one (its children carry it) and its state history
starts again from its creation: Kestra keeps the records of the last iteration only.

A maximum reached (``iterationCount`` over ``maxIterations``, or ``maxDuration`` since the
WaitFor was created) ends the loop with a WARN line; it fails the WaitFor with
``failOnMaxReached``, and ends it as its tasks did otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from perch.durations import parse_duration
from perch.engine.draft import Draft
from perch.engine.effects import ScheduleTimer
from perch.engine.events import TimerFired
from perch.engine.ids import new_id
from perch.engine.model import TaskRun
from perch.engine.starting import as_bool, as_int
from perch.engine.states import State, StateType
from perch.flows import Task
from perch.flows.tasks.loops import WaitFor
from perch.templating.values import truthy

Status = StateType | None
StepList = Callable[..., Status]

WAITFOR_NEXT = "WAITFOR_NEXT"
"""The timer action that begins the next iteration of a WaitFor."""
WAITFOR_KEY = "waitFor"
"""Execution metadata: by WaitFor task run id, ``WAITING`` between iterations, or the state
its loop ended in (read again while its ``errors`` run, see ``_ended``)."""
WAITING = "WAITING"
ITERATION_COUNT = "iterationCount"


def _mark(d: Draft, run: TaskRun, mark: str | None) -> None:
    marks = dict(d.metadata.get(WAITFOR_KEY) or {})
    if mark is None:
        marks.pop(run.id, None)
    else:
        marks[run.id] = mark
    d.set_meta(WAITFOR_KEY, marks or None)


def _reached(d: Draft, task: WaitFor, run: TaskRun, count: int) -> str | None:
    frequency = task.checkFrequency
    if frequency.maxIterations is not None and count > as_int(d, frequency.maxIterations, run):
        return "Max iterations reached"
    if frequency.maxDuration is not None:
        limit = parse_duration(str(d.render(frequency.maxDuration, run)))
        if run.state.start_date + limit < d.now:
            return "Max duration reached"
    return None


def step_waitfor(d: Draft, task: WaitFor, run: TaskRun, step_list: StepList) -> Status:
    """Drive the current iteration; decide, once it ended, whether another one follows."""
    mark = (d.metadata.get(WAITFOR_KEY) or {}).get(run.id)
    if mark == WAITING:
        return None
    if mark is not None:
        state, _, histories = str(mark).partition("@")
        if histories == str(len(run.state.histories)):
            return StateType(state)
        # Reopened by a restart since (its history grew): the loop goes on.
    tasks: Sequence[Task] = task.tasks
    main = step_list(d, tasks, run, run.value, 1, iteration=run.iteration or 1)
    if main is None:
        return None
    if main is not StateType.SUCCESS:
        _mark(d, run, _ended(run, main))
        return main
    count = int((run.outputs or {}).get(ITERATION_COUNT) or 0) + 1
    run = d.put(run.evolve(outputs={**(run.outputs or {}), ITERATION_COUNT: count}))
    reached = _reached(d, task, run, count)
    outcome: StateType
    if reached is None:
        if not truthy(d.render(task.condition, run)):
            interval = parse_duration(str(d.render(task.checkFrequency.interval, run)))
            d.emit(ScheduleTimer(new_id(), d.now + interval, WAITFOR_NEXT, run.id))
            _mark(d, run, WAITING)
            return None
        outcome = main
    else:
        d.log("WARN", reached, run)
        outcome = StateType.FAILED if as_bool(d, task.failOnMaxReached, run) else main
    _mark(d, run, _ended(run, outcome))
    return outcome


def _ended(run: TaskRun, state: StateType) -> str:
    """The mark of a loop that ended in ``state``, valid while the run's history stays as is
    (its ``errors`` run): a restart that reopens the run adds to its history."""
    return f"{state.value}@{len(run.state.histories)}"


def next_iteration(d: Draft, event: TimerFired) -> None:
    """The interval after an iteration ended: drop its task runs and begin the next one."""
    run_id = event.task_run_id or ""
    if d.state.current.is_terminated or not d.has_run(run_id):
        return
    run = d.run(run_id)
    if run.state.current is not StateType.RUNNING:
        return
    if (d.metadata.get(WAITFOR_KEY) or {}).get(run.id) != WAITING:
        return
    children = d.children_of()
    dropped: set[str] = set()
    pending = [run.id]
    while pending:
        for child in children.get(pending.pop(), ()):
            dropped.add(child.id)
            pending.append(child.id)
    if dropped:
        d.remove(dropped)
    first = run.state.histories[0]
    state = State(StateType.CREATED, (first,)).with_state(StateType.RUNNING, d.now)
    restarted = TaskRun(
        id=run.id,
        task_id=run.task_id,
        state=state,
        parent_task_run_id=run.parent_task_run_id,
        value=run.value,
        iteration=(run.iteration or 1) + 1,
        attempts=(),
        outputs=run.outputs,
    )
    d.put(restarted)
    _mark(d, run, None)
