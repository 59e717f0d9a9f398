"""Creating, reading and searching executions, and reading their logs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from perch.engine.executor import (
    context_for,
    reading,
    start_in,
    unit,
)
from perch.engine.model import Execution, Label, LogEntry
from perch.engine.ports import ExecutionQuery, Page, Store
from perch.engine.principal import Principal
from perch.engine.service.secrets import mask_secrets, secret_texts
from perch.errors import (
    ExecutionNotFound,
    FlowNotFound,
)
from perch.flows import Flow
from perch.inputs import resolve_inputs
from perch.templating import default_environment


def create_execution(  # noqa: PLR0917 - the agreed signature
    store: Store,
    tenant: str,
    namespace: str,
    flow_id: str,
    inputs: Mapping[str, Any],
    principal: Principal,
    labels: Sequence[Label] = (),
    *,
    correlation_id: str | None = None,
    trigger: Mapping[str, Any] | None = None,
) -> Execution:
    """Create an execution of the latest flow revision and start it (or queue it).

    Inputs are validated first: an invalid create raises
    :class:`perch.errors.InputValidationError` naming every bad input and creates nothing.
    Over the flow's ``concurrency`` limit the execution is QUEUED, CANCELLED or FAILED.
    """
    from perch.engine import new_execution

    ctx = context_for(store)
    # One transaction: reading the latest revision inside it costs less than a separate one.
    with unit(store) as (tx, written):
        stored = tx.get_flow(tenant, namespace, flow_id)
        if stored is None or stored.deleted:
            raise FlowNotFound(f"Flow '{namespace}.{flow_id}' not found")
        flow = ctx.flow(tx, tenant, namespace, flow_id, stored.revision)
        resolved = resolve_inputs(
            flow.inputs or [], inputs, environment=default_environment(), variables=_flow_vars(flow)
        )
        execution = new_execution(
            flow,
            revision=stored.revision,
            inputs=resolved,
            now=ctx.clock.now(),
            principal=principal,
            labels=labels,
            correlation_id=correlation_id,
            trigger=trigger,
        )
        if execution.tenant != tenant:
            execution = replace(execution, tenant=tenant)
        written.insert(execution)
        started = start_in(tx, ctx, execution, written, principal)
    ctx.after_commit(written)
    return started


def _flow_vars(flow: Flow) -> dict[str, Any]:
    return {"flow": {"id": flow.id, "namespace": flow.namespace}}


def get_execution(store: Store, execution_id: str) -> Execution:
    """The execution; :class:`perch.errors.ExecutionNotFound` when there is none."""
    with reading(store) as tx:
        execution = tx.get_execution(execution_id)
    if execution is None:
        raise ExecutionNotFound(f"Execution '{execution_id}' not found")
    return execution


def search_executions(store: Store, query: ExecutionQuery) -> Page:
    """One page of executions matching ``query``."""
    with reading(store) as tx:
        return tx.search_executions(query)


def logs(
    store: Store,
    execution_id: str,
    *,
    min_level: str | None = None,
    task_id: str | None = None,
) -> list[LogEntry]:
    """The execution's log lines, oldest first, with its SECRET values masked."""
    with reading(store) as tx:
        entries = tx.get_logs(execution_id, min_level=min_level, task_id=task_id)
        execution = tx.get_execution(execution_id)
    if execution is None or not entries:
        return entries
    secrets = secret_texts(store, execution)
    if not secrets:
        return entries
    return [replace(entry, message=mask_secrets(entry.message, secrets)) for entry in entries]
