"""Pausing, killing, restarting and replaying executions."""

from __future__ import annotations

from collections.abc import Iterable

from perch.engine.events import Kill, Pause, Restart
from perch.engine.executor import (
    apply,
    context_for,
    retryable,
    start_in,
    unit,
)
from perch.engine.model import Execution
from perch.engine.ports import ExecutionQuery, Store
from perch.engine.principal import Principal
from perch.engine.service.bulk import BulkResult, Progress, each, matching_ids
from perch.errors import (
    ConcurrentUpdate,
    ExecutionNotFound,
)


def pause(store: Store, execution_id: str, principal: Principal) -> Execution:
    """Pause a RUNNING execution: running task runs finish, nothing new starts until resumed."""
    return apply(store, execution_id, Pause(principal), principal)


def kill(store: Store, execution_id: str, principal: Principal) -> Execution:
    """Kill an execution (and, through its effects, cancel its running tasks)."""
    return apply(store, execution_id, Kill(principal), principal)


def kill_by_ids(
    store: Store, ids: Iterable[str], principal: Principal, *, progress: Progress | None = None
) -> BulkResult:
    """Kill each execution; finished ones are reported, not raised."""
    return each(list(ids), lambda i: kill(store, i, principal), progress)


def kill_by_query(
    store: Store, query: ExecutionQuery, principal: Principal, *, progress: Progress | None = None
) -> BulkResult:
    """Kill every execution matching ``query`` that has not finished."""
    return kill_by_ids(store, matching_ids(store, query), principal, progress=progress)


def restart(store: Store, execution_id: str, principal: Principal) -> Execution:
    """Restart a FAILED execution from its failed task runs, keeping its id."""
    return apply(store, execution_id, Restart(principal), principal)


def replay(
    store: Store, execution_id: str, principal: Principal, *, task_run_id: str | None = None
) -> Execution:
    """Replay an execution as a new one, from ``task_run_id`` (or from the start)."""
    from perch.engine import replay_execution

    ctx = context_for(store)
    for _ in range(5):
        try:
            with unit(store) as (tx, written):
                original = written.load(tx, execution_id)
                if original is None:
                    raise ExecutionNotFound(f"Execution '{execution_id}' not found")
                flow = ctx.flow_for(tx, original)
                now = ctx.clock.now()
                new = replay_execution(
                    flow, original, now=now, principal=principal, task_run_id=task_run_id
                )
                written.insert(new)  # the engine audits the replay when it starts
                started = start_in(tx, ctx, new, written, principal)
        except Exception as exc:
            if not retryable(exc):
                raise
            continue
        ctx.after_commit(written)
        return started
    raise ConcurrentUpdate(f"could not replay '{execution_id}'")
