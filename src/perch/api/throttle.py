"""Failed sign-ins throttled per account and per address, and password checks bounded.

After :attr:`LoginThrottle.per_account` failures for one login (or :attr:`per_address` from one
client address) within :attr:`window` seconds, further Basic attempts are answered 429 with a
``Retry-After`` until the window ends, without checking the password (so a right password is
refused too while it lasts). A success clears its account's count.

An argon2 check takes tens of megabytes and milliseconds by design; at most
:attr:`concurrency` run at once, and a caller that cannot start one within
:attr:`queue_wait` seconds is told to come back (429) instead of piling up.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from perch.errors import TooManyAttempts


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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.window = window
        self.queue_wait = queue_wait
        self._clock = clock
        self._lock = threading.Lock()
        self._accounts: dict[str, _Count] = {}
        self._addresses: dict[str, _Count] = {}
        self._checks = threading.BoundedSemaphore(concurrency)

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

    @contextmanager
    def password_check(self) -> Iterator[None]:
        """Hold one of the few password-check slots (429 when none frees up in time)."""
        if not self._checks.acquire(timeout=self.queue_wait):
            raise TooManyAttempts("the server is busy checking passwords: try again", retry_after=1)
        try:
            yield
        finally:
            self._checks.release()
