"""The background thread shared by the executor's outbox loop and the timer loop.

Each loop does one step of work, then sleeps on its wake-up channel for as long as the step
asked: not at all when there may be more work, until a given delay, or until woken. The channel's
generation is read before the step, so a notification sent during the step is never lost.
"""

from __future__ import annotations

import logging
import threading

from perch.engine.context import EngineContext
from perch.engine.ports import Store

log = logging.getLogger(__name__)

ERROR_BACKOFF = 0.5
"""Seconds to wait after a step failed unexpectedly, before trying again."""


class BackgroundLoop:
    """A daemon thread that repeats :meth:`step`, sleeping on ``channel`` between steps."""

    channel: str
    thread_name: str

    def __init__(self, store: Store, ctx: EngineContext, *, batch: int) -> None:
        self._store = store
        self._ctx = ctx
        self._batch = batch
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._ctx.hub.notify([self.channel])
        if self._thread is not None:
            self._thread.join(timeout=10)

    def step(self) -> float | None:
        """Do one round of work; return seconds to sleep (0: go again, None: until woken)."""
        raise NotImplementedError

    def _run(self) -> None:
        hub = self._ctx.hub
        while not self._stop.is_set():
            generation = hub.generation(self.channel)
            try:
                delay = self.step()
            except Exception:
                log.exception("%s failed; retrying", self.thread_name)
                self._stop.wait(ERROR_BACKOFF)
                continue
            if delay != 0:
                hub.wait(self.channel, generation, delay)
