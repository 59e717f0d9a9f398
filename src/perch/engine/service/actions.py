"""Pausing, killing, restarting and replaying executions, one or in bulk; and what every bulk
action (bulk resume too) shares: checking all the ids before acting on any, and acting on a
batch of executions per transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from perch.engine.access import require_on
from perch.engine.assignment import may_decide, paused_run
from perch.engine.durability import durable_commits
from perch.engine.effects import Audit
from perch.engine.events import Event, Kill, Pause, Restart
from perch.engine.executor import (
    MAX_RETRIES,
    EngineContext,
    Written,
    apply,
    apply_in,
    context_for,
    retryable,
    start_in,
    unit,
)
from perch.engine.flowindex import flow_index
from perch.engine.model import Execution
from perch.engine.ports import ExecutionQuery, Store, Transaction
from perch.engine.principal import Principal
from perch.engine.service.bulk import BULK_BATCH, BulkResult, Progress, not_paused_reason
from perch.engine.service.executions import search_executions
from perch.engine.states import StateType
from perch.errors import (
    AlreadyFinished,
    BulkInvalid,
    ConcurrentUpdate,
    EngineError,
    ExecutionNotFound,
    NotAssigned,
    NotPaused,
    PerchError,
)
from perch.permissions import Action

Act = Callable[[Transaction, EngineContext, Execution, Written], object]
"""Changes one execution (already read and locked in the transaction) inside a bulk action."""


@dataclass(frozen=True, slots=True)
class BulkRule:
    """Which executions a bulk action applies to, and how it names the others."""

    action: str
    accepts: Callable[[StateType], bool]
    refusal: str
    """Why an execution is refused, in the words of Kestra's bulk error responses."""
    adjective: str
    """What an execution in the wrong state is not, for the reports of query actions."""

    def refusal_for(self, state: StateType) -> str:
        return f"execution not {self.adjective} (it is {state.value})"


RESUME = BulkRule("resume", lambda s: s.is_paused, "execution not in state PAUSED", "paused")
PAUSE = BulkRule("pause", lambda s: s is StateType.RUNNING, "execution not running", "running")
KILL = BulkRule(
    "kill", lambda s: not s.is_terminated, "execution already finished", "running or paused"
)
RESTART = BulkRule(
    "restart",
    lambda s: s.is_failed or s.is_paused,
    "execution not in state FAILED, KILLED, CANCELLED or PAUSED",
    "failed, killed, cancelled or paused",
)
NOT_FOUND = "execution not found"
KILL_FINISHED = "Execution is already finished, can't kill it"
_READ_CHUNK = 500  # ids per query when reading the states of many executions


def states_of(store: Store, tenant: str, ids: Iterable[str]) -> dict[str, StateType]:
    """The current state of each of ``ids`` that exists in ``tenant`` (a query per 500 ids)."""
    unique = list(dict.fromkeys(ids))
    states: dict[str, StateType] = {}
    for first in range(0, len(unique), _READ_CHUNK):
        chunk = unique[first : first + _READ_CHUNK]
        page = search_executions(
            store, ExecutionQuery(tenant=tenant, ids=tuple(chunk), size=len(chunk))
        )
        states.update((e.id, e.state.current) for e in page.results)
    return states


def check_all(store: Store, tenant: str, ids: Iterable[str], rule: BulkRule) -> list[str]:
    """The ids, de-duplicated, once every one of them exists in ``tenant`` and is in a state
    ``rule`` accepts; otherwise :class:`perch.errors.BulkInvalid` lists each one that is not,
    and why, so that a bulk action by ids does all or nothing (as Kestra's)."""
    unique = list(dict.fromkeys(ids))
    states = states_of(store, tenant, unique)
    invalids: list[tuple[str, str]] = []
    for execution_id in unique:
        state = states.get(execution_id)
        if state is None:
            invalids.append((execution_id, NOT_FOUND))
        elif not rule.accepts(state):
            invalids.append((execution_id, rule.refusal))
    if invalids:
        raise BulkInvalid(rule.action, invalids)
    return unique


def partition(store: Store, query: ExecutionQuery, rule: BulkRule) -> tuple[list[str], BulkResult]:
    """The executions matching ``query`` that ``rule`` accepts, and a result that already
    reports the other matches as skipped. Every page is read before acting, so executions
    leaving the filter while the action runs do not shift the pages."""
    page_size = 1000
    accepted: list[str] = []
    refused = BulkResult()
    page, seen = 1, 0
    while True:
        found = search_executions(
            store, replace(query, page=page, size=page_size, count_limit=page_size)
        )
        for execution in found.results:
            state = execution.state.current
            if rule.accepts(state):
                accepted.append(execution.id)
            else:
                refused.skipped.append((execution.id, rule.refusal_for(state)))
        seen += len(found.results)
        if len(found.results) < page_size or (not found.estimated and seen >= found.total):
            return accepted, refused
        page += 1


def act_in_batches(
    store: Store,
    ids: Iterable[str],
    act: Act,
    *,
    tenant: str | None = None,
    progress: Progress | None = None,
    batch: int = BULK_BATCH,
) -> BulkResult:
    """Apply ``act`` to each execution, ``batch`` executions per transaction.

    Each execution is still checked and compare-and-set on its own: one that cannot be changed
    (not found, in ``tenant``, or in the wrong state) is reported in ``skipped`` and does not
    hold back the others. A batch that keeps conflicting falls back to one transaction each.
    """
    ctx = context_for(store)
    pending = list(dict.fromkeys(ids))
    result = BulkResult()
    for first in range(0, len(pending), batch):
        # One lock order for every batch, so two bulk actions never wait on each other in a cycle.
        chunk = sorted(pending[first : first + batch])
        part = _in_one_transaction(store, ctx, chunk, act, tenant)
        if part is None:
            part = BulkResult()
            for execution_id in chunk:
                alone = _in_one_transaction(store, ctx, [execution_id], act, tenant)
                if alone is None:
                    alone = BulkResult(skipped=[(execution_id, "it kept changing; try again")])
                part.done.extend(alone.done)
                part.skipped.extend(alone.skipped)
        result.done.extend(part.done)
        result.skipped.extend(part.skipped)
        if progress is not None:
            progress(min(first + batch, len(pending)), len(pending))
    return result


def _in_one_transaction(
    store: Store, ctx: EngineContext, ids: list[str], act: Act, tenant: str | None
) -> BulkResult | None:
    """``act`` on each of ``ids`` in one transaction (retried on conflicts); ``None`` when
    the retries ran out."""
    for _ in range(MAX_RETRIES):
        part = BulkResult()
        try:
            with unit(store) as (tx, written):
                for execution_id in ids:
                    try:
                        act(tx, ctx, load_in(tx, written, execution_id, tenant), written)
                    except NotPaused as exc:
                        part.skipped.append((execution_id, not_paused_reason(exc)))
                    except ConcurrentUpdate:
                        raise
                    except (EngineError, PerchError, ValueError) as exc:
                        part.skipped.append((execution_id, str(exc)))
                    else:
                        part.done.append(execution_id)
        except Exception as exc:
            if not retryable(exc):
                raise
            continue
        ctx.after_commit(written)
        return part
    return None


def record_refusal(
    tx: Transaction, ctx: EngineContext, execution: Execution, principal: Principal, action: str
) -> None:
    """An audit record of a decision refused to someone a HumanTask is not assigned to."""
    run = paused_run(execution)
    detail: dict[str, Any] = {"executionId": execution.id, "outcome": "DENIED"}
    if run is not None:
        detail |= {"taskRunId": run.id, "taskId": run.task_id}
    tx.add_audit(execution.id, Audit(f"{action}_DENIED", principal, detail), ctx.clock.now())


def load_in(tx: Transaction, written: Written, execution_id: str, tenant: str | None) -> Execution:
    """The execution, read and locked in ``tx``; :class:`ExecutionNotFound` when it does not
    exist, or not in ``tenant`` (another tenant's executions are not even said to exist)."""
    execution = written.load(tx, execution_id)
    if execution is None or (tenant is not None and execution.tenant != tenant):
        raise ExecutionNotFound(f"Execution '{execution_id}' not found.")
    return execution


def _event_act(make: Callable[[Principal], Event], principal: Principal) -> Act:
    event = make(principal)

    def act(tx: Transaction, ctx: EngineContext, execution: Execution, written: Written) -> object:
        require_on(principal, execution, Action.UPDATE)
        return apply_in(tx, ctx, execution.id, event, principal, written=written, loaded=execution)

    return act


@durable_commits
def pause(store: Store, execution_id: str, principal: Principal) -> Execution:
    """Pause a RUNNING execution: running task runs finish, nothing new starts until resumed.
    Raises :class:`perch.errors.NotRunning` when it is not RUNNING."""
    return apply(store, execution_id, Pause(principal), principal)


@durable_commits
def pause_by_ids(
    store: Store,
    ids: Iterable[str],
    principal: Principal,
    *,
    tenant: str | None = None,
    progress: Progress | None = None,
) -> BulkResult:
    """Pause each execution; those not RUNNING are reported, not raised."""
    act = _event_act(Pause, principal)
    return act_in_batches(store, ids, act, tenant=tenant, progress=progress)


@durable_commits
def pause_by_query(
    store: Store, query: ExecutionQuery, principal: Principal, *, progress: Progress | None = None
) -> BulkResult:
    """Pause every RUNNING execution matching ``query``; the other matches are reported."""
    return _by_query(store, query, PAUSE, _event_act(Pause, principal), progress)


@durable_commits
def kill(store: Store, execution_id: str, principal: Principal) -> Execution:
    """Kill an execution (and, through its effects, cancel its running tasks); a paused one
    ends KILLED at once. Raises :class:`perch.errors.AlreadyFinished` when it has ended."""
    try:
        return apply(store, execution_id, Kill(principal), principal)
    except AlreadyFinished as exc:
        # Kestra's words exactly (no full stop): scripts match on them.
        raise AlreadyFinished(KILL_FINISHED) from exc


@durable_commits
def kill_by_ids(
    store: Store,
    ids: Iterable[str],
    principal: Principal,
    *,
    tenant: str | None = None,
    progress: Progress | None = None,
) -> BulkResult:
    """Kill each execution; finished ones are reported, not raised."""
    act = _event_act(Kill, principal)
    return act_in_batches(store, ids, act, tenant=tenant, progress=progress)


@durable_commits
def kill_by_query(
    store: Store, query: ExecutionQuery, principal: Principal, *, progress: Progress | None = None
) -> BulkResult:
    """Kill every execution matching ``query`` that has not finished; finished ones are
    reported."""
    return _by_query(store, query, KILL, _event_act(Kill, principal), progress)


@durable_commits
def restart(store: Store, execution_id: str, principal: Principal) -> Execution:
    """Restart a FAILED (KILLED, CANCELLED, PAUSED) execution from its failed task runs,
    keeping its id; raises :class:`perch.errors.IllegalState` for any other state.

    Restarting a PAUSED execution lets its pauses go on, as resuming them would: a paused
    HumanTask may only be let go by one of its assignees (:class:`perch.errors.NotAssigned`)."""
    act = _restart_act(principal)
    ctx = context_for(store)
    for _ in range(MAX_RETRIES):
        try:
            with unit(store) as (tx, written):
                saved = act(tx, ctx, load_in(tx, written, execution_id, None), written)
        except NotAssigned:
            with store.transaction() as tx:
                refused = tx.get_execution(execution_id)
                if refused is not None:
                    record_refusal(tx, ctx, refused, principal, "RESTART")
            raise
        except Exception as exc:
            if not retryable(exc):
                raise
            continue
        ctx.after_commit(written)
        assert isinstance(saved, Execution)
        return written.seen.get(execution_id, saved)
    raise ConcurrentUpdate(f"execution '{execution_id}' kept changing; gave up after retries")


def _restart_act(principal: Principal, *, record: bool = False) -> Act:
    """Restart, refused with :class:`NotAssigned` to someone who may not decide one of the
    execution's paused HumanTasks (``record``: the refusal is audited in the same
    transaction, for bulk actions whose transaction commits the others)."""
    event = Restart(principal)

    def act(tx: Transaction, ctx: EngineContext, execution: Execution, written: Written) -> object:
        require_on(principal, execution, Action.UPDATE)
        for run in execution.task_runs:
            if run.state.current is StateType.PAUSED and not may_decide(
                tx, principal, execution, run
            ):
                if record:
                    record_refusal(tx, ctx, execution, principal, "RESTART")
                raise NotAssigned()
        return apply_in(tx, ctx, execution.id, event, principal, written=written, loaded=execution)

    return act


@durable_commits
def restart_by_ids(
    store: Store,
    ids: Iterable[str],
    principal: Principal,
    *,
    tenant: str | None = None,
    progress: Progress | None = None,
) -> BulkResult:
    """Restart each execution; those that cannot be restarted are reported, not raised."""
    act = _restart_act(principal, record=True)
    return act_in_batches(store, ids, act, tenant=tenant, progress=progress)


@durable_commits
def restart_by_query(
    store: Store, query: ExecutionQuery, principal: Principal, *, progress: Progress | None = None
) -> BulkResult:
    """Restart every failed (or paused) execution matching ``query``; others are reported."""
    return _by_query(store, query, RESTART, _restart_act(principal, record=True), progress)


def _by_query(
    store: Store, query: ExecutionQuery, rule: BulkRule, act: Act, progress: Progress | None
) -> BulkResult:
    accepted, result = partition(store, query, rule)
    inner = counting_refused(progress, len(result.skipped), len(accepted))
    done = act_in_batches(store, accepted, act, tenant=query.tenant, progress=inner)
    result.done.extend(done.done)
    result.skipped.extend(done.skipped)
    return result


def counting_refused(progress: Progress | None, refused: int, accepted: int) -> Progress | None:
    """``progress`` over every match of a query action, the refused ones counted as done
    (they are reported at once); called now when some were refused."""
    if progress is None:
        return None
    total = refused + accepted
    if refused:
        progress(refused, total)
    return lambda done, _: progress(refused + done, total)


def replay(
    store: Store,
    execution_id: str,
    principal: Principal,
    *,
    task_run_id: str | None = None,
    revision: int | None = None,
) -> Execution:
    """Replay an execution as a new one (``originalId`` = its id), from ``task_run_id`` (or
    from the start), on flow ``revision`` (or the revision the original ran)."""
    from perch.engine import replay_execution

    ctx = context_for(store)
    for _ in range(MAX_RETRIES):
        try:
            with unit(store) as (tx, written):
                original = written.load(tx, execution_id)
                if original is None:
                    raise ExecutionNotFound(f"Execution '{execution_id}' not found")
                if revision is None:
                    flow = ctx.flow_for(tx, original)
                else:
                    flow = ctx.flow(
                        tx, original.tenant, original.namespace, original.flow_id, revision
                    )
                new = replay_execution(
                    flow,
                    original,
                    now=ctx.clock.now(),
                    principal=principal,
                    task_run_id=task_run_id,
                )
                if revision is not None:
                    new = replace(new, flow_revision=revision)
                    index = flow_index(flow)
                    for run in new.task_runs:
                        index.task(run.task_id)  # raises when that revision lacks the task
                written.insert(new)  # the engine audits the replay when it starts
                started = start_in(tx, ctx, new, written, principal)
        except Exception as exc:
            if not retryable(exc):
                raise
            continue
        ctx.after_commit(written)
        return started
    raise ConcurrentUpdate(f"could not replay '{execution_id}'")
