"""Creating a task run: ``runIf``, then what each kind of task does when it begins.

Runnable tasks get a first attempt and a :class:`DispatchTask`; flowables are decided here, in
the executor: If evaluates its condition, Switch its value, ForEach its values, Pause pauses,
Sleep writes a timer, Fail fails (a Fail is one task run and needs no worker), Subflow asks the
caller to create the child execution.
"""

from __future__ import annotations

import json
from typing import Any

from perch.durations import parse_duration
from perch.engine.assignment import ASSIGNMENT_KEY, render_assignees
from perch.engine.draft import Draft
from perch.engine.effects import DispatchTask, ScheduleTimer, StartSubflow
from perch.engine.ids import new_id
from perch.engine.model import Attempt, Label, ParentRef, TaskRun
from perch.engine.states import State, StateType, fail_state
from perch.errors import PerchError
from perch.flows import Task, TaskKind
from perch.flows.tasks.core import Fail, Sleep
from perch.flows.tasks.flowable import EachSequential, ForEach, If, Subflow, Switch
from perch.flows.tasks.loops import WaitFor
from perch.flows.tasks.pause import HumanTask, Pause
from perch.templating.values import truthy

PAUSE_ELAPSED = "PAUSE_ELAPSED"
SLEEP_DONE = "SLEEP_DONE"
RETRY = "RETRY"
TASK_TIMEOUT = "TASK_TIMEOUT"

WAITING_KEY = "waitingForWorkerGroup"
"""Execution metadata: the task runs waiting for a live worker of their group (task run id ->
group key), until a worker starts them."""
FOREACH_VALUES_KEY = "forEachValues"
"""Execution metadata: the rendered values of each ForEach task run, by task run id."""
FOREACH_CURSOR_KEY = "forEachCursor"
"""Execution metadata: how far each ForEach task run got, by task run id (see ``advance``)."""

BEHAVIOR_STATES = {
    "RESUME": StateType.SUCCESS,
    "WARN": StateType.WARNING,
    "FAIL": StateType.FAILED,
    "CANCEL": StateType.CANCELLED,
}


def fail_run(d: Draft, run: TaskRun, task: Task, message: str) -> TaskRun:
    """End ``run`` as a failure of ``task`` (WARNING/SUCCESS with allowFailure/allowWarning)."""
    d.log("ERROR", message, run)
    return d.move_run(
        run, fail_state(allow_failure=task.allowFailure, allow_warning=task.allowWarning)
    )


def as_bool(d: Draft, value: bool | str, run: TaskRun) -> bool:
    return value if isinstance(value, bool) else truthy(d.render(value, run))


def as_int(d: Draft, value: int | str, run: TaskRun) -> int:
    """An integer property, rendered when it is a template; :class:`PerchError` (which fails
    the task run) when it does not render to an integer."""
    if isinstance(value, int):
        return value
    rendered = d.render(value, run)
    try:
        return int(str(rendered).strip())
    except ValueError:
        raise PerchError(f"'{value}' must render to an integer, got '{rendered}'") from None


def is_worker_task(task: Task) -> bool:
    """Whether a worker runs ``task`` (the engine decides everything else itself).

    A Fail with a ``retry`` is one: each try is an attempt, retried as any runnable task's
    (without one, the engine fails it at once, in one task run without attempts)."""
    if isinstance(task, Fail):
        return task.retry is not None
    return task.kind is TaskKind.RUNNABLE and not isinstance(task, Sleep)


def dispatch(d: Draft, run: TaskRun) -> TaskRun:
    """Give ``run`` a new attempt and queue it for a worker (of the task's worker group, when
    it names one: with no live worker in that group, ``workerGroup.fallback`` decides)."""
    run = d.put(run.evolve(attempts=(*run.attempts, Attempt(State.new(d.now)))))
    task = d.task(run)
    group = task.workerGroup.key if task.workerGroup is not None else None
    if group is not None and task.workerGroup is not None and not d.worker_group_live(group):
        fallback = task.workerGroup.fallback or "WAIT"
        if fallback == "FAIL":
            return fail_run(
                d,
                run,
                task,
                f"No workers are available for worker group '{group}', failing the task.",
            )
        if fallback == "CANCEL":
            d.log(
                "INFO",
                f"No workers are available for worker group '{group}', canceling the task.",
                run,
            )
            return d.move_run(run, StateType.CANCELLED)
        d.log(
            "INFO",
            f"No workers are available for worker group '{group}', "
            "waiting for one to be available.",
            run,
        )
        waiting = dict(d.metadata.get(WAITING_KEY) or {})
        waiting[run.id] = group
        d.set_meta(WAITING_KEY, waiting)
    d.emit(DispatchTask(run.id, run.task_id, len(run.attempts), task.canonical_type, group))
    return run


def start_run(
    d: Draft, task: Task, parent: TaskRun | None, value: str | None, iteration: int | None = None
) -> TaskRun:
    """Create the task run of ``task`` and begin it; returns the run as it stands."""
    run = d.new_run(task, parent, value, iteration)
    try:
        if task.runIf is not None and not truthy(d.render(task.runIf, run)):
            return d.move_run(run, StateType.SKIPPED)
        if is_worker_task(task):
            return dispatch(d, run)
        return _begin(d, task, run)
    except PerchError as exc:
        return fail_run(d, d.run(run.id), task, str(exc))


def _begin(d: Draft, task: Task, run: TaskRun) -> TaskRun:
    if isinstance(task, Fail):
        if task.condition is None or truthy(d.render(task.condition, run)):
            message = "Task failure"
            if task.errorMessage is not None:
                message = d.render_text(task.errorMessage, run)
            return fail_run(d, run, task, message)
        return d.move_run(run, StateType.SUCCESS)
    run = d.move_run(run, StateType.RUNNING)
    if isinstance(task, Sleep):
        duration = parse_duration(str(d.render(task.duration, run)))
        d.emit(ScheduleTimer(new_id(), d.now + duration, SLEEP_DONE, run.id))
        return run
    if isinstance(task, If):
        result = truthy(d.render(task.condition, run))
        return d.put(_with_outputs(run, {"evaluationResult": result}))
    if isinstance(task, Switch):
        return _begin_switch(d, task, run)
    if isinstance(task, ForEach | EachSequential):
        return _begin_each(d, task, run)
    if isinstance(task, Pause):
        return _begin_pause(d, task, run)
    if isinstance(task, Subflow):
        return _begin_subflow(d, task, run)
    if isinstance(task, WaitFor):
        # Kestra's WaitFor starts at iteration count 1 (see perch.engine.waitfor).
        return d.put(_with_outputs(run, {"iterationCount": 1}))
    return run


def _with_outputs(run: TaskRun, outputs: dict[str, Any]) -> TaskRun:
    return run.evolve(outputs=outputs)


def _begin_switch(d: Draft, task: Switch, run: TaskRun) -> TaskRun:
    value = d.render_text(task.value, run)
    matched = value in (task.cases or {})
    run = d.put(_with_outputs(run, {"value": value, "defaults": not matched}))
    if not matched and not task.defaults:
        return fail_run(d, run, task, f"Switch value '{value}' matches no case and no defaults")
    return run


_COMPACT = (",", ":")
_SHOWN_LIMIT = 500
"""Characters of the values a ForEach error message shows (they may be many)."""


def each_values(raw: Any) -> list[str]:
    """ForEach ``values`` as the distinct strings the task runs carry (non-strings as JSON)."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise PerchError(f"ForEach values are not a JSON array: {raw!r}") from exc
    if isinstance(raw, dict):
        raw = [{"key": k, "value": v} for k, v in raw.items()]
    if not isinstance(raw, list):
        raise PerchError(f"ForEach values must be a list, got {type(raw).__name__}")
    nulls = sum(1 for item in raw if item is None)
    if nulls:
        # Kestra fails the task run too; the message names the values as they were given.
        shown = json.dumps(raw, default=str, separators=(", ", ": "))
        if len(shown) > _SHOWN_LIMIT:
            shown = shown[:_SHOWN_LIMIT] + "…"
        plural = "s" if nulls != 1 else ""
        raise PerchError(f"ForEach values hold {nulls} null value{plural}: {shown}")
    values: dict[str, None] = {}
    for item in raw:
        # Compact JSON, as Kestra writes it; repeated values run once (Kestra keeps distinct
        # values, and a task run is known by its value).
        text = item if isinstance(item, str) else json.dumps(item, default=str, separators=_COMPACT)
        values.setdefault(text)
    return list(values)


def _begin_each(d: Draft, task: ForEach | EachSequential, run: TaskRun) -> TaskRun:
    raw = task.values if isinstance(task, ForEach) else task.value
    values = each_values(d.render(raw, run))
    stored = dict(d.metadata.get(FOREACH_VALUES_KEY) or {})
    stored[run.id] = values
    d.set_meta(FOREACH_VALUES_KEY, stored)
    return run


def _begin_pause(d: Draft, task: Pause, run: TaskRun) -> TaskRun:
    # Everything that can fail to render comes first: a Pause whose duration is broken fails
    # without ever having been PAUSED (nor pausing the execution).
    duration_text = task.effective_duration
    if duration_text is not None:
        behavior = str(d.render(task.behavior or task.default_behavior, run)).upper()
        if behavior not in BEHAVIOR_STATES:
            raise PerchError(f"Unknown Pause behavior '{behavior}'")
        target = BEHAVIOR_STATES[behavior]
    else:
        duration_text = task.timeout
        target = fail_state(allow_failure=task.allowFailure, allow_warning=task.allowWarning)
    duration = None
    if duration_text is not None:
        duration = parse_duration(str(d.render(duration_text, run)))
    if isinstance(task, HumanTask):
        assignees = render_assignees(
            d.render(list(task.assignment.users or ()), run),
            d.render(list(task.assignment.groups or ()), run),
        )
        run = d.put(_with_outputs(run, {ASSIGNMENT_KEY: assignees.to_json()}))
    run = d.move_run(run, StateType.PAUSED)
    d.saw_paused = True
    if duration is not None:
        d.emit(
            ScheduleTimer(
                new_id(), d.now + duration, PAUSE_ELAPSED, run.id, {"state": target.value}
            )
        )
    if task.onPause is not None:
        start_run(d, task.onPause, run, run.value)
    return run


def _begin_subflow(d: Draft, task: Subflow, run: TaskRun) -> TaskRun:
    execution = d.original
    namespace = d.render_text(task.namespace, run)
    flow_id = d.render_text(task.flowId, run)
    inputs = d.render(dict(task.inputs or {}), run)
    # As in Kestra: the system labels always pass to the child, the others on request (the
    # child's own system.username and system.correlationId are set when it is created).
    inherit = as_bool(d, task.inheritLabels, run)
    labels = [lab for lab in d.labels if inherit or lab.key.startswith("system.")]
    for key, value in (task.labels or {}).items():
        labels.append(Label(d.render_text(key, run), d.render_text(str(value), run)))
    wait = as_bool(d, task.wait, run)
    child_id = new_id()
    correlation = execution.label("system.correlationId") or execution.id
    d.emit(
        StartSubflow(
            execution_id=child_id,
            parent=ParentRef(execution.id, run.id, execution.namespace, execution.flow_id),
            namespace=namespace,
            flow_id=flow_id,
            correlation_id=correlation,
            revision=None if task.revision is None else as_int(d, task.revision, run),
            inputs=inputs,
            labels=tuple(labels),
            wait=wait,
            transmit_failed=as_bool(d, task.transmitFailed, run),
            trigger={
                "id": task.id,
                "type": task.canonical_type,
                "variables": {
                    "executionId": execution.id,
                    "namespace": execution.namespace,
                    "flowId": execution.flow_id,
                    "flowRevision": execution.flow_revision,
                },
            },
            outputs=dict(task.outputs) if wait and task.outputs else None,
        )
    )
    run = d.put(_with_outputs(run, {"executionId": child_id}))
    if not wait:
        return end_subflow_run(d, run, StateType.SUCCESS)
    return run


def end_subflow_run(
    d: Draft, run: TaskRun, state: StateType, outputs: dict[str, Any] | None = None
) -> TaskRun:
    """End a Subflow task run in ``state``: like Kestra's, it records one attempt, which ended
    as the task run did."""
    moved = d.move_run(run, state) if outputs is None else d.move_run(run, state, outputs=outputs)
    return d.put(moved.evolve(attempts=(Attempt(moved.state),)))
