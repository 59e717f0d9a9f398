"""The deprecated state tasks: ``state.Set`` (outputs ``count`` and ``key``), ``state.Get``
(outputs ``count`` and ``data``) and ``state.Delete`` (output ``deleted``), on the states kept
in the namespace's KV store (:mod:`perch.engine.statehooks`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perch.engine.statehooks import DELETE, GET, SET
from perch.engine.states import StateType
from perch.errors import ActingTaskError, StateNotFound
from perch.flows.tasks.state import StateDelete, StateGet, StateSet
from perch.tasks.context import RunContext, TaskOutcome
from perch.tasks.execution import hook
from perch.templating.values import truthy

_StateTask = StateSet | StateGet | StateDelete


def _where(task: _StateTask, context: RunContext) -> dict[str, Any]:
    """The hook's arguments that say which state: its name, its scope, its ForEach value."""
    taskrun = context.variables.get("taskrun")
    value = taskrun.get("value") if isinstance(taskrun, Mapping) else None
    isolated = truthy(context.render(task.taskrunValue))
    return {
        "name": context.render_text(task.name),
        "flow_scoped": not truthy(context.render(task.namespace)),
        "value": None if value is None or not isolated else str(value),
    }


def run_state_set(task: StateSet, context: RunContext) -> TaskOutcome:
    """Merge the rendered ``data`` (keys rendered too) into the state."""
    data = context.render(task.data or {})
    if not isinstance(data, Mapping):
        raise ActingTaskError("`data` must render to a map")
    given = {str(key): value for key, value in data.items()}
    key, merged = hook(context, SET)(data=given, task_id=task.id, **_where(task, context))
    return TaskOutcome(StateType.SUCCESS, outputs={"count": len(merged), "key": key})


def run_state_get(task: StateGet, context: RunContext) -> TaskOutcome:
    """The state as ``data``; ``{}`` when there is none, unless ``errorOnMissing``."""
    where = _where(task, context)
    data = hook(context, GET)(**where)
    if data is None:
        if truthy(context.render(task.errorOnMissing)):
            raise StateNotFound(f"Unable to find the state '{where['name']}'")
        data = {}
    return TaskOutcome(StateType.SUCCESS, outputs={"count": len(data), "data": data})


def run_state_delete(task: StateDelete, context: RunContext) -> TaskOutcome:
    """Delete the state; ``deleted`` says whether it existed."""
    where = _where(task, context)
    deleted = bool(hook(context, DELETE)(task_id=task.id, **where))
    if not deleted and truthy(context.render(task.errorOnMissing)):
        raise StateNotFound(f"Unable to find the state '{where['name']}'")
    return TaskOutcome(StateType.SUCCESS, outputs={"deleted": deleted})
