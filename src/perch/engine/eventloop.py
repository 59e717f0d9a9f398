"""The loop that consumes the events outbox (``SendEvent``, queued starts): each event is
applied in the transaction that claims it."""

from __future__ import annotations

import logging
from time import monotonic
from typing import Any

from perch.engine.context import MAX_RETRIES, EngineContext, context_for, retryable
from perch.engine.events import Start
from perch.engine.executor import apply_in, oldest_queued, start_in
from perch.engine.loops import BackgroundLoop
from perch.engine.model import Execution
from perch.engine.ports import QueuedEvent, Store, Transaction
from perch.engine.principal import SYSTEM
from perch.engine.states import StateType
from perch.engine.wakeup import EVENTS
from perch.engine.written import Written, unit
from perch.errors import ConcurrentUpdate, EngineError
from perch.metrics import EXECUTOR_CONFLICTS, EXECUTOR_LEFT_EVENTS

log = logging.getLogger(__name__)

SLOW_TRANSACTION = 0.2
"""Seconds after which a transaction of the loop counts as slow."""

LEFT_DELAY = 0.05
"""Seconds to wait before claiming again after a claim left events to another executor (it
holds their execution): it may end without taking them, and nobody would wake this loop."""


class EventLoop(BackgroundLoop):
    """Consumes the events outbox: each event is applied in the transaction that claims it.

    Several executors share the outbox without applying events to one execution at once: a
    claim takes only the events of executions no other executor holds (on PostgreSQL; SQLite
    has one writer), so they do not wait for, deadlock with or roll back one another."""

    channel = EVENTS
    thread_name = "perch-executor"

    def __init__(self, store: Store, *, batch: int = 50) -> None:
        super().__init__(store, context_for(store), batch=batch)
        # After a slow transaction (an event whose templates took long to render), events are
        # applied one per transaction until one is fast again, so the write lock is never held
        # for a whole batch of slow renderings.
        self._claim = batch
        self._left = 0

    def step(self) -> float | None:
        if self.drain_once():
            return 0.0
        return LEFT_DELAY if self._left else None

    def drain_once(self) -> bool:
        """Apply up to one batch of queued events; True when there may be more to take now."""
        for _ in range(MAX_RETRIES):
            began = monotonic()
            limit = self._claim
            try:
                with unit(self._store) as (tx, written):
                    claimed = tx.claim_events(limit)
                    for queued in claimed:
                        deliver(tx, self._ctx, queued, written)
            except Exception as exc:
                if not retryable(exc):
                    raise
                reason = "version" if isinstance(exc, ConcurrentUpdate) else "deadlock"
                EXECUTOR_CONFLICTS.labels(reason=reason).inc()
                self._claim = 1
                continue
            self._claim = 1 if monotonic() - began > SLOW_TRANSACTION else self._batch
            self._left = claimed.left
            if claimed.left:
                EXECUTOR_LEFT_EVENTS.inc(claimed.left)
            self._ctx.after_commit(written)
            # Events left to another executor hid none of those behind them (the claim looks
            # past them), but it stops looking once it has a batch: go again after a full one,
            # or after taking some while leaving others (to see what came in meanwhile).
            return len(claimed) >= limit or (len(claimed) > 0 and claimed.left > 0)
        return True


def _pass_on(tx: Transaction, ctx: EngineContext, started: Execution, written: Written) -> None:
    """A wake-up for a queued execution that has started already: two executions that ended
    at once both woke the oldest queued one. The slot the second one freed goes to the next."""
    if ctx.flow_for(tx, started).concurrency is None:
        return
    queued_id = oldest_queued(tx, started, written)
    queued = written.load(tx, queued_id) if queued_id is not None else None
    if queued is not None and queued.state.current is StateType.QUEUED:
        start_in(tx, ctx, queued, written)  # counts the slots: stays QUEUED if none is free


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
            else:
                _pass_on(tx, ctx, execution, written)
            return
        apply_in(tx, ctx, queued.execution_id, event, SYSTEM, written=written)
    except ConcurrentUpdate:
        raise
    except EngineError as exc:
        log.info("dropped %s for execution %s: %s", type(event).__name__, queued.execution_id, exc)
