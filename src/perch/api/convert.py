"""Engine values to Kestra's JSON shapes (see :mod:`perch.api.shapes`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from perch.engine import service
from perch.engine.access import require_on
from perch.engine.assignment import assignees_of, paused_run
from perch.engine.model import Execution, TaskRun
from perch.engine.ports import Store
from perch.engine.principal import Principal
from perch.engine.states import State, StateType
from perch.errors import ExecutionNotFound
from perch.permissions import Action


def iso(moment: datetime) -> str:
    """An ISO-8601 UTC timestamp with a ``Z``, as Kestra writes them."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def iso_duration(delta: timedelta) -> str:
    """``PT1.5S``-style, as Java's ``Duration.toString()``."""
    total = delta.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = "PT"
    if hours:
        text += f"{int(hours)}H"
    if minutes:
        text += f"{int(minutes)}M"
    if seconds or text == "PT":
        text += f"{seconds:.6f}".rstrip("0").rstrip(".") + "S"
    return sign + text


def non_null(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` without the ones whose value is None (one level: values inside are data)."""
    return {key: value for key, value in fields.items() if value is not None}


def state_json(state: State) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "current": state.current.value,
        "histories": [{"state": h.state.value, "date": iso(h.date)} for h in state.histories],
        "startDate": iso(state.start_date),
        "duration": iso_duration(state.duration),
    }
    end = state.end_date
    if end is not None:
        shown["endDate"] = iso(end)
    return shown


# Kestra's server leaves out the properties that are null (Jackson's NON_NULL inclusion), and
# strict clients' models refuse a null where they expect a value: the shapes below add an
# optional property only when it has one. Null *values inside* user data (inputs, outputs,
# variables) are data and stay. Each object is built once, so this costs nothing extra.


def task_run_json(execution: Execution, run: TaskRun) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": run.id,
        "executionId": execution.id,
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "taskId": run.task_id,
    }
    if run.parent_task_run_id is not None:
        shown["parentTaskRunId"] = run.parent_task_run_id
    if run.value is not None:
        shown["value"] = run.value
    if run.iteration is not None:
        shown["iteration"] = run.iteration
    if run.attempts:
        shown["attempts"] = [{"state": state_json(a.state)} for a in run.attempts]
    if run.outputs is not None:
        shown["outputs"] = dict(run.outputs)
    shown["state"] = state_json(run.state)
    return shown


def execution_json(execution: Execution) -> dict[str, Any]:
    """The Execution as Kestra's API shows it (``state.current``, ``taskRunList``, ``labels[]``…),
    without the properties that have no value (as Kestra's server).

    SECRET values must be masked by the caller (:func:`shown_execution`).
    """
    shown: dict[str, Any] = {
        "id": execution.id,
        "tenantId": execution.tenant,
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "flowRevision": execution.flow_revision,
        "state": state_json(execution.state),
    }
    if execution.task_runs:
        shown["taskRunList"] = [task_run_json(execution, r) for r in execution.task_runs]
    if execution.inputs:  # Kestra leaves out empty inputs and outputs too
        shown["inputs"] = dict(execution.inputs)
    if execution.outputs:
        shown["outputs"] = dict(execution.outputs)
    shown["labels"] = [{"key": label.key, "value": label.value} for label in execution.labels]
    if execution.variables is not None:
        shown["variables"] = dict(execution.variables)
    if execution.trigger is not None:
        shown["trigger"] = dict(execution.trigger)
    if execution.parent is not None:
        shown["parentId"] = execution.parent.execution_id
    # As Kestra: an execution that is not a replay is its own original.
    shown["originalId"] = execution.original_id or execution.id
    shown["deleted"] = False
    # Kestra's metadata always has the attempt number and the original's creation date.
    shown["metadata"] = {
        "attemptNumber": 1,
        "originalCreatedDate": shown["state"]["startDate"],
        **execution.metadata,
    }
    waiting = assignment_json(execution)
    if waiting is not None:
        shown["assignment"] = waiting
    return shown


def assignment_json(execution: Execution) -> dict[str, Any] | None:
    """Who may resume the paused HumanTask of a PAUSED execution (None for anything else):
    ``{taskRunId, taskId, users, groups}``."""
    if execution.state.current is not StateType.PAUSED:
        return None
    run = paused_run(execution)
    assignees = None if run is None else assignees_of(run)
    if run is None or assignees is None:
        return None
    return {"taskRunId": run.id, "taskId": run.task_id, **assignees.to_json()}


def shown_execution(store: Store, execution: Execution) -> dict[str, Any]:
    """:func:`execution_json` with the execution's SECRET values masked: what responses carry."""
    del store  # the marks travel with the values: nothing to look up
    shown: dict[str, Any] = service.mask_secrets(execution_json(execution))
    return shown


def execution_in(
    store: Store,
    tenant: str,
    execution_id: str,
    principal: Principal,
    action: Action = Action.READ,
) -> Execution:
    """The execution if it exists in ``tenant`` and ``principal`` may do ``action`` on it;
    :class:`ExecutionNotFound` (404) when it does not exist or cannot even be read, and
    :class:`~perch.engine.access.PermissionDenied` (403, naming the permission) otherwise."""
    try:
        execution = service.get_execution(store, execution_id)
    except ExecutionNotFound:
        execution = None
    if execution is None or execution.tenant != tenant:
        raise ExecutionNotFound(f"Execution '{execution_id}' not found.")
    require_on(principal, execution, action)
    return execution
