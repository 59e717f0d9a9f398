"""The variables a task's templates see: Kestra's run context, built from an execution.

``outputs`` and ``tasks`` are nested by task id, and by ForEach value for runs that carry one
(``outputs.t[value]``); ``labels`` is a nested map so that ``labels.system.username`` works;
``vars`` are the flow's variables as written (Kestra does not render them: ``render(vars.x)``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

from perch.engine.flowindex import flow_index
from perch.engine.model import Execution, Label, TaskRun, run_index
from perch.engine.states import StateType
from perch.flows import Flow
from perch.flows.tasks.flowable import EachSequential, ForEach

FINAL_STATE_KEY = "finalState"
"""Execution metadata: the state an execution ends in, known while ``afterExecution`` runs."""
_STATE_TEXT = {state: state.value for state in StateType}
"""State names by state: reading ``.value`` of an enum member is slow, and this runs per task
run each time a task's variables are built."""

MANUAL_PAUSE_KEY = "manualPause"
"""Execution metadata: set while the execution is paused by hand (nothing new may start)."""

DUE_RETRIES_KEY = "dueRetries"
"""Execution metadata: task runs whose retry delay ended while the execution was paused by hand;
their next attempt starts when it is resumed."""


def nested_labels(labels: tuple[Label, ...]) -> dict[str, Any]:
    """Labels as a nested map: ``system.username`` becomes ``{"system": {"username": ...}}``.

    A label whose path runs through another label's plain value is left out (it cannot be
    reached by a dotted expression anyway).
    """
    result: dict[str, Any] = {}
    for label in labels:
        *path, last = label.key.split(".")
        node: Any = result
        for part in path:
            node = node.setdefault(part, {}) if isinstance(node, dict) else None
        if isinstance(node, dict) and not isinstance(node.get(last), dict):
            node[last] = label.value
    return result


def _nest(plain: dict[str, Any], valued: dict[str, dict[str, Any]]) -> dict[str, Any]:
    # A task inside a ForEach is reached by value (outputs.t[value]); one outside by id.
    for task_id, by_value in valued.items():
        plain[task_id] = by_value
    return plain


_EACH_TYPES = (ForEach, EachSequential)


def iteration_levels(
    flow: Flow, runs_by_id: Mapping[str, TaskRun], run: TaskRun
) -> list[tuple[str, str]]:
    """The ForEach iterations that lead to ``run``, outermost first, as ``(run id, value)``
    of each run (``run`` itself included) that a ForEach started. Kestra nests outputs by
    these (``outputs.t[outer][inner]``); runs deeper inside an iteration carry its value too
    but add no level."""
    index = flow_index(flow)
    found: list[tuple[str, str]] = []
    current = run
    while current.parent_task_run_id is not None:
        parent = runs_by_id.get(current.parent_task_run_id)
        if parent is None:
            break
        placement = index.placements.get(parent.task_id)
        if (
            current.value is not None
            and placement is not None
            and isinstance(placement.task, _EACH_TYPES)
        ):
            found.append((current.id, current.value))
        current = parent
    found.reverse()
    return found


class _RunTree:
    """``outputs`` and ``tasks`` of an execution, made from its task runs on first read: most
    renderings never read them, and making them costs a pass over every task run."""

    __slots__ = ("_flow", "_made", "_runs")

    def __init__(self, flow: Flow, runs: tuple[TaskRun, ...]) -> None:
        self._flow = flow
        self._runs = runs
        self._made: tuple[dict[str, Any], dict[str, Any]] | None = None

    def made(self) -> tuple[dict[str, Any], dict[str, Any]]:
        if self._made is None:
            outputs: dict[str, Any] = {}
            states: dict[str, Any] = {}
            valued_outputs: dict[str, dict[str, Any]] = {}
            valued_states: dict[str, dict[str, Any]] = {}
            by_id: dict[str, TaskRun] | None = None
            for run in self._runs:
                state = {"state": _STATE_TEXT[run.state.current]}
                if run.value is None:
                    states[run.task_id] = state
                    if run.outputs is not None:
                        outputs[run.task_id] = dict(run.outputs)
                    continue
                valued_states.setdefault(run.task_id, {})[run.value] = state
                if run.outputs is None:
                    continue
                if by_id is None:
                    by_id = {r.id: r for r in self._runs}
                levels = iteration_levels(self._flow, by_id, run)
                own = bool(levels) and levels[-1][0] == run.id
                path = [value for _, value in levels] if levels else [run.value]
                node = valued_outputs.setdefault(run.task_id, {})
                for value in path[:-1]:
                    child = node.get(value)
                    node = child if isinstance(child, dict) else node.setdefault(value, {})
                if own or not levels:
                    node[path[-1]] = dict(run.outputs)
                else:  # inside an iteration, not started by the ForEach: at its level
                    level = node.get(path[-1])
                    level = level if isinstance(level, dict) else node.setdefault(path[-1], {})
                    level.update(dict(run.outputs))
            self._made = (_nest(outputs, valued_outputs), _nest(states, valued_states))
        return self._made


class _LazyView(Mapping[str, Any]):
    """One of the two maps of a :class:`_RunTree` (0: outputs, 1: task states)."""

    __slots__ = ("_tree", "_which")

    def __init__(self, tree: _RunTree, which: int) -> None:
        self._tree = tree
        self._which = which

    def _data(self) -> dict[str, Any]:
        return self._tree.made()[self._which]

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data()

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __repr__(self) -> str:
        return repr(self._data())


ENV_PREFIX = "ENV_"
"""Environment variables shown to flows as ``envs``: ``ENV_FOO`` is ``envs.foo`` (Kestra's
open-source rule). No other variable of the server's environment reaches a flow."""


class _EnvVars(Mapping[str, str]):
    """``envs``: the ``ENV_*`` variables of the environment, read when a template reads them
    (so a variable set after start is seen, and renderings that never read ``envs`` pay
    nothing)."""

    __slots__ = ()

    def _data(self) -> dict[str, str]:
        cut = len(ENV_PREFIX)
        return {
            name[cut:].lower(): value
            for name, value in os.environ.items()
            if name.startswith(ENV_PREFIX) and len(name) > cut
        }

    def __getitem__(self, key: str) -> str:
        return self._data()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data()

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __repr__(self) -> str:
        return repr(self._data())


_ENVS = _EnvVars()


def base_variables(flow: Flow, execution: Execution) -> dict[str, Any]:
    """The variables shared by every task of the execution (no ``task``/``taskrun``)."""
    tree = _RunTree(flow, execution.task_runs)
    outputs: Mapping[str, Any] = _LazyView(tree, 0)
    states: Mapping[str, Any] = _LazyView(tree, 1)
    final_state = execution.metadata.get(FINAL_STATE_KEY)
    variables: dict[str, Any] = {
        "flow": {
            "id": flow.id,
            "namespace": flow.namespace,
            "revision": execution.flow_revision,
            "tenantId": execution.tenant,
        },
        "execution": {
            "id": execution.id,
            "startDate": execution.state.start_date,
            "state": final_state or execution.state.current.value,
            "originalId": execution.original_id or execution.id,
        },
        "inputs": dict(execution.inputs),
        "outputs": outputs,
        "labels": nested_labels(execution.labels),
        "vars": dict(flow.variables or {}),
        "tasks": states,
        "envs": _ENVS,
    }
    end_date = execution.state.end_date
    if end_date is not None:
        variables["execution"]["endDate"] = end_date
    if execution.trigger is not None:
        variables["trigger"] = trigger_variables(execution.trigger)
    return variables


def trigger_variables(trigger: Mapping[str, Any]) -> dict[str, Any]:
    """What ``trigger`` holds in templates: the variables of the trigger that started the
    execution (stored in Kestra's shape, ``{id, type, variables}``), or the mapping itself."""
    inner = trigger.get("variables")
    if isinstance(inner, Mapping) and "type" in trigger:
        return dict(inner)
    return dict(trigger)


def with_task_run(
    base: Mapping[str, Any],
    flow: Flow,
    runs_by_id: Mapping[str, TaskRun],
    task_run: TaskRun,
) -> dict[str, Any]:
    """``base`` plus ``task``, ``taskrun``, ``parent`` and ``parents`` for ``task_run``."""
    task = flow_index(flow).task(task_run.task_id)
    variables = dict(base)
    variables["task"] = {"id": task.id, "type": task.type}
    taskrun: dict[str, Any] = {
        "id": task_run.id,
        "startDate": task_run.state.start_date,
        "attemptsCount": max(len(task_run.attempts) - 1, 0),
        "parentId": task_run.parent_task_run_id,
        "value": task_run.value,
    }
    if task_run.iteration is not None:
        taskrun["iteration"] = task_run.iteration
    variables["taskrun"] = taskrun
    # Kestra's parents, nearest first: the enclosing runs that a ForEach started (with their
    # value) or that have outputs; the flowables in between (a Sequential, the ForEach itself)
    # are left out, so parents[0] is the nearest iteration.
    index = flow_index(flow)
    parents: list[dict[str, Any]] = []
    parent_id = task_run.parent_task_run_id
    while parent_id is not None and parent_id in runs_by_id:
        parent = runs_by_id[parent_id]
        above = runs_by_id.get(parent.parent_task_run_id or "")
        placement = index.placements.get(above.task_id) if above is not None else None
        started = placement is not None and isinstance(placement.task, _EACH_TYPES)
        value = parent.value if started else None
        if value is not None or parent.outputs is not None:
            entry: dict[str, Any] = {
                "task": {"id": parent.task_id},
                "taskrun": {"value": value, "id": parent.id},
            }
            if parent.outputs is not None:
                entry["outputs"] = dict(parent.outputs)
            parents.append(entry)
        parent_id = parent.parent_task_run_id
    if parents:
        variables["parent"] = parents[0]
        variables["parents"] = parents
    return variables


def run_variables(
    flow: Flow, execution: Execution, task_run: TaskRun | None = None
) -> dict[str, Any]:
    """The template variables of ``execution``, for ``task_run`` when given.

    ``flow``, ``execution``, ``inputs``, ``outputs``, ``labels``, ``vars``, ``tasks``,
    ``trigger`` (when the execution has one), ``envs``; with a task run also ``task``,
    ``taskrun``, ``parent`` and ``parents`` (nearest first).
    """
    base = base_variables(flow, execution)
    if task_run is None:
        return base
    runs = execution.task_runs
    positions = run_index(runs).positions
    runs_by_id = {}
    parent_id = task_run.parent_task_run_id
    while parent_id is not None and parent_id in positions and parent_id not in runs_by_id:
        runs_by_id[parent_id] = runs[positions[parent_id]]
        parent_id = runs_by_id[parent_id].parent_task_run_id
    return with_task_run(base, flow, runs_by_id, task_run)
