"""Moving an execution forward as far as it can go without outside work.

One recursive pass over the task tree: each list of tasks reports its state (``None`` while
something in it is still going), creating the next task runs as it goes; a flowable task run
ends when its children do. Everything that can be decided now is decided in the same pass (a
skipped task, an If without a matching branch, a Fail), so one transition creates all the work
that follows an event. The cost is proportional to the task runs of the active branches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from perch.engine.dag import step_dag
from perch.engine.draft import Draft
from perch.engine.effects import ExecutionEnded
from perch.engine.flowoutputs import render_outputs
from perch.engine.foreachitem import step_foreachitem
from perch.engine.model import TaskRun
from perch.engine.starting import FOREACH_CURSOR_KEY, FOREACH_VALUES_KEY, as_int, start_run
from perch.engine.states import StateType, fail_state
from perch.engine.variables import FINAL_STATE_KEY, MANUAL_PAUSE_KEY
from perch.engine.waitfor import step_waitfor
from perch.engine.workingdir import step_workingdir
from perch.errors import PerchError
from perch.flows import Task
from perch.flows.tasks.base import FlowableTask
from perch.flows.tasks.dag import Dag
from perch.flows.tasks.flowable import (
    AllowFailure,
    EachParallel,
    EachSequential,
    ForEach,
    If,
    Parallel,
    Sequential,
    Switch,
)
from perch.flows.tasks.loops import ForEachItem, WaitFor
from perch.flows.tasks.pause import Pause
from perch.flows.tasks.workingdir import WorkingDirectory

Status = StateType | None
"""A terminated state, or ``None`` while work is still going."""

_SETTLED = frozenset(state for state in StateType if state.is_terminated_no_fail)
"""Ended without failing: the list goes on past these."""
_WARNING = StateType.WARNING  # a module constant: enum attribute access is slow in a loop


def _worse(current: StateType, state: StateType) -> StateType:
    return StateType.WARNING if StateType.WARNING in (current, state) else StateType.SUCCESS


def step_list(
    d: Draft,
    tasks: Sequence[Task] | None,
    parent: TaskRun | None,
    value: str | None,
    limit: int,
    *,
    iteration: int | None = None,
    past_failures: bool = False,
) -> Status:
    """Drive one list of tasks, at most ``limit`` at a time (0: no limit; 1: in order).

    A failure stops the list: nothing new starts, and the list fails once the running ones end.
    With ``past_failures`` (an ``errors`` branch, as Kestra runs them) the list goes on after a
    failed task, in order, and fails once its last task ended.
    """
    if limit != 1:
        return _step_concurrent(d, tasks, parent, value, limit=limit, iteration=iteration)
    parent_id = None if parent is None else parent.id
    result = StateType.SUCCESS
    failed: StateType | None = None
    keys, positions, runs = d.keys, d.positions, d.runs
    for task in tasks or ():
        if task.disabled:
            continue
        # Every event walks the settled task runs of each active list again: their fast path
        # keeps a transition of a long flow cheap (no call, no allocation but the key).
        run_id = keys.get((task.id, parent_id, value))
        run = None if run_id is None else runs[positions[run_id]]
        if run is not None and run.state.current in _SETTLED:
            if run.state.current is _WARNING:
                result = _WARNING
            continue
        if run is None:
            run = start_run(d, task, parent, value, iteration)
        status = resolve(d, run)
        if status is None:
            return None
        if status.is_failed:
            if not past_failures:
                return status
            failed = failed or status
            continue
        result = _worse(result, status)
    return failed or result


def _step_concurrent(
    d: Draft,
    tasks: Sequence[Task] | None,
    parent: TaskRun | None,
    value: str | None,
    *,
    limit: int,
    iteration: int | None,
) -> Status:
    # Round by round, like Kestra's executor loop: each round settles the existing task runs,
    # then starts as many new ones as the limit allows, all together. A failure seen at the
    # start of a round stops new starts; one among the runs started together does not (with
    # no limit, Kestra creates every branch at once, so a failing branch never holds back
    # its siblings).
    if limit < 0:
        raise PerchError(f"A concurrency limit must be 0 (no limit) or more, got {limit}")
    parent_id = None if parent is None else parent.id
    while True:
        result = StateType.SUCCESS
        failed: StateType | None = None
        active = 0
        missing: list[Task] = []
        for task in tasks or ():
            if task.disabled:
                continue
            run = d.find(task.id, parent_id, value)
            if run is None:
                missing.append(task)
                continue
            status = resolve(d, run)
            if status is None:
                active += 1
            elif status.is_failed:
                failed = failed or status
            else:
                result = _worse(result, status)
        room = len(missing) if not limit else min(len(missing), limit - active)
        if failed is None and room > 0:
            for task in missing[:room]:
                start_run(d, task, parent, value, iteration)
            continue
        if active or (failed is None and missing):
            return None
        return failed or result


def finish_block(
    d: Draft,
    main: Status,
    errors: Sequence[Task] | None,
    finally_: Sequence[Task] | None,
    *,
    parent: TaskRun | None,
    value: str | None,
) -> Status:
    """After the main tasks of a scope ended: its ``errors`` (on failure), then ``finally``."""
    if main is None:
        return None
    iteration = None if parent is None else parent.iteration
    failed = main.is_failed
    if (
        failed
        and errors
        and step_list(d, errors, parent, value, 1, iteration=iteration, past_failures=True) is None
    ):
        return None
    if finally_:
        after = step_list(d, finally_, parent, value, 1, iteration=iteration)
        if after is None:
            return None
        if after.is_failed and not main.is_failed:
            return StateType.FAILED
        if after is StateType.WARNING and not main.is_failed:
            return StateType.WARNING
    return main


def resolve(d: Draft, run: TaskRun) -> Status:
    """The status of an existing task run, driving its children when it is a flowable."""
    current = run.state.current
    if current.is_terminated:
        return current
    if current is StateType.PAUSED:
        d.saw_paused = True
        return None
    if current is not StateType.RUNNING:
        return None
    task = d.task(run)
    if not isinstance(task, FlowableTask):
        return None
    try:
        status = _children(d, task, run)
    except PerchError as exc:
        d.log("ERROR", str(exc), run)
        status = StateType.FAILED
    if status is None:
        return None
    if status is StateType.FAILED:
        status = fail_state(allow_failure=task.allowFailure, allow_warning=task.allowWarning)
    elif status is StateType.WARNING and task.allowWarning:
        status = StateType.SUCCESS
    d.move_run(d.run(run.id), status)  # as it stands: stepping may have set its outputs
    return status


def _children(d: Draft, task: FlowableTask, run: TaskRun) -> Status:
    value = run.value
    main: Status
    if isinstance(task, If):
        outputs = run.outputs or {}
        branch = task.then if outputs.get("evaluationResult") else task.else_
        main = step_list(d, branch, run, value, 1, iteration=run.iteration)
    elif isinstance(task, Switch):
        outputs = run.outputs or {}
        cases = task.cases or {}
        key = outputs.get("value")
        branch = cases[key] if isinstance(key, str) and key in cases else task.defaults
        main = step_list(d, branch, run, value, 1, iteration=run.iteration)
    elif isinstance(task, AllowFailure):
        main = step_list(d, task.tasks, run, value, 1, iteration=run.iteration)
        after = finish_block(d, main, task.errors, task.finally_, parent=run, value=value)
        return StateType.WARNING if after is not None and after.is_failed else after
    elif isinstance(task, Sequential):
        main = step_list(d, task.tasks, run, value, 1, iteration=run.iteration)
    elif isinstance(task, Parallel):
        limit = as_int(d, task.concurrent, run)
        main = step_list(d, task.tasks, run, value, limit, iteration=run.iteration)
    elif isinstance(task, ForEach | EachSequential):
        main = _each(d, task, run)
    elif isinstance(task, Pause):
        main = _resumed_pause(d, task, run)
    elif isinstance(task, Dag):
        main = step_dag(d, task, run, resolve)
    elif isinstance(task, WaitFor):
        main = step_waitfor(d, task, run, step_list)
    elif isinstance(task, ForEachItem):
        main = step_foreachitem(d, task, run, step_list)
    elif isinstance(task, WorkingDirectory):
        main = step_workingdir(d, task, run, step_list)
    else:
        return None
    return finish_block(d, main, task.errors, task.finally_, parent=run, value=value)


def _each(d: Draft, task: ForEach | EachSequential, run: TaskRun) -> Status:
    values = (d.metadata.get(FOREACH_VALUES_KEY) or {}).get(run.id, [])
    if isinstance(task, ForEach):
        limit, inner = as_int(d, task.concurrencyLimit, run), 1
    elif isinstance(task, EachParallel):
        limit, inner = as_int(d, task.concurrent, run), 0
    else:
        limit, inner = 1, 1
    if limit < 0:
        raise PerchError(f"A concurrency limit must be 0 (no limit) or more, got {limit}")
    first = next((t for t in task.tasks if not t.disabled), None)
    # A cursor kept with the execution makes one pass cost the iterations still open, not all
    # of them: ``done`` leading iterations ended without failing (``worst`` is how), and none
    # at or past ``high`` has started. Without one (a new run, a restart), every value is read.
    cursor = (d.metadata.get(FOREACH_CURSOR_KEY) or {}).get(run.id)
    if cursor is None or first is None:
        done, worst, high = 0, StateType.SUCCESS, len(values)
    else:
        done, worst, high = cursor[0], StateType(cursor[1]), cursor[2]
    # Iterations start in rounds, in order, as the branches of a Parallel do (see
    # _step_concurrent): a failure seen at the start of a round stops new iterations.
    while True:
        result = worst
        failed: StateType | None = None
        active = 0
        missing: list[int] = []
        leading = True
        started_high = done
        for number in range(done, high):
            item = values[number]
            if first is not None and d.find(first.id, run.id, item) is None:
                missing.append(number)
                leading = False
                continue
            started_high = number + 1
            status = step_list(d, task.tasks, run, item, inner, iteration=number)
            if status is None:
                active += 1
                leading = False
            elif status.is_failed:
                failed = failed or status
                leading = False
            else:
                result = _worse(result, status)
                if leading:
                    done, worst = number + 1, _worse(worst, status)
        if started_high < high:  # what is missing past the last started one was never started
            high = started_high
            missing = [number for number in missing if number < high]
        unstarted = len(missing) + len(values) - high
        room = unstarted if not limit else min(unstarted, limit - active)
        if failed is None and room > 0:
            chosen = missing[:room]
            chosen.extend(range(high, high + room - len(chosen)))
            for number in chosen:
                step_list(d, task.tasks, run, values[number], inner, iteration=number)
            high = max(high, chosen[-1] + 1)
            continue
        if first is not None:
            _keep_cursor(d, run, [done, worst.value, high])
        if active or (failed is None and unstarted):
            return None
        return failed or result


def _keep_cursor(d: Draft, run: TaskRun, cursor: list[Any]) -> None:
    cursors = d.metadata.get(FOREACH_CURSOR_KEY) or {}
    if cursors.get(run.id) != cursor:
        d.set_meta(FOREACH_CURSOR_KEY, {**cursors, run.id: cursor})


def _resumed_pause(d: Draft, task: Pause, run: TaskRun) -> Status:
    # A Pause with tasks, errors or finally goes back to RUNNING when resumed; how it was
    # resumed (outputs.resumed.to) decides its state once its children are done.
    resumed = (run.outputs or {}).get("resumed") or {}
    to = StateType(resumed.get("to", StateType.SUCCESS.value))
    if to.is_failed or to is StateType.KILLING:
        # Its own tasks never run then: only its errors and finally (see pausing._end_pause).
        return StateType.KILLED if to is StateType.KILLING else to
    main = (
        step_list(d, task.tasks, run, run.value, 1, iteration=run.iteration)
        if task.tasks
        else StateType.SUCCESS
    )
    if main is None:
        return None
    return _worse(main, to) if not main.is_failed else main


def advance(d: Draft) -> None:
    """Create and settle everything that follows from the execution's current task runs.

    A Pause task blocks only its own branch: while the execution is PAUSED because of one,
    the other branches go on (as in Kestra). A manual pause blocks everything.
    """
    current = d.state.current
    if current is not StateType.RUNNING and (
        current is not StateType.PAUSED or d.metadata.get(MANUAL_PAUSE_KEY)
    ):
        return
    flow = d.flow
    final_text = d.metadata.get(FINAL_STATE_KEY)
    if final_text is None:
        main = step_list(d, flow.tasks, None, None, 1)
        result = finish_block(d, main, flow.errors, flow.finally_, parent=None, value=None)
        if result is None:
            if d.saw_paused:
                d.set_state(StateType.PAUSED)
            return
        final = render_outputs(d, result)
        if flow.afterExecution:
            d.set_meta(FINAL_STATE_KEY, final.value)
    else:
        final = StateType(final_text)
    if flow.afterExecution and step_list(d, flow.afterExecution, None, None, 1) is None:
        if d.saw_paused:
            d.set_state(StateType.PAUSED)
        return
    end(d, final)


def end(d: Draft, state: StateType) -> None:
    """Terminate the execution in ``state``."""
    d.set_meta(FINAL_STATE_KEY, None)
    d.set_state(state)
    d.emit(ExecutionEnded(d.original.id))
