"""PostgreSQL LISTEN/NOTIFY: how processes sharing a database wake each other up.

``server local`` wakes its loops in-process; separate PostgreSQL processes (webserver, executor,
workers, scheduler) instead send a NOTIFY in the transaction that queued the work (delivered on
commit) and wait on a :class:`Listener` with a timeout, so a lost notification costs at most one
timeout, never a stuck item.
"""

from __future__ import annotations

import re
from types import TracebackType
from typing import Any

from sqlalchemy import Engine

_CHANNEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def check_channel(channel: str) -> str:
    """The channel name, if it is a plain identifier (it is spliced into ``LISTEN``)."""
    if not _CHANNEL.match(channel):
        raise ValueError(f"invalid notification channel {channel!r}")
    return channel


class Listener:
    """A dedicated PostgreSQL connection listening on some channels (LISTEN runs at once)."""

    def __init__(self, engine: Engine, channels: list[str]) -> None:
        if engine.dialect.name != "postgresql":
            raise NotImplementedError("LISTEN/NOTIFY needs PostgreSQL")
        names = [check_channel(channel) for channel in channels]
        raw: Any = engine.raw_connection()
        driver: Any = raw.driver_connection
        driver.autocommit = True
        for name in names:
            driver.execute(f"LISTEN {name}")
        self._raw = raw
        self._driver = driver

    def wait(self, timeout: float | None = None) -> list[tuple[str, str]]:
        """Block until a notification arrives or ``timeout`` seconds pass; return every
        ``(channel, payload)`` received (empty on timeout)."""
        received = [
            (n.channel, n.payload) for n in self._driver.notifies(timeout=timeout, stop_after=1)
        ]
        if received:
            received.extend((n.channel, n.payload) for n in self._driver.notifies(timeout=0.0))
        return received

    def close(self) -> None:
        """Stop listening; the connection is discarded rather than returned to the pool."""
        self._raw.invalidate()

    def __enter__(self) -> Listener:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
