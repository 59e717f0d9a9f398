"""New executions: started from a flow, or replayed from another execution's task run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from perch.engine.flowindex import flow_index
from perch.engine.ids import new_id
from perch.engine.model import Execution, Label, ParentRef, TaskRun
from perch.engine.principal import Principal
from perch.engine.starting import FOREACH_VALUES_KEY
from perch.engine.states import State, StateType
from perch.errors import PerchError
from perch.flows import Flow
from perch.inputs import serialize_input_value

USERNAME_LABEL = "system.username"
CORRELATION_LABEL = "system.correlationId"
REPLAY_LABEL = "system.replay"
RESTARTED_LABEL = "system.restarted"


def merge_labels(*groups: Sequence[Label]) -> tuple[Label, ...]:
    """Labels of every group in order; a later label replaces an earlier one with its key."""
    merged: dict[str, str] = {}
    for group in groups:
        for label in group:
            merged[label.key] = label.value
    return tuple(Label(k, v) for k, v in merged.items())


def new_execution(
    flow: Flow,
    *,
    revision: int,
    inputs: Mapping[str, Any],
    now: datetime,
    principal: Principal,
    labels: Sequence[Label] = (),
    parent: ParentRef | None = None,
    correlation_id: str | None = None,
    trigger: Mapping[str, Any] | None = None,
    execution_id: str | None = None,
) -> Execution:
    """A CREATED execution of ``flow`` pinned to ``revision`` (send it :class:`Start`).

    ``inputs`` are the resolved, typed values (from :func:`perch.inputs.resolve_inputs`); they
    are stored in their JSON form. The flow's labels come first, then ``labels``, then
    ``system.username`` (the principal) and ``system.correlationId`` (``correlation_id``, or
    the execution's own id for a root execution).
    """
    identifier = execution_id or new_id()
    flow_labels = [Label(k, str(v)) for k, v in (flow.labels or {}).items()]
    system = [
        Label(USERNAME_LABEL, principal.name),
        Label(CORRELATION_LABEL, correlation_id or identifier),
    ]
    return Execution(
        id=identifier,
        namespace=flow.namespace,
        flow_id=flow.id,
        flow_revision=revision,
        state=State.new(now),
        inputs=serialize_input_value(dict(inputs)),
        labels=merge_labels(flow_labels, labels, system),
        trigger=None if trigger is None else dict(trigger),
        parent=parent,
        metadata={"attemptNumber": 1},
    )


def replay_execution(
    flow: Flow,
    execution: Execution,
    *,
    task_run_id: str | None,
    now: datetime,
    principal: Principal,
) -> Execution:
    """A new execution that repeats ``execution`` from ``task_run_id`` (from the start when
    ``None``): it keeps copies of the task runs created before that one, with new ids, and its
    parents go back to RUNNING. Insert it and send it :class:`Start`."""
    labels = merge_labels(
        execution.labels,
        [Label(USERNAME_LABEL, principal.name), Label(REPLAY_LABEL, "true")],
    )
    fresh = Execution(
        id=new_id(),
        namespace=execution.namespace,
        flow_id=execution.flow_id,
        flow_revision=execution.flow_revision,
        tenant=execution.tenant,
        state=State.new(now),
        inputs=execution.inputs,
        labels=labels,
        variables=execution.variables,
        trigger=execution.trigger,
        parent=execution.parent,
        original_id=execution.id,
        metadata={"attemptNumber": 1},
    )
    if task_run_id is None:
        return fresh
    position = next((i for i, r in enumerate(execution.task_runs) if r.id == task_run_id), None)
    if position is None:
        raise PerchError(f"Task run '{task_run_id}' does not exist in execution '{execution.id}'")
    index = flow_index(flow)
    by_id = {run.id: run for run in execution.task_runs}
    ancestors: set[str] = set()
    parent_id = execution.task_runs[position].parent_task_run_id
    while parent_id is not None:
        ancestors.add(parent_id)
        parent_id = by_id[parent_id].parent_task_run_id
    kept = [
        run
        for run in execution.task_runs[:position]
        if run.id in ancestors or not index.in_error_branch(run.task_id)
    ]
    renamed = {run.id: new_id() for run in kept}
    runs: list[TaskRun] = []
    for run in kept:
        state = run.state
        if run.id in ancestors:
            state = state.with_state(StateType.RUNNING, now)
        runs.append(
            TaskRun(
                id=renamed[run.id],
                task_id=run.task_id,
                state=state,
                parent_task_run_id=(
                    None if run.parent_task_run_id is None else renamed[run.parent_task_run_id]
                ),
                value=run.value,
                iteration=run.iteration,
                attempts=run.attempts,
                outputs=run.outputs,
            )
        )
    values = execution.metadata.get(FOREACH_VALUES_KEY) or {}
    metadata: dict[str, Any] = {"attemptNumber": 1}
    if values:
        metadata[FOREACH_VALUES_KEY] = {
            renamed[old]: items for old, items in values.items() if old in renamed
        }
    return replace(
        fresh,
        state=fresh.state.with_state(StateType.RESTARTED, now),
        task_runs=tuple(runs),
        metadata=metadata,
    )
