"""Waking processes that share a database: a PostgreSQL LISTEN bridge for servers, and the
hub a CLI process uses to wake the server of its data folder (a socket nudge, or a NOTIFY)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from perch.engine.wakeup import (
    KILL_PREFIX,
    WAKE_PREFIX,
    WakeHub,
    killed_ids,
    nudge,
    nudging_listener,
    socket_address,
    woken_channels,
)

log = logging.getLogger("perch.server")


PG_CHANNEL = "perch_wake"
"""The PostgreSQL NOTIFY channel on which other processes wake a server."""


class PostgresWakeBridge:
    """On PostgreSQL, LISTEN for other processes' commits and wake the local loops."""

    def __init__(
        self, store: Any, hub: WakeHub, confirm_kill: Callable[[str], bool] | None = None
    ) -> None:
        self._store = store
        self._hub = hub
        self._being_killed = confirm_kill or being_killed(store)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="perch-pg-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._store.listen([PG_CHANNEL]) as listener:
                    while not self._stop.is_set():
                        # The timeout only bounds how long stop() waits for this thread.
                        received = listener.wait(timeout=1.0)
                        if received:
                            channels: set[str] | None = set()
                            for _, payload in received:
                                for execution_id in killed_ids(payload):
                                    if self._being_killed(execution_id):
                                        self._hub.killed(execution_id)
                                named = woken_channels(payload)
                                if named is None or channels is None:
                                    channels = None
                                else:
                                    channels |= named
                            # Only the loops of the channels named (idle workers stay asleep
                            # when another process wrote no job).
                            self._hub.wake_local(channels)
                            # Followers (SSE, wait=true) of executions another process wrote.
                            self._hub.changed(None)
            except Exception:
                log.exception("LISTEN failed; retrying")
                self._stop.wait(1.0)


def being_killed(store: Any) -> Callable[[str], bool]:
    """Whether the database has an execution KILLING or KILLED: a ``kill:<id>`` message from
    another process cancels running tasks only then, never on its word alone."""
    from perch.engine import service
    from perch.engine.states import StateType
    from perch.errors import ExecutionNotFound

    def check(execution_id: str) -> bool:
        try:
            execution = service.get_execution(store, execution_id)
        except ExecutionNotFound:
            return False
        except Exception:
            log.exception("cannot check the kill of %s", execution_id)
            return False
        return execution.state.current in (
            StateType.KILLING,
            StateType.KILLED,
        )

    return check


def cli_hub(data_dir: Path, store: Any = None) -> WakeHub:
    """A hub for a CLI process: every notification also wakes the server of ``data_dir``
    (through its socket, or with a PostgreSQL NOTIFY when ``store`` is on PostgreSQL)."""
    hub = WakeHub()
    if getattr(store, "dialect", None) == "postgresql":
        hub.add_listener(lambda channels: store.notify(PG_CHANNEL))
        hub.on_kill(lambda execution_id: store.notify(PG_CHANNEL, KILL_PREFIX + execution_id))
    else:
        address = socket_address(data_dir)
        hub.add_listener(nudging_listener(address))
        # A task of the killed execution may be running inside the server: tell it to cancel.
        hub.on_kill(lambda execution_id: _ignore(nudge(address, KILL_PREFIX + execution_id)))
    return hub


def _ignore(_: object) -> None:
    return None


class PostgresNotifier:
    """Tell the other processes on a PostgreSQL database that this one committed work: one
    NOTIFY for every burst of commits (a thread sends it), and one per killed execution."""

    def __init__(self, store: Any, hub: WakeHub) -> None:
        self._store = store
        self._pending = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._channels: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="perch-pg-notify", daemon=True)
        hub.add_listener(self._woke)
        hub.on_kill(lambda execution_id: self._send(KILL_PREFIX + execution_id))

    def _woke(self, channels: Iterable[str]) -> None:
        with self._lock:
            self._channels.update(channels)
        self._pending.set()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._pending.set()
        self._thread.join(timeout=5)

    def _send(self, payload: str = "") -> None:
        try:
            self._store.notify(PG_CHANNEL, payload)
        except Exception:
            log.exception("NOTIFY failed")

    def _run(self) -> None:
        while not self._stop.is_set():
            self._pending.wait()
            if self._stop.is_set():
                return
            self._pending.clear()
            with self._lock:
                channels, self._channels = self._channels, set()
            self._send(WAKE_PREFIX + " ".join(sorted(channels)))
            # Commits within this pause share the next NOTIFY.
            self._stop.wait(COALESCE_SECONDS)


COALESCE_SECONDS = 0.002
"""How long the notifier waits after a NOTIFY before it sends the next one."""
