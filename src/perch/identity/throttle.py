"""Failed sign-ins throttled per account and per address, and password checks bounded.

After :attr:`LoginThrottle.per_account` failures for one login (or :attr:`per_address` from one
client address) within :attr:`window` seconds, further Basic attempts are answered 429 with a
``Retry-After`` until the window ends, without checking the password (so a right password is
refused too while it lasts). A success clears its account's count.

An argon2 check takes tens of megabytes and milliseconds by design; the checks run on
:attr:`concurrency` threads of their own, and a caller whose check could not start within
:attr:`queue_wait` seconds, or who finds :attr:`max_waiting` checks already waiting, is told to
come back (429) instead of piling up. Refusing at once beyond that many spreads a burst's
answers over its arrivals: otherwise all of them would time out, and be answered, together.
Those threads run at a lower OS priority (:mod:`perch.responsive`): a burst of checks, each on
several cores, must not leave the thread serving the API waiting for the CPU.
"""

from __future__ import annotations

import asyncio
import functools
import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from perch.errors import TooManyAttempts
from perch.responsive import lower_this_thread

P = ParamSpec("P")
T = TypeVar("T")

CHECK_THREAD_PREFIX = "perch-password"
"""The names of the threads checking passwords."""


@dataclass(slots=True)
class _Count:
    since: float
    failures: int = 0


class LoginThrottle:
    """Counts failed sign-ins in fixed windows; thread-safe; bounded in memory."""

    MAX_TRACKED = 100_000

    def __init__(
        self,
        *,
        per_account: int = 5,
        per_address: int = 20,
        window: float = 300.0,
        concurrency: int = 2,
        queue_wait: float = 1.0,
        max_waiting: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.window = window
        self.concurrency = concurrency
        self.queue_wait = queue_wait
        self.max_waiting = max_waiting
        self._clock = clock
        self._lock = threading.Lock()
        self._accounts: dict[str, _Count] = {}
        self._addresses: dict[str, _Count] = {}
        self._checkers = _CheckThreads(concurrency)

    @staticmethod
    def _account_key(login: str) -> str:
        return login.strip().casefold()

    def _blocked_for(self, table: dict[str, _Count], key: str, limit: int, now: float) -> float:
        count = table.get(key)
        if count is None:
            return 0.0
        if now - count.since >= self.window:
            del table[key]
            return 0.0
        return count.since + self.window - now if count.failures >= limit else 0.0

    def check(self, login: str, address: str | None) -> None:
        """:class:`TooManyAttempts` while this login or this address is throttled."""
        now = self._clock()
        with self._lock:
            wait = self._blocked_for(
                self._accounts, self._account_key(login), self.per_account, now
            )
            if address is not None:
                wait = max(wait, self._blocked_for(self._addresses, address, self.per_address, now))
        if wait > 0:
            raise TooManyAttempts(
                "too many failed sign-ins: try again later", retry_after=math.ceil(wait)
            )

    def _count(self, table: dict[str, _Count], key: str, now: float) -> None:
        count = table.get(key)
        if count is None or now - count.since >= self.window:
            if len(table) >= self.MAX_TRACKED:
                self._prune(table, now)
            count = table[key] = _Count(since=now)
        count.failures += 1

    def _prune(self, table: dict[str, _Count], now: float) -> None:
        for key in [k for k, c in table.items() if now - c.since >= self.window]:
            del table[key]
        if len(table) >= self.MAX_TRACKED:  # a flood of distinct names: forget the oldest half
            for key in sorted(table, key=lambda k: table[k].since)[: len(table) // 2]:
                del table[key]

    def failed(self, login: str, address: str | None) -> None:
        """Count one failed sign-in."""
        now = self._clock()
        with self._lock:
            self._count(self._accounts, self._account_key(login), now)
            if address is not None:
                self._count(self._addresses, address, now)

    def succeeded(self, login: str) -> None:
        """A right password: its account starts afresh (its address does not)."""
        with self._lock:
            self._accounts.pop(self._account_key(login), None)

    def start(self) -> None:
        """Start the password-check threads now (else the first check starts them): starting
        a thread waits until it runs, tens of milliseconds on a busy machine, which the event
        loop must not spend."""
        self._checkers.start()

    def stop(self) -> None:
        """End the password-check threads (when the server stops)."""
        self._checkers.stop()

    @property
    def waiting(self) -> int:
        """Checks submitted that no thread has taken yet."""
        return self._checkers.waiting

    def _busy(self) -> TooManyAttempts:
        return TooManyAttempts("the server is busy checking passwords: try again", retry_after=1)

    def run_check(self, check: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``check(*args, **kwargs)`` on a password-check thread: its result or its exception;
        :class:`TooManyAttempts` when no thread could start it within :attr:`queue_wait`."""
        future = self._checkers.submit(functools.partial(check, *args, **kwargs), self.max_waiting)
        if future is None:
            raise self._busy()
        try:
            return future.result(timeout=self.queue_wait)
        except TimeoutError:
            if future.cancel():
                raise self._busy() from None
        return future.result()

    async def run_check_async(self, check: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """:meth:`run_check` for a coroutine: while it waits, the caller holds no thread (a
        burst of sign-ins must not make the event loop start a thread for each). Call
        :meth:`start` first, off the event loop."""
        future = self._checkers.submit(functools.partial(check, *args, **kwargs), self.max_waiting)
        if future is None:
            raise self._busy()
        answer = asyncio.wrap_future(future)
        try:
            return await asyncio.wait_for(asyncio.shield(answer), self.queue_wait)
        except TimeoutError:
            if future.cancel():
                raise self._busy() from None
        except asyncio.CancelledError:
            future.cancel()  # the caller went away: its check need not run
            raise
        return await answer


class _CheckThreads:
    """``size`` daemon threads at a lower OS priority, running the calls submitted in turn."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self.started = False
        self.waiting = 0
        """Calls submitted and not yet taken by a thread (read without the lock: a hint)."""

    def start(self) -> None:
        """Start the threads (once; starting a thread waits for it to run, so the event loop
        must not be the one to do it)."""
        with self._lock:
            if self.started:
                return
            for index in range(self._size):
                threading.Thread(
                    target=self._serve, name=f"{CHECK_THREAD_PREFIX}-{index}", daemon=True
                ).start()
            self.started = True

    def stop(self) -> None:
        """End the threads once the checks queued before are done (a later check starts new
        ones)."""
        with self._lock:
            if not self.started:
                return
            for _ in range(self._size):
                self._queue.put(None)
            self.started = False

    def submit(self, call: Callable[[], T], max_waiting: int) -> Future[T] | None:
        """Queue ``call``; None (nothing queued) when ``max_waiting`` calls wait already."""
        self.start()
        future: Future[T] = Future()
        with self._lock:
            if self.waiting >= max_waiting:
                return None
            self.waiting += 1
        self._queue.put((future, call))
        return future

    def _serve(self) -> None:
        lower_this_thread()
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, call = item
            with self._lock:
                self.waiting -= 1
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            try:
                result = call()
            except BaseException as exc:  # handed to the caller, whatever it is
                future.set_exception(exc)
            else:
                future.set_result(result)
