"""Applying events to executions: the one path every state change takes, and the outbox loop.

:func:`apply` opens a transaction, loads the execution and its pinned flow revision, runs the
pure :func:`perch.engine.transition`, writes the new state with a compare-and-set on ``version``
and writes every effect (jobs, timers, child executions, outbox events, logs, audit) in the same
transaction; after the commit it wakes the loops that have new work. :func:`apply_in` is the
same inside a transaction the caller already holds (the worker adds its logs and removes its
job, the scheduler removes the timers it fired, in that same transaction). With an inline runner
bound (:mod:`perch.engine.running`), the tasks that only render templates run in the
transaction of the transition that dispatches them, instead of becoming jobs.

:class:`EventLoop` consumes the events outbox (``SendEvent``, queued starts).
"""

from __future__ import annotations

import logging
import random
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from perch.engine.clock import Clock, SystemClock
from perch.engine.effects import (
    Audit,
    CancelTimers,
    CreateExecution,
    DispatchTask,
    Effect,
    EmitLog,
    ExecutionEnded,
    ScheduleTimer,
    SendEvent,
    StartSubflow,
)
from perch.engine.events import Event, Kill, Resume, Start, SubflowEnded
from perch.engine.ids import new_id
from perch.engine.loops import BackgroundLoop
from perch.engine.model import Execution, LogEntry
from perch.engine.ports import Job, QueuedEvent, Store, Transaction
from perch.engine.principal import SYSTEM, Principal
from perch.engine.states import StateType
from perch.engine.wakeup import EVENTS, JOBS, TIMERS, WakeHub
from perch.errors import (
    ConcurrentUpdate,
    EngineError,
    ExecutionNotFound,
    FlowNotFound,
    NotPaused,
    PerchError,
)
from perch.flows import Flow, parse_flow
from perch.inputs import resolve_inputs
from perch.templating import default_environment

log = logging.getLogger(__name__)

MAX_RETRIES = 20
"""Compare-and-set retries of one apply before giving up (each reloads the execution)."""

_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


def retryable(exc: BaseException) -> bool:
    """Whether a failed transaction should be retried from a fresh read: a compare-and-set
    conflict, or a database that aborted one side of a lock cycle (PostgreSQL reports a
    deadlock when, say, a timer firing and a resume lock the same rows in opposite orders).
    After a database-level abort it also waits a moment, so the two sides do not collide again.
    """
    if isinstance(exc, ConcurrentUpdate):
        return True
    driver_error = getattr(exc, "orig", None)
    code = getattr(driver_error, "sqlstate", None) or getattr(driver_error, "pgcode", None)
    if code in _TRANSIENT_SQLSTATES:
        time.sleep(random.uniform(0.001, 0.02))
        return True
    return False


FLOW_CACHE_SIZE = 512


class InlineRuns(Protocol):
    """Runs dispatched tasks in the transaction that dispatched them
    (:class:`perch.engine.running.InlineRunner`)."""

    def run_dispatched(self, tx: Transaction, ctx: EngineContext, written: Written) -> None:
        """Run or turn into jobs every dispatch ``written`` holds (and those the runs make)."""
        ...


class EngineContext:
    """What the loops and service functions share for one store: the clock, the wake-up hub,
    template hooks, the runner of inline tasks, and parsed flow revisions (a revision never
    changes, and parsing costs milliseconds, so each is parsed once).

    With ``inline``, the tasks it accepts run in the transaction of the transition that
    dispatched them instead of becoming jobs; without it every dispatch is a job."""

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        hub: WakeHub | None = None,
        hooks: Mapping[str, Callable[..., Any]] | None = None,
        inline: InlineRuns | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self.hub = hub or WakeHub()
        self.hooks = hooks
        self.inline = inline
        self._flows: OrderedDict[tuple[str, str, str, int], Flow] = OrderedDict()
        self._lock = threading.Lock()

    def flow_for(self, tx: Transaction, execution: Execution) -> Flow:
        """The parsed flow revision the execution is pinned to."""
        return self.flow(
            tx, execution.tenant, execution.namespace, execution.flow_id, execution.flow_revision
        )

    def flow(
        self, tx: Transaction, tenant: str, namespace: str, flow_id: str, revision: int
    ) -> Flow:
        """A parsed flow revision, from the cache or the store."""
        key = (tenant, namespace, flow_id, revision)
        with self._lock:
            cached = self._flows.get(key)
            if cached is not None:
                self._flows.move_to_end(key)
                return cached
        stored = tx.get_flow(tenant, namespace, flow_id, revision)
        if stored is None:
            raise FlowNotFound(f"Flow '{namespace}.{flow_id}' revision {revision} not found")
        parsed = parse_flow(stored.source)
        self.remember(key, parsed)
        return parsed

    def remember(self, key: tuple[str, str, str, int], flow: Flow) -> None:
        with self._lock:
            self._flows[key] = flow
            while len(self._flows) > FLOW_CACHE_SIZE:
                self._flows.popitem(last=False)

    def after_commit(self, written: Written) -> None:
        """Wake the loops with new work, cancel the running tasks of killed executions and
        tell the change listeners (live following in the API) which executions were written."""
        if written.touched:
            self.hub.changed(written.touched)
        channels = written.channels - {JOBS}
        if channels:
            self.hub.notify(channels)
        if written.jobs > 0:
            # Wake as many workers as there are new jobs, not all of them: an idle worker that
            # wakes for nothing still pays for a claim query.
            self.hub.notify_some(JOBS, written.jobs)
        for execution_id in written.killed:
            self.hub.killed(execution_id)


def reading(store: Store) -> AbstractContextManager[Transaction]:
    """A read-only transaction when the store offers one (SQLite readers then run alongside
    the single writer instead of queueing behind it)."""
    try:
        return store.transaction(readonly=True)  # type: ignore[call-arg]
    except TypeError:
        return store.transaction()


_contexts: weakref.WeakKeyDictionary[Any, EngineContext] = weakref.WeakKeyDictionary()
_contexts_lock = threading.Lock()


def context_for(store: Store) -> EngineContext:
    """The context bound to ``store`` (a default one, created on first use)."""
    with _contexts_lock:
        ctx = _contexts.get(store)
        if ctx is None:
            ctx = _contexts[store] = EngineContext()
        return ctx


def bind(
    store: Store,
    *,
    clock: Clock | None = None,
    hub: WakeHub | None = None,
    hooks: Mapping[str, Callable[..., Any]] | None = None,
    inline: InlineRuns | None = None,
) -> EngineContext:
    """Give ``store`` its own clock, hub, hooks and inline runner (the server and tests call
    this first)."""
    ctx = EngineContext(clock=clock, hub=hub, hooks=hooks, inline=inline)
    with _contexts_lock:
        _contexts[store] = ctx
    return ctx


@dataclass
class Written:
    """One unit of work inside a transaction: executions changed and rows to insert, written
    by :meth:`flush` before the commit, and what to wake after it.

    Executions are written once per transaction however many transitions they went through
    (a worker reporting one task and starting the next, a batch of events), each with one
    compare-and-set on the version it was read at; jobs and log lines are inserted in one
    statement each.
    """

    channels: set[str] = field(default_factory=set)
    killed: list[str] = field(default_factory=list)
    jobs: int = 0
    """Jobs written and not claimed by the writer itself (how many workers to wake)."""
    seen: dict[str, Execution] = field(default_factory=dict)
    """Executions as they are now in this transaction (flushed or not)."""
    touched: set[str] = field(default_factory=set)
    """Executions written (state or log lines) in this transaction, for the change listeners."""
    _base: dict[str, int] = field(default_factory=dict)
    _dirty: set[str] = field(default_factory=set)
    _inserts: dict[str, Execution] = field(default_factory=dict)
    _jobs: list[Job] = field(default_factory=list)
    _logs: list[LogEntry] = field(default_factory=list)
    _dispatched: list[Job] = field(default_factory=list)
    """Dispatches the inline runner has yet to run or turn into jobs."""
    _applying: bool = False
    """An :func:`apply_in` with an inline runner is under way (its nested applies add to
    ``_dispatched``, the outermost one runs them)."""

    def load(self, tx: Transaction, execution_id: str) -> Execution | None:
        """The execution as this transaction sees it (read and locked on first use)."""
        execution = self.seen.get(execution_id)
        if execution is None:
            execution = tx.get_execution(execution_id, for_update=True)
            if execution is not None:
                self.seen[execution_id] = execution
        return execution

    def insert(self, execution: Execution) -> None:
        """A new execution: inserted at the flush, in its latest staged state (one write)."""
        self._inserts[execution.id] = execution
        self.seen[execution.id] = execution
        self.touched.add(execution.id)

    def stage(self, before: Execution, after: Execution) -> Execution:
        """Record ``after`` as the new state of ``before``; it is returned with the version it
        will have once flushed."""
        base = self._base.setdefault(before.id, before.version)
        staged = after.with_version(base + 1)
        self.seen[before.id] = staged
        self.touched.add(before.id)
        if before.id in self._inserts:
            self._inserts[before.id] = staged
        else:
            self._dirty.add(before.id)
        return staged

    def add_jobs(self, jobs: list[Job]) -> None:
        self._jobs.extend(jobs)
        self.jobs += len(jobs)

    def dispatch(self, jobs: list[Job]) -> None:
        """Dispatches for the inline runner to run, or to write as jobs."""
        self._dispatched.extend(jobs)

    def take_dispatched(self) -> list[Job]:
        taken, self._dispatched = self._dispatched, []
        return taken

    def add_logs(self, entries: list[LogEntry]) -> None:
        self._logs.extend(entries)
        self.touched.update(entry.execution_id for entry in entries)

    def flush(self, tx: Transaction) -> None:
        """Write the staged executions (compare-and-set) and the pending rows."""
        for execution_id, execution in self._inserts.items():
            tx.insert_execution(execution)
            self._base[execution_id] = execution.version
        self._inserts.clear()
        for execution_id in sorted(self._dirty):
            staged = self.seen[execution_id]
            saved = tx.update_execution(staged.with_version(self._base[execution_id]))
            self.seen[execution_id] = saved
            self._base[execution_id] = saved.version
        self._dirty.clear()
        if self._dispatched:
            # Left over by an apply that failed after dispatching: jobs, as without a runner.
            self.add_jobs(self.take_dispatched())
        if self._jobs:
            tx.add_jobs(self._jobs)
            self._jobs = []
        if self._logs:
            tx.add_logs(self._logs)
            self._logs = []


@contextmanager
def unit(store: Store) -> Iterator[tuple[Transaction, Written]]:
    """A transaction and its :class:`Written`, flushed before the commit."""
    written = Written()
    with store.transaction() as tx:
        yield tx, written
        written.flush(tx)


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


def _apply_in(  # noqa: PLR0917 - internal
    tx: Transaction,
    ctx: EngineContext,
    execution_id: str,
    event: Event,
    principal: Principal,
    written: Written,
    loaded: Execution | None,
) -> Execution:
    from perch.engine import transition

    execution = loaded or written.load(tx, execution_id)
    if execution is None:
        raise ExecutionNotFound(f"Execution '{execution_id}' not found")
    if isinstance(event, Resume) and not execution.state.current.is_paused:
        raise NotPaused(execution_id, resumed_by(execution))
    flow = ctx.flow_for(tx, execution)
    now = ctx.clock.now()
    result = transition(flow, execution, event, now=now, hooks=ctx.hooks)
    saved = written.stage(execution, result.execution)
    effects = list(result.effects)
    if not any(isinstance(e, Audit) for e in effects) and not principal.is_system:
        effects.append(Audit(type(event).__name__.upper(), principal))
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
        elif isinstance(effect, Audit):
            tx.add_audit(execution.id, effect, now)
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
        written.flush(tx)  # the query below must see this transaction's states
        queued = tx.oldest_queued_execution(
            execution.tenant, execution.namespace, execution.flow_id
        )
        if queued is not None:
            events.append(QueuedEvent(new_id(), queued, Start()))
    if execution.parent is not None:
        ended = SubflowEnded(
            task_run_id=execution.parent.task_run_id,
            child_execution_id=execution.id,
            child_state=execution.state.current,
            child_outputs=dict(execution.outputs) if execution.outputs else None,
        )
        events.append(QueuedEvent(new_id(), execution.parent.execution_id, ended))
    return events


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
    from perch.engine import new_execution

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
        execution_id=effect.execution_id,
    )
    if child.tenant != parent.tenant:
        child = replace(child, tenant=parent.tenant)
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
        tx.lock_flow_slots(execution.tenant, execution.namespace, execution.flow_id)
        written.flush(tx)  # the count below must see this transaction's states
        active = tx.count_active_executions(
            execution.tenant, execution.namespace, execution.flow_id
        )
        others = active - (0 if current is StateType.QUEUED else 1)
        if others >= flow.concurrency.limit:
            behavior = flow.concurrency.behavior
            if current is StateType.CREATED:
                detail = {"executionId": execution.id, "behavior": behavior}
                tx.add_audit(execution.id, Audit("CREATE", principal, detail), now)
            if behavior == "QUEUE":
                if current is StateType.QUEUED:
                    return execution
                queued = replace(execution, state=execution.state.with_state(StateType.QUEUED, now))
                return written.stage(execution, queued)
            end = StateType.CANCELLED if behavior == "CANCEL" else StateType.FAILED
            ended = written.stage(
                execution, replace(execution, state=execution.state.with_state(end, now))
            )
            events = ended_events(tx, ctx, ended, written)
            if events:
                tx.add_events(events)
                written.channels.add(EVENTS)
            return ended
    return apply_in(
        tx, ctx, execution.id, Start(principal), principal, written=written, loaded=execution
    )


def resumed_by(execution: Execution) -> str | None:
    """Who resumed the execution's last resumed Pause (from its ``resumed.by`` output)."""
    for run in reversed(execution.task_runs):
        resumed = (run.outputs or {}).get("resumed")
        if isinstance(resumed, dict) and resumed.get("by"):
            return str(resumed["by"])
    return None


class EventLoop(BackgroundLoop):
    """Consumes the events outbox: each event is applied in the transaction that claims it."""

    channel = EVENTS
    thread_name = "perch-executor"

    def __init__(self, store: Store, *, batch: int = 50) -> None:
        super().__init__(store, context_for(store), batch=batch)

    def step(self) -> float | None:
        return 0.0 if self.drain_once() else None

    def drain_once(self) -> bool:
        """Apply up to one batch of queued events; True when there may be more."""
        for _ in range(MAX_RETRIES):
            try:
                with unit(self._store) as (tx, written):
                    claimed = tx.claim_events(self._batch)
                    for queued in claimed:
                        deliver(tx, self._ctx, queued, written)
            except Exception as exc:
                if not retryable(exc):
                    raise
                continue
            self._ctx.after_commit(written)
            return len(claimed) == self._batch
        return True


def deliver(tx: Transaction, ctx: EngineContext, queued: QueuedEvent, written: Written) -> None:
    """Apply one outbox event; an event the execution no longer accepts is dropped."""
    event: Any = queued.event
    try:
        if isinstance(event, Start):
            execution = written.load(tx, queued.execution_id)
            if execution is None:
                return
            if execution.state.current in (StateType.CREATED, StateType.QUEUED):
                start_in(tx, ctx, execution, written)
            return
        apply_in(tx, ctx, queued.execution_id, event, SYSTEM, written=written)
    except ConcurrentUpdate:
        raise
    except EngineError as exc:
        log.info("dropped %s for execution %s: %s", type(event).__name__, queued.execution_id, exc)
