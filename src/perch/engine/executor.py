"""Applying events to executions: the one path every state change takes.

:func:`apply` opens a transaction, loads the execution and its pinned flow revision, runs the
pure :func:`perch.engine.transition`, writes the new state with a compare-and-set on ``version``
and writes every effect (jobs, timers, child executions, outbox events, logs, audit) in the same
transaction; after the commit it wakes the loops that have new work. :func:`apply_in` is the
same inside a transaction the caller already holds (the worker adds its logs and removes its
job, the scheduler removes the timers it fired, in that same transaction). With an inline runner
bound (:mod:`perch.engine.running`), the tasks that only render templates run in the
transaction of the transition that dispatches them, instead of becoming jobs. On a single-writer
store that transaction reads first and writes last (:mod:`perch.engine.buffered`), so the
renderings of a transition hold no lock that other executions wait on.

The context bound to a store is :mod:`perch.engine.context`, the unit of work of a transaction
:mod:`perch.engine.written`, the outbox loop :mod:`perch.engine.eventloop`; their names are
re-exported here for the callers that import them from this module.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from perch.engine.buffered import buffering
from perch.engine.context import (
    FLOW_CACHE_SIZE,
    MAX_RETRIES,
    EngineContext,
    InlineRuns,
    bind,
    context_for,
    reading,
    retryable,
)
from perch.engine.creation import new_execution
from perch.engine.effects import (
    Audit,
    CancelTimers,
    CreateExecution,
    DeleteFile,
    DispatchTask,
    Effect,
    EmitLog,
    ExecutionEnded,
    PutFile,
    ScheduleTimer,
    SendEvent,
    StartSubflow,
)
from perch.engine.events import Event, Kill, Resume, Start, SubflowEnded
from perch.engine.flowoutputs import SUBFLOW_OUTPUTS_KEY, child_outputs
from perch.engine.flowtriggers import react
from perch.engine.ids import new_id
from perch.engine.model import Execution, LogEntry
from perch.engine.pausing import not_paused
from perch.engine.ports import Job, QueuedEvent, Store, Transaction
from perch.engine.principal import SYSTEM, Principal
from perch.engine.states import StateType
from perch.engine.transition import transition
from perch.engine.wakeup import EVENTS, TIMERS
from perch.engine.written import Written, unit
from perch.errors import (
    ConcurrentUpdate,
    ExecutionNotFound,
    FlowNotFound,
    PerchError,
)
from perch.inputs import resolve_inputs
from perch.templating import default_environment

__all__ = [
    "FLOW_CACHE_SIZE",
    "MAX_RETRIES",
    "EngineContext",
    "InlineRuns",
    "Written",
    "apply",
    "apply_in",
    "bind",
    "context_for",
    "create_child",
    "ended_events",
    "reading",
    "retryable",
    "start_in",
    "start_subflow",
    "unit",
    "write_effects",
]


def apply(
    store: Store,
    execution_id: str,
    event: Event,
    principal: Principal = SYSTEM,
) -> Execution:
    """Apply ``event`` to the execution in one transaction and return the stored result.

    A compare-and-set conflict retries from a fresh load; a resume whose retry finds the
    execution no longer paused raises :class:`perch.errors.NotPaused` naming who resumed it.
    """
    ctx = context_for(store)
    for _ in range(MAX_RETRIES):
        try:
            with unit(store) as (tx, written):
                applied = apply_in(tx, ctx, execution_id, event, principal, written=written)
        except Exception as exc:
            if not retryable(exc):
                raise
            continue
        ctx.after_commit(written)
        return written.seen.get(execution_id, applied)
    raise ConcurrentUpdate(f"execution '{execution_id}' kept changing; gave up after retries")


def apply_in(
    tx: Transaction,
    ctx: EngineContext,
    execution_id: str,
    event: Event,
    principal: Principal,
    *,
    written: Written,
    loaded: Execution | None = None,
) -> Execution:
    """Apply ``event`` inside ``tx``; record in ``written`` what to wake after the commit.

    ``loaded`` is the execution as already read (locked) in this transaction, to skip a read.
    With an inline runner in ``ctx``, the tasks it accepts that the transition (and what
    follows from it) dispatches run here too; the execution returned is as the event left it.
    """
    if ctx.inline is None or written._applying:
        return _apply_in(tx, ctx, execution_id, event, principal, written, loaded)
    written._applying = True
    try:
        saved = _apply_in(tx, ctx, execution_id, event, principal, written, loaded)
        ctx.inline.run_dispatched(tx, ctx, written)
    finally:
        written._applying = False
    return saved


def _with_states(effects: list[Effect], before: Execution, after: Execution) -> list[Effect]:
    """Audit records of one transition, with the execution's state before and after it where
    the transition did not say."""
    was, now = before.state.current.value, after.state.current.value
    return [
        replace(
            e,
            before=was if e.before is None else e.before,
            after=now if e.after is None else e.after,
        )
        if isinstance(e, Audit)
        else e
        for e in effects
    ]


class _LiveGroups:
    """Whether a worker group has a live worker, read once per transition and only when a
    task with a ``workerGroup`` is dispatched."""

    __slots__ = ("_groups", "_now", "_tx")

    def __init__(self, tx: Transaction, now: datetime) -> None:
        self._tx = tx
        self._now = now
        self._groups: frozenset[str] | None = None

    def __call__(self, key: str) -> bool:
        if self._groups is None:
            self._groups = self._tx.live_worker_groups(self._now)
        return key in self._groups


def _apply_in(  # noqa: PLR0917 - internal
    tx: Transaction,
    ctx: EngineContext,
    execution_id: str,
    event: Event,
    principal: Principal,
    written: Written,
    loaded: Execution | None,
) -> Execution:
    execution = loaded or written.load(tx, execution_id)
    if execution is None:
        raise ExecutionNotFound(f"Execution '{execution_id}' not found")
    if isinstance(event, Resume) and not execution.state.current.is_paused:
        raise not_paused(execution)
    flow = ctx.flow_for(tx, execution)
    now = ctx.clock.now()
    result = transition(
        flow,
        execution,
        event,
        now=now,
        hooks=ctx.hooks_for(execution),
        workers=_LiveGroups(tx, now),
    )
    saved = written.stage(execution, result.execution)
    react(tx, ctx, execution, saved, written)
    effects = list(result.effects)
    if not any(isinstance(e, Audit) for e in effects) and not principal.is_system:
        effects.append(Audit(type(event).__name__.upper(), principal))
    effects = _with_states(effects, execution, saved)
    write_effects(tx, ctx, saved, effects, now=now, written=written)
    if isinstance(event, Kill):
        written.killed.append(execution_id)
    return saved


def write_effects(
    tx: Transaction,
    ctx: EngineContext,
    execution: Execution,
    effects: list[Effect],
    *,
    now: datetime,
    written: Written,
) -> None:
    """Write every effect of a transition through ``tx``."""
    jobs: list[Job] = []
    timers: list[ScheduleTimer] = []
    events: list[QueuedEvent] = []
    logs: list[LogEntry] = []
    for effect in effects:
        if isinstance(effect, DispatchTask):
            jobs.append(
                Job(
                    id=new_id(),
                    execution_id=execution.id,
                    task_run_id=effect.task_run_id,
                    task_id=effect.task_id,
                    attempt=effect.attempt,
                    created=now,
                    worker_group=effect.worker_group,
                    task_type=effect.task_type,
                    namespace=execution.namespace,
                )
            )
        elif isinstance(effect, ScheduleTimer):
            timers.append(effect)
        elif isinstance(effect, CancelTimers):
            tx.delete_timers(
                execution.id,
                list(effect.task_run_ids) if effect.task_run_ids is not None else None,
            )
        elif isinstance(effect, StartSubflow):
            events.extend(start_subflow(tx, ctx, execution, effect, written))
        elif isinstance(effect, CreateExecution):
            create_child(tx, ctx, effect.execution, written)
        elif isinstance(effect, SendEvent):
            events.append(QueuedEvent(new_id(), effect.execution_id, effect.event))
        elif isinstance(effect, EmitLog):
            logs.append(effect.entry)
        elif isinstance(effect, PutFile):
            if tx.get_file(effect.uri) is not None:
                tx.delete_file(effect.uri)
            tx.put_file(effect.uri, execution.id, effect.content, now)
        elif isinstance(effect, DeleteFile):
            tx.delete_file(effect.uri)
        elif isinstance(effect, Audit):
            tx.add_audit(execution.id, effect.placed(execution.tenant, execution.namespace), now)
        elif isinstance(effect, ExecutionEnded):
            events.extend(ended_events(tx, ctx, execution, written))
    if jobs:
        if ctx.inline is not None:
            written.dispatch(jobs)
        else:
            written.add_jobs(jobs)
    if timers:
        tx.add_timers(execution.id, timers)
        written.channels.add(TIMERS)
    if events:
        tx.add_events(events)
        written.channels.add(EVENTS)
    if logs:
        written.add_logs(logs)


def ended_events(
    tx: Transaction, ctx: EngineContext, execution: Execution, written: Written
) -> list[QueuedEvent]:
    """What an ended execution owes others: a freed concurrency slot, its parent's wake-up."""
    events: list[QueuedEvent] = []
    flow = ctx.flow_for(tx, execution)
    if flow.concurrency is not None:
        queued = oldest_queued(tx, execution, written)
        if queued is not None:
            events.append(QueuedEvent(new_id(), queued, Start()))
    if execution.parent is not None:
        result = child_outputs(flow, execution, now=ctx.clock.now(), hooks=ctx.hooks_for(execution))
        ended = SubflowEnded(
            task_run_id=execution.parent.task_run_id,
            child_execution_id=execution.id,
            child_state=execution.state.current,
            child_outputs=dict(result.outputs) if result.outputs else None,
            outputs_error=result.error,
        )
        events.append(QueuedEvent(new_id(), execution.parent.execution_id, ended))
    return events


def oldest_queued(tx: Transaction, execution: Execution, written: Written) -> str | None:
    """The QUEUED execution of ``execution``'s flow that a freed slot goes to, as this unit
    sees them."""
    key = (execution.tenant, execution.namespace, execution.flow_id)
    if buffering(tx) and not written.queues_unwritten(*key):
        # Nothing written yet: leave out the executions this unit moved out of QUEUED.
        excluding = written.moved_from_queue()
    else:
        # The database must show this unit's states (it queued one itself, or holds the lock).
        written.flush(tx)
        excluding = set()
    return tx.oldest_queued_execution(*key, excluding)


def start_subflow(
    tx: Transaction,
    ctx: EngineContext,
    parent: Execution,
    effect: StartSubflow,
    written: Written,
) -> list[QueuedEvent]:
    """Create and start the child execution of a Subflow task run, in the parent's transaction.

    The child runs the latest revision of its flow (or the one asked for). A missing flow or
    invalid inputs fail the Subflow task run, through a FAILED ``SubflowEnded``.
    """
    now = ctx.clock.now()
    try:
        stored = tx.get_flow(parent.tenant, effect.namespace, effect.flow_id, effect.revision)
        if stored is None or (stored.deleted and effect.revision is None):
            raise FlowNotFound(f"Flow '{effect.namespace}.{effect.flow_id}' not found")
        flow = ctx.flow(tx, parent.tenant, effect.namespace, effect.flow_id, stored.revision)
        inputs = resolve_inputs(flow.inputs or [], effect.inputs, environment=default_environment())
    except PerchError as exc:
        tx.add_logs(
            [
                LogEntry(
                    parent.id,
                    now,
                    "ERROR",
                    f"Subflow {effect.namespace}.{effect.flow_id} could not start: {exc}",
                    task_run_id=effect.parent.task_run_id,
                )
            ]
        )
        if not effect.wait:
            return []
        failed = SubflowEnded(effect.parent.task_run_id, effect.execution_id, StateType.FAILED)
        return [QueuedEvent(new_id(), parent.id, failed)]
    child = new_execution(
        flow,
        revision=stored.revision,
        inputs=inputs,
        now=now,
        principal=Principal(parent.label("system.username") or SYSTEM.name),
        labels=effect.labels,
        parent=effect.parent,
        correlation_id=effect.correlation_id,
        trigger=effect.trigger,
        execution_id=effect.execution_id,
    )
    if child.tenant != parent.tenant:
        child = replace(child, tenant=parent.tenant)
    if effect.outputs:
        child = replace(child, metadata={**child.metadata, SUBFLOW_OUTPUTS_KEY: effect.outputs})
    written.insert(child)
    start_in(tx, ctx, child, written)
    return []


def create_child(
    tx: Transaction, ctx: EngineContext, execution: Execution, written: Written
) -> Execution:
    """Insert an execution made by a transition (a subflow) and start it in the same transaction.

    A subflow runs the latest revision of its flow; a missing flow fails the child at once
    (which tells the parent through :func:`ended_events`).
    """
    stored = tx.get_flow(execution.tenant, execution.namespace, execution.flow_id)
    if stored is None:
        now = ctx.clock.now()
        failed = replace(execution, state=execution.state.with_state(StateType.FAILED, now))
        written.insert(failed)
        tx.add_logs(
            [
                LogEntry(
                    failed.id,
                    now,
                    "ERROR",
                    f"Flow '{execution.namespace}.{execution.flow_id}' not found",
                )
            ]
        )
        events = ended_events(tx, ctx, failed, written)
        if events:
            tx.add_events(events)
            written.channels.add(EVENTS)
        return failed
    if execution.flow_revision != stored.revision:
        execution = replace(execution, flow_revision=stored.revision)
    written.insert(execution)
    return start_in(tx, ctx, execution, written)


def start_in(
    tx: Transaction,
    ctx: EngineContext,
    execution: Execution,
    written: Written,
    principal: Principal = SYSTEM,
) -> Execution:
    """Start a CREATED or QUEUED execution (as read in ``tx``), honouring the flow's
    ``concurrency`` limit; ``principal`` is who created it (the engine audits the creation).

    Over the limit, ``QUEUE`` leaves it QUEUED (started when a slot frees), ``CANCEL`` and
    ``FAIL`` end it at once; the creation is audited here then.
    """
    flow = ctx.flow_for(tx, execution)
    now = ctx.clock.now()
    current = execution.state.current
    if flow.concurrency is not None and current in (StateType.CREATED, StateType.QUEUED):
        # Serialised per flow: two creates racing for the last slot must not both take it.
        key = (execution.tenant, execution.namespace, execution.flow_id)
        tx.lock_flow_slots(*key)
        if buffering(tx):
            # Counted before this unit's writes (and again under the write lock), plus what
            # they change: the unit renders on without taking the lock.
            active = tx.count_active_executions(*key) + written.slot_change(*key)
        else:
            written.flush(tx)  # the count below must see this transaction's states
            active = tx.count_active_executions(*key)
        others = active - (0 if current is StateType.QUEUED else 1)
        if others >= flow.concurrency.limit:
            behavior = flow.concurrency.behavior
            if current is StateType.CREATED:
                detail = {"executionId": execution.id, "behavior": behavior}
                record = Audit("CREATE", principal, detail, tenant=execution.tenant)
                tx.add_audit(execution.id, record, now)
            if behavior == "QUEUE":
                if current is StateType.QUEUED:
                    return execution
                queued = replace(execution, state=execution.state.with_state(StateType.QUEUED, now))
                return written.stage(execution, queued)
            end = StateType.CANCELLED if behavior == "CANCEL" else StateType.FAILED
            ended = written.stage(
                execution, replace(execution, state=execution.state.with_state(end, now))
            )
            react(tx, ctx, execution, ended, written)
            events = ended_events(tx, ctx, ended, written)
            if events:
                tx.add_events(events)
                written.channels.add(EVENTS)
            return ended
    return apply_in(
        tx, ctx, execution.id, Start(principal), principal, written=written, loaded=execution
    )
