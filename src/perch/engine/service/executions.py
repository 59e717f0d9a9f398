"""Creating, reading and searching executions, and reading their logs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from perch.engine.access import allowed, denial_text, readable, require_on
from perch.engine.durability import durable_commits
from perch.engine.effects import Audit
from perch.engine.executor import (
    MAX_RETRIES,
    EngineContext,
    context_for,
    reading,
    retryable,
    start_in,
    unit,
)
from perch.engine.ids import new_id
from perch.engine.model import JSON, Execution, Label, LogEntry
from perch.engine.ports import ExecutionQuery, Page, Store, Transaction
from perch.engine.principal import Principal
from perch.engine.service.files import Upload, file_uris
from perch.errors import (
    BulkInvalid,
    ConcurrentUpdate,
    ExecutionNotFound,
    FlowNotFound,
    IllegalState,
)
from perch.flows import Flow
from perch.inputs import InputBase, InputCheck, check_inputs, resolve_inputs
from perch.permissions import Action, Resource
from perch.templating import default_environment


@durable_commits
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
    revision: int | None = None,
    uploads: Mapping[str, Upload] | None = None,
) -> Execution:
    """Create an execution of the latest flow revision (or of ``revision``) and start it (or
    queue it). ``uploads`` are files sent for FILE inputs: stored with the execution, each
    input's value is the file's URI (see :mod:`perch.engine.service.files`).

    Inputs are validated first: an invalid create raises
    :class:`perch.errors.InputValidationError` naming every bad input and creates nothing.
    :class:`perch.errors.FlowNotFound` when the flow or the revision does not exist,
    :class:`perch.errors.IllegalState` when the flow is disabled. Over the flow's
    ``concurrency`` limit the execution is QUEUED, CANCELLED or FAILED.
    """
    from perch.engine import new_execution

    ctx = context_for(store)
    # One transaction: reading the latest revision inside it costs less than a separate one.
    # Retried from a fresh read when it conflicts (two creates counting a flow's last slot).
    for _ in range(MAX_RETRIES):
        try:
            with unit(store) as (tx, written):
                flow, pinned = _flow_at(tx, ctx, (tenant, namespace, flow_id), revision)
                if flow.disabled:
                    raise IllegalState("Cannot execute a disabled flow")
                execution_id = new_id()
                uploads = uploads or {}
                uris = file_uris(flow, uploads, execution_id)
                resolved = resolve_inputs(
                    flow.inputs or [],
                    {**inputs, **uris},
                    environment=default_environment(),
                    variables=_flow_vars(flow),
                )
                execution = new_execution(
                    flow,
                    revision=pinned,
                    inputs=resolved,
                    now=ctx.clock.now(),
                    principal=principal,
                    labels=labels,
                    correlation_id=correlation_id,
                    trigger=trigger,
                    execution_id=execution_id,
                )
                for input_id, uri in uris.items():
                    tx.put_file(uri, execution_id, uploads[input_id].content, ctx.clock.now())
                if execution.tenant != tenant:
                    execution = replace(execution, tenant=tenant)
                written.insert(execution)
                started = start_in(tx, ctx, execution, written, principal)
        except Exception as exc:
            if not retryable(exc):
                raise
            continue
        ctx.after_commit(written)
        return started
    raise ConcurrentUpdate(f"creating an execution of '{namespace}.{flow_id}' kept conflicting")


def _flow_at(
    tx: Transaction, ctx: EngineContext, key: tuple[str, str, str], revision: int | None
) -> tuple[Flow, int]:
    """The flow ``(tenant, namespace, id)`` at its latest revision, or at ``revision`` while
    the flow still exists, with that revision."""
    tenant, namespace, flow_id = key
    stored = tx.get_flow(tenant, namespace, flow_id)
    if stored is None or stored.deleted:
        raise FlowNotFound(f"Flow '{namespace}.{flow_id}' not found")
    if revision is not None and revision != stored.revision:
        older = tx.get_flow(tenant, namespace, flow_id, revision)
        if older is None or older.deleted:
            raise FlowNotFound(f"Flow '{namespace}.{flow_id}' has no revision {revision}")
        stored = older
    return ctx.flow(tx, tenant, namespace, flow_id, stored.revision), stored.revision


@dataclass(frozen=True, slots=True)
class CreateValidation:
    """What a create with some inputs would make of them, without creating anything."""

    flow: Flow
    revision: int
    declarations: list[InputBase]
    checks: list[InputCheck]


def validate_create_inputs(  # noqa: PLR0917 - mirrors create_execution
    store: Store,
    tenant: str,
    namespace: str,
    flow_id: str,
    inputs: Mapping[str, Any],
    revision: int | None = None,
    uploads: Mapping[str, Upload] | None = None,
) -> CreateValidation:
    """Check ``inputs`` against the flow's declarations, one :class:`perch.inputs.InputCheck`
    per input, without raising for bad values; nothing is created.
    :class:`perch.errors.FlowNotFound` when the flow or the revision does not exist."""
    ctx = context_for(store)
    with reading(store) as tx:
        flow, pinned = _flow_at(tx, ctx, (tenant, namespace, flow_id), revision)
    declarations: list[InputBase] = list(flow.inputs or [])
    # No execution exists yet: the URIs shown name it by a placeholder.
    uris = file_uris(flow, uploads or {}, "{executionId}")
    checks = check_inputs(
        declarations,
        {**inputs, **uris},
        environment=default_environment(),
        variables=_flow_vars(flow),
    )
    return CreateValidation(flow, pinned, declarations, checks)


def delete_execution(
    store: Store, execution_id: str, principal: Principal, *, tenant: str | None = None
) -> None:
    """Delete a terminated execution and its logs; the audit trail keeps its records and gains
    one saying who deleted it. :class:`perch.errors.ExecutionNotFound` when it does not exist
    (in ``tenant``), :class:`perch.errors.IllegalState` while it is not terminated: its jobs and
    timers would otherwise wake up to an execution that is gone."""
    ctx = context_for(store)
    with store.transaction() as tx:
        execution = tx.get_execution(execution_id, for_update=True)
        if execution is None or (tenant is not None and execution.tenant != tenant):
            raise ExecutionNotFound(f"Execution '{execution_id}' not found.")
        require_on(principal, execution, Action.DELETE)
        if not execution.state.current.is_terminated:
            raise IllegalState(f"Execution '{execution_id}' is not finished, kill it first")
        _delete_in(tx, execution, principal, ctx.clock.now())


def delete_executions(
    store: Store, ids: Iterable[str], principal: Principal, *, tenant: str | None = None
) -> tuple[int, list[tuple[str, str]]]:
    """Delete every listed execution, or none: :class:`perch.errors.BulkInvalid` names each one
    that does not exist (in ``tenant``) or is not terminated. One transaction, so an execution
    restarted meanwhile cannot be deleted half-way. Those ``principal`` may read but not delete
    are left, and the others deleted. Returns how many were deleted, and the refused ones with
    why."""
    ctx = context_for(store)
    unique = list(dict.fromkeys(ids))
    with store.transaction() as tx:
        found: list[Execution] = []
        invalids: list[tuple[str, str]] = []
        refused: list[tuple[str, str]] = []
        for execution_id in unique:
            execution = tx.get_execution(execution_id, for_update=True)
            if (
                execution is None
                or (tenant is not None and execution.tenant != tenant)
                or not readable(principal, Resource.EXECUTION, execution.namespace)
            ):
                invalids.append((execution_id, "execution not found"))
            elif not allowed(principal, Resource.EXECUTION, Action.DELETE, execution.namespace):
                refused.append((execution_id, denial_text(Action.DELETE, execution.namespace)))
            elif not execution.state.current.is_terminated:
                invalids.append((execution_id, "execution not finished, kill it first"))
            else:
                found.append(execution)
        if invalids:
            raise BulkInvalid("delete", invalids)
        now = ctx.clock.now()
        for execution in found:
            _delete_in(tx, execution, principal, now)
    return len(found), refused


def _delete_in(tx: Transaction, execution: Execution, principal: Principal, now: datetime) -> None:
    tx.delete_execution(execution.id)
    detail: dict[str, JSON] = {
        "namespace": execution.namespace,
        "flowId": execution.flow_id,
        "state": execution.state.current.value,
    }
    record = Audit(
        "EXECUTION_DELETED",
        principal,
        detail,
        tenant=execution.tenant,
        before=execution.state.current.value,
    )
    tx.add_audit(execution.id, record, now)


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
    """The execution's log lines, oldest first (a line rendered from a SECRET value was
    stored as ``******``)."""
    with reading(store) as tx:
        return tx.get_logs(execution_id, min_level=min_level, task_id=task_id)
