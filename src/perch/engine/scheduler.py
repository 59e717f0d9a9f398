"""The timer loop: fires due timers (pause durations, sleeps, retry delays, timeouts).

Timers are rows. The loop claims the due ones and applies :class:`perch.engine.events.TimerFired`
in the transaction that removes them, so a timer is fired exactly once or not at all. Then it
sleeps exactly until the next due time, or until a transition writes a new timer and wakes the
"timers" channel — there is no fixed polling interval.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from perch.engine.events import TimerFired
from perch.engine.executor import (
    MAX_RETRIES,
    Written,
    apply_in,
    context_for,
    reading,
    retryable,
    unit,
)
from perch.engine.loops import BackgroundLoop
from perch.engine.ports import Store, Timer, Transaction
from perch.engine.principal import SYSTEM
from perch.engine.wakeup import TIMERS
from perch.errors import ConcurrentUpdate, EngineError

log = logging.getLogger(__name__)

LONGEST_SLEEP = 3600.0
"""Upper bound of one sleep, so that a wall-clock jump cannot delay timers forever."""


class TimerLoop(BackgroundLoop):
    """One thread that fires due timers."""

    channel = TIMERS
    thread_name = "perch-scheduler"

    def __init__(self, store: Store, *, batch: int = 100) -> None:
        super().__init__(store, context_for(store), batch=batch)

    def step(self) -> float | None:
        while self.fire_due() == self._batch and not self._stop.is_set():
            pass
        return self.seconds_to_next()

    def seconds_to_next(self) -> float:
        """Seconds until the next timer is due (0 when one is due), bounded."""
        with reading(self._store) as tx:
            due = tx.next_timer_due()
        if due is None:
            return LONGEST_SLEEP
        wait = (due - self._ctx.clock.now()) / timedelta(seconds=1)
        return min(max(wait, 0.0), LONGEST_SLEEP)

    def fire_due(self) -> int:
        """Fire up to one batch of due timers; the number fired (or dropped)."""
        for _ in range(MAX_RETRIES):
            try:
                with unit(self._store) as (tx, written):
                    timers = tx.claim_due_timers(self._ctx.clock.now(), self._batch)
                    for timer in timers:
                        self._fire(tx, timer, written)
            except Exception as exc:
                if not retryable(exc):
                    raise
                continue
            self._ctx.after_commit(written)
            return len(timers)
        return 0

    def _fire(self, tx: Transaction, timer: Timer, written: Written) -> None:
        event = TimerFired(
            timer_id=timer.id,
            task_run_id=timer.task_run_id,
            action=timer.action,
            payload=dict(timer.payload),
        )
        try:
            apply_in(tx, self._ctx, timer.execution_id, event, SYSTEM, written=written)
        except ConcurrentUpdate:
            raise
        except EngineError as exc:
            # The execution moved on (resumed, killed, finished): the timer no longer matters.
            log.info("dropped timer %s of %s: %s", timer.action, timer.execution_id, exc)
