"""The hooks of the tasks that act on the engine's data: ``execution.Labels``,
``execution.Resume``, ``log.Fetch`` and ``trigger.Toggle``.

Each hook is bound to one execution (:func:`acting_hooks`) and calls the same service function
as the API (:func:`perch.engine.service.labels.set_labels`, :func:`perch.engine.service.resume`,
:func:`perch.engine.service.triggers.set_disabled`), as the flow's principal
(:mod:`perch.engine.flowactor`): the same validation, the same audit records, the same
permission checks. The hooks are named ``execution:labels``, ``execution:resume``,
``logs:fetch`` and ``trigger:toggle``, names no template function can call. Each call is one
short transaction of its own (a task calling them runs as a worker job, outside any).

The composition root gives them to the executions of the runtimes that run tasks
(:func:`perch.server.worker_hooks`): they call service functions, which sit above the engine
context that builds the engine's own hooks.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any

from perch.engine.access import allowed
from perch.engine.context import reading
from perch.engine.filehooks import MAX_FILE_BYTES, WRITE, file_hooks
from perch.engine.flowactor import acting, flow_principal
from perch.engine.model import Execution, LogEntry
from perch.engine.ports import Store
from perch.engine.principal import Principal
from perch.engine.service import logs
from perch.engine.service import resume as resume_execution
from perch.engine.service.labels import set_labels
from perch.engine.service.triggers import TriggerNotFound, set_disabled
from perch.errors import ActingTaskError, ExecutionNotFound, NotAssigned
from perch.permissions import Action, Resource

LABELS = "execution:labels"
RESUME = "execution:resume"
FETCH_LOGS = "logs:fetch"
TOGGLE = "trigger:toggle"

LOG_FILE_NAME = "logs.ion"
"""The file ``log.Fetch`` writes: one JSON object per line (JSON lines are valid Ion text, the
format of Kestra's file)."""


def acting_hooks(store: Store) -> Callable[[Execution], Mapping[str, Callable[..., Any]]]:
    """The acting hooks of each execution on ``store`` (held weakly, as every engine hook)."""
    held = weakref.ref(store)
    files = file_hooks(store)

    def current() -> Store:
        found = held()
        if found is None:
            raise ActingTaskError("The store is closed")
        return found

    def hooks(execution: Execution) -> Mapping[str, Callable[..., Any]]:
        # Made on every transition of the execution: the principal is made only when used.
        def who() -> Principal:
            return flow_principal(execution)

        reach = f"a flow reaches only its namespace {execution.namespace} and those below it"

        def target(
            execution_id: str | None, namespace: str | None, flow_id: str | None, action: Action
        ) -> Execution:
            """The execution a task names (its own by default), checked against the flow it
            must belong to when the task names one, and against what the flow may reach."""
            if execution_id is None or execution_id == execution.id:
                found: Execution | None = execution
            else:
                with reading(current()) as tx:
                    found = tx.get_execution(execution_id)
            wanted = f"{namespace}.{flow_id}" if namespace and flow_id else None
            if (
                found is None
                or found.tenant != execution.tenant
                or (wanted is not None and (found.namespace, found.flow_id) != (namespace, flow_id))
                # Out of reach reads as missing: a flow learns nothing of other namespaces.
                or not allowed(who(), Resource.EXECUTION, action, found.namespace)
            ):
                of = f" of flow {wanted}" if wanted else ""
                raise ActingTaskError(f"Execution '{execution_id}'{of} not found ({reach})")
            return found

        def labels(values: Mapping[str, str], *, task_id: str | None = None) -> None:
            with acting(execution, task_id):
                set_labels(current(), execution.id, values, who(), tenant=execution.tenant)

        def resume(
            execution_id: str | None,
            inputs: Mapping[str, Any],
            *,
            namespace: str | None = None,
            flow_id: str | None = None,
            task_id: str | None = None,
        ) -> str:
            paused = target(execution_id, namespace, flow_id, Action.UPDATE)
            with acting(execution, task_id):
                try:
                    resume_execution(current(), paused.id, inputs, who(), tenant=execution.tenant)
                except ExecutionNotFound as exc:
                    raise ActingTaskError(f"{exc} ({reach})") from exc
                except NotAssigned as exc:
                    raise ActingTaskError(
                        f"{exc}: it waits for the assignees of a HumanTask, and a flow is "
                        "none of them"
                    ) from exc
            return paused.id

        def fetch_logs(
            execution_id: str | None,
            namespace: str | None,
            flow_id: str | None,
            task_ids: list[str] | None,
            level: str,
            *,
            task_run_id: str,
        ) -> tuple[str, int]:
            # Without `namespace`/`flowId`, the logs are those of an execution of this flow.
            source = target(
                execution_id,
                namespace or execution.namespace,
                flow_id or execution.flow_id,
                Action.READ,
            )
            entries = _read_logs(current(), source.id, task_ids, level)
            content = _log_lines(source, entries)
            write = files(execution.tenant, execution.namespace)[WRITE]
            uri: str = write(execution.id, task_run_id, LOG_FILE_NAME, content)
            return uri, len(entries)

        def toggle(
            namespace: str | None,
            flow_id: str | None,
            trigger: str,
            enabled: bool,
            *,
            task_id: str | None = None,
        ) -> None:
            ns = namespace or execution.namespace
            flow = flow_id or execution.flow_id
            with reading(current()) as tx:
                stored = tx.get_flow(execution.tenant, ns, flow)
            principal = who()
            if stored is None or not allowed(principal, Resource.FLOW, Action.UPDATE, ns):
                raise ActingTaskError(f"Unable to find flow {ns}.{flow} ({reach})")
            key = (execution.tenant, ns, flow, trigger)
            with acting(execution, task_id):
                try:
                    set_disabled(current(), principal, key, not enabled)
                except TriggerNotFound:
                    raise ActingTaskError(
                        f"Unable to find trigger '{trigger}' of flow {ns}.{flow}"
                    ) from None

        return {LABELS: labels, RESUME: resume, FETCH_LOGS: fetch_logs, TOGGLE: toggle}

    return hooks


def _read_logs(
    store: Store, execution_id: str, task_ids: list[str] | None, level: str
) -> list[LogEntry]:
    if task_ids is None:
        return logs(store, execution_id, min_level=level)
    found: list[LogEntry] = []
    for task_id in task_ids:  # in the order given, as Kestra's
        found.extend(logs(store, execution_id, min_level=level, task_id=task_id))
    return found


def _log_lines(execution: Execution, entries: list[LogEntry]) -> bytes:
    """One JSON object per line, with the fields of Kestra's LogEntry; an error past the size
    a task file may have."""
    parts: list[bytes] = []
    total = 0
    for entry in entries:
        line = json.dumps(_log_record(execution, entry), ensure_ascii=False).encode() + b"\n"
        total += len(line)
        if total > MAX_FILE_BYTES:
            raise ActingTaskError(
                f"The logs of execution '{execution.id}' are over {MAX_FILE_BYTES} bytes; "
                "narrow them with `level` or `tasksId`"
            )
        parts.append(line)
    return b"".join(parts)


def _log_record(execution: Execution, entry: LogEntry) -> dict[str, Any]:
    moment = entry.timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return {
        "tenantId": execution.tenant,
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "taskId": entry.task_id,
        "executionId": entry.execution_id,
        "taskRunId": entry.task_run_id,
        # Kestra counts attempts from 0 in log lines; the engine from 1 (0: no attempt).
        "attemptNumber": max(entry.attempt - 1, 0),
        "triggerId": None,
        "timestamp": moment,
        "level": entry.level,
        "message": entry.message,
        "thread": None,
    }
