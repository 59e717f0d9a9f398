"""Waiting for executions to change: ``wait=true`` creations and live following (SSE).

The engine tells its :class:`~perch.engine.wakeup.WakeHub` which executions each committed
transaction wrote (their state or new log lines, see ``EngineContext.after_commit``). A
:class:`Watcher` (one per hub) turns those notifications into wake-ups for the requests waiting
on one execution: a generation counter per watched execution, a condition variable for threads
(FastAPI's threadpool) and futures for coroutines (SSE streams), which engine threads resolve
with ``loop.call_soon_threadsafe``. Only executions someone waits on are tracked, and a waiter
that leaves (a client disconnecting) unsubscribes, so nothing accumulates.

Wake-ups are lossless the same way the loops' are: read the generation, then read the
database, then wait for the generation to move; a change committed in between makes the wait
return at once.

Safety net, not the mechanism: writers in other processes (the CLI beside ``perch server
local`` nudges the server, which tells every watcher "anything may have changed"; PostgreSQL
deployments where the executor runs elsewhere) may not reach these notifications, so every wait
also ends after :data:`FALLBACK_SECONDS` and the caller re-reads the database then.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Collection, Iterator
from contextlib import contextmanager

import anyio.to_thread

from perch.engine import service
from perch.engine.context import context_for
from perch.engine.model import Execution
from perch.engine.ports import Store
from perch.engine.wakeup import WakeHub

FALLBACK_SECONDS = 2.0
"""How long a waiter sleeps without a notification before it re-reads the database anyway."""


class _Watch:
    """The waiters on one execution."""

    __slots__ = ("condition", "futures", "generation", "subscribers")

    def __init__(self, lock: threading.Lock) -> None:
        self.generation = 0
        self.subscribers = 0
        self.condition = threading.Condition(lock)
        self.futures: set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = set()


class Watcher:
    """Wake-ups per execution id, fed by a hub's change notifications."""

    def __init__(self, hub: WakeHub | None = None) -> None:
        self._lock = threading.Lock()
        self._watches: dict[str, _Watch] = {}
        if hub is not None:
            hub.on_change(self.changed)

    @property
    def watched(self) -> int:
        """How many executions are being watched (0 once every waiter has left)."""
        with self._lock:
            return len(self._watches)

    def changed(self, execution_ids: Collection[str] | None) -> None:
        """Wake the waiters of these executions (of every execution when ``None``).

        Called by engine threads after each commit, so it returns at once when nobody watches.
        """
        if not self._watches:
            return
        resolve: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        with self._lock:
            if execution_ids is None:
                watches = list(self._watches.values())
            else:
                watches = [w for i in execution_ids if (w := self._watches.get(i)) is not None]
            for watch in watches:
                watch.generation += 1
                watch.condition.notify_all()
                resolve.extend(watch.futures)
                watch.futures.clear()
        for loop, future in resolve:
            # The loop may have closed since the waiter registered (server stopping).
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, future)

    @contextmanager
    def subscribe(self, execution_id: str) -> Iterator[Subscription]:
        """Watch one execution for the duration of the block."""
        with self._lock:
            watch = self._watches.get(execution_id)
            if watch is None:
                watch = self._watches[execution_id] = _Watch(self._lock)
            watch.subscribers += 1
        try:
            yield Subscription(self._lock, watch)
        finally:
            with self._lock:
                watch.subscribers -= 1
                if watch.subscribers == 0:
                    del self._watches[execution_id]


class Subscription:
    """One waiter's handle on a watched execution."""

    def __init__(self, lock: threading.Lock, watch: _Watch) -> None:
        self._lock = lock
        self._watch = watch

    def generation(self) -> int:
        """The current generation; read it *before* reading the database, then wait on it."""
        with self._lock:
            return self._watch.generation

    def wait(self, generation: int, timeout: float) -> bool:
        """Block until the execution changes after ``generation`` or ``timeout`` passes;
        True when it changed."""
        watch = self._watch
        with self._lock:
            return watch.condition.wait_for(lambda: watch.generation != generation, timeout)

    async def wait_async(self, generation: int, timeout: float) -> bool:
        """:meth:`wait` for coroutines: the event loop stays free while waiting."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (loop, future)
        with self._lock:
            if self._watch.generation != generation:
                return True
            self._watch.futures.add(entry)
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._watch.futures.discard(entry)
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_watchers: weakref.WeakKeyDictionary[WakeHub, Watcher] = weakref.WeakKeyDictionary()
_watchers_lock = threading.Lock()


def watcher_for(store: Store) -> Watcher:
    """The watcher fed by the hub of ``store``'s engine context (made on first use)."""
    hub = context_for(store).hub
    with _watchers_lock:
        watcher = _watchers.get(hub)
        if watcher is None:
            watcher = _watchers[hub] = Watcher(hub)
        return watcher


def wait_for(
    store: Store,
    execution_id: str,
    predicate: Callable[[Execution], bool],
    timeout: float,
    *,
    fallback: float = FALLBACK_SECONDS,
) -> Execution:
    """The execution as soon as ``predicate`` holds for it, or as it is when ``timeout``
    seconds have passed. Blocking: it holds its thread while it waits, so requests use
    :func:`wait_for_async` instead. :class:`perch.errors.ExecutionNotFound` if it does not
    exist."""
    deadline = time.monotonic() + timeout
    with watcher_for(store).subscribe(execution_id) as subscription:
        while True:
            generation = subscription.generation()
            execution = service.get_execution(store, execution_id)
            remaining = deadline - time.monotonic()
            if predicate(execution) or remaining <= 0:
                return execution
            subscription.wait(generation, min(remaining, fallback))


async def wait_for_async(
    store: Store,
    execution_id: str,
    predicate: Callable[[Execution], bool],
    timeout: float,
    *,
    fallback: float = FALLBACK_SECONDS,
) -> Execution:
    """:func:`wait_for` for coroutines, as ``wait=true`` creates use it: each database read
    borrows a worker thread for its own duration, and the wait itself holds none."""
    deadline = time.monotonic() + timeout
    with watcher_for(store).subscribe(execution_id) as subscription:
        while True:
            generation = subscription.generation()
            execution = await anyio.to_thread.run_sync(service.get_execution, store, execution_id)
            remaining = deadline - time.monotonic()
            if predicate(execution) or remaining <= 0:
                return execution
            await subscription.wait_async(generation, min(remaining, fallback))


async def changes(
    store: Store, execution_id: str, *, fallback: float | None = None
) -> AsyncGenerator[bool, None]:
    """Yield at once, then each time the execution may have changed: True after a
    notification, False after ``fallback`` seconds (:data:`FALLBACK_SECONDS` by default)
    without one, when the caller re-reads anyway (and a stream may send its heartbeat).
    Endless: the caller stops iterating when it is done, and should close the iterator
    (``contextlib.aclosing``) so that the subscription ends at once.

    Lossless: whatever the caller reads after a yield, a change committed after that read
    makes the next yield come without waiting.
    """
    pause = FALLBACK_SECONDS if fallback is None else fallback
    with watcher_for(store).subscribe(execution_id) as subscription:
        woke = True
        while True:
            generation = subscription.generation()
            yield woke
            woke = await subscription.wait_async(generation, pause)
