"""Restart: run a failed (or paused) execution again from its failed task runs, same id.

The failed task runs and their ancestors are reopened: a failed worker task gets a new attempt
(its history and earlier attempts are kept), anything else that failed is dropped so that it is
created again, ancestors go back to RUNNING, and what ran only because of the failure
(``errors``, ``finally``, ``afterExecution`` branches of the reopened scopes) is dropped.
"""

from __future__ import annotations

from dataclasses import replace

from perch.engine.creation import RESTARTED_LABEL, merge_labels
from perch.engine.draft import Draft
from perch.engine.effects import Audit, CancelTimers
from perch.engine.events import Restart
from perch.engine.model import Label, TaskRun
from perch.engine.pausing import ATTEMPT_NUMBER_KEY, resumed_output
from perch.engine.starting import FOREACH_CURSOR_KEY, dispatch, is_worker_task
from perch.engine.states import StateType
from perch.engine.variables import FINAL_STATE_KEY, MANUAL_PAUSE_KEY
from perch.errors import IllegalState


def _descendants(children: dict[str, list[TaskRun]], run_ids: set[str]) -> set[str]:
    found: set[str] = set()
    stack = list(run_ids)
    while stack:
        current = stack.pop()
        for child in children.get(current, ()):
            if child.id not in found:
                found.add(child.id)
                stack.append(child.id)
    return found


def restart(d: Draft, event: Restart) -> None:
    """Reopen the failed task runs of a FAILED/KILLED/CANCELLED (or PAUSED) execution."""
    current = d.state.current
    if not (current.is_failed or current is StateType.PAUSED):
        raise IllegalState(f"Execution '{d.original.id}' is {current.value}, it can't be restarted")
    by_id = {run.id: run for run in d.runs}
    children = d.children_of()
    failed = [
        run
        for run in d.runs
        if (run.state.current.is_failed or run.state.current is StateType.PAUSED)
        and not d.index.in_error_branch(run.task_id)
    ]
    if not failed:
        raise IllegalState("No task run to restart the execution from")
    reopen: set[str] = set()
    for run in failed:
        parent_id = run.parent_task_run_id
        while parent_id is not None and parent_id not in reopen:
            reopen.add(parent_id)
            parent_id = by_id[parent_id].parent_task_run_id
    # Branches that ran because a reopened scope failed must run again only if it fails again.
    handlers = {
        run.id
        for run in d.runs
        if (run.parent_task_run_id is None or run.parent_task_run_id in reopen)
        and d.index.placements[run.task_id].branch in ("errors", "finally", "afterExecution")
    }
    dropped = handlers | _descendants(children, handlers)
    for run in failed:
        if run.id in reopen or run.id in dropped:
            continue
        if is_worker_task(d.task(run)) and run.attempts:
            dispatch(d, d.move_run(run, StateType.RESTARTED))
        elif run.state.current is StateType.PAUSED:
            # As in Kestra, a paused flowable goes back to RUNNING: a Pause that was paused
            # once does not pause again, so the restart lets it go on. Unlike Kestra, it says
            # who let it go on, as a resume would.
            resumed = resumed_output(d, event.principal, StateType.SUCCESS)
            d.put(
                replace(run, outputs={"onResume": None, **(run.outputs or {}), "resumed": resumed})
            )
            reopen.add(run.id)
        else:
            dropped.add(run.id)
            dropped |= _descendants(children, {run.id})
    for run_id in reopen - dropped:
        d.move_run(d.run(run_id), StateType.RUNNING)
    if dropped:
        d.remove(dropped)
    number = d.metadata.get(ATTEMPT_NUMBER_KEY)
    d.set_meta(ATTEMPT_NUMBER_KEY, (number if isinstance(number, int) else 1) + 1)
    d.set_meta(FINAL_STATE_KEY, None)
    d.set_meta(MANUAL_PAUSE_KEY, None)
    d.set_meta(FOREACH_CURSOR_KEY, None)  # reopened iterations must be read again
    d.labels = merge_labels(d.labels, [Label(RESTARTED_LABEL, "true")])
    d.outputs = None
    d.emit(CancelTimers(None))
    d.emit(Audit("RESTART", event.principal, {"executionId": d.original.id}))
    d.set_state(StateType.RESTARTED)
    d.set_state(StateType.RUNNING)
    d.log("INFO", "Flow restarted")
