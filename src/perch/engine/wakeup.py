"""Waking the loops when there is work: in-process channels and a cross-process nudge.

A loop (worker, scheduler, executor) sleeps on a *channel* ("jobs", "timers", "events") and a
committed transition wakes the channels it wrote to. Wake-ups are lossless because each channel
carries a generation counter: a loop reads the generation *before* it looks at its table, and
:meth:`WakeHub.wait` returns at once if the generation moved since, so a notification sent
between "the table is empty" and "go to sleep" is never missed.

Another process on the same data folder (the CLI while ``perch server local`` runs) cannot reach
those condition variables, so the server also listens on a Unix socket named after the data
folder; a connection to it wakes every channel (:func:`nudge`). On Linux the socket lives in the
abstract namespace, so a killed server leaves no stale file and long temporary paths do not hit
the 108-byte limit of socket paths. An abstract socket has no file mode, so the server reads
each caller's user id (``SO_PEERCRED``) and drops connections from any other user than its
own; elsewhere the socket is a file in the (0700) data folder with mode 0600. The socket carries
no data that is trusted: the loops always re-read the database, and a ``kill:<id>`` line cancels
running tasks only once the database says that execution is being killed.

Besides the loops' channels, the hub tells *change listeners* which executions a committed
transaction wrote (their state, or new log lines): the API's live following
(:mod:`perch.engine.watch`) wakes on that instead of polling. A nudge from another process carries
no ids, so it tells them "anything may have changed" (``None``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import struct
import sys
import threading
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

JOBS = "jobs"
TIMERS = "timers"
EVENTS = "events"
SCHEDULES = "schedules"
CHANNELS = (JOBS, TIMERS, EVENTS, SCHEDULES)

SOCKET_NAME = "wake.sock"
_ABSTRACT = sys.platform.startswith("linux")


class WakeHub:
    """Condition variables, one per channel, plus callbacks for killed executions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._conditions = {name: threading.Condition(self._lock) for name in CHANNELS}
        self._generations = dict.fromkeys(CHANNELS, 0)
        self._listeners: list[Callable[[Iterable[str]], None]] = []
        self._kill_listeners: list[Callable[[str], None]] = []
        self._change_listeners: list[Callable[[Collection[str] | None], None]] = []

    def generation(self, channel: str) -> int:
        """The channel's counter; pass it to :meth:`wait` after checking the table."""
        with self._lock:
            return self._generations[channel]

    def notify(self, channels: Iterable[str]) -> None:
        """Wake every loop sleeping on these channels (and tell the listeners)."""
        names = [c for c in set(channels) if c in self._conditions]
        if not names:
            return
        with self._lock:
            for name in names:
                self._generations[name] += 1
                self._conditions[name].notify_all()
        for listener in list(self._listeners):
            listener(names)

    def notify_some(self, channel: str, count: int) -> None:
        """Wake up to ``count`` loops sleeping on ``channel`` (the others sleep on; a loop that
        checks the generation afterwards still sees the change)."""
        with self._lock:
            self._generations[channel] += 1
            self._conditions[channel].notify(count)
        for listener in list(self._listeners):
            listener([channel])

    def notify_all(self) -> None:
        """Wake every channel."""
        self.notify(CHANNELS)

    def wake_local(self, channels: Iterable[str] | None = None) -> None:
        """Wake these channels (every one by default) of this process only, without telling
        the listeners: for a wake-up that came from another process (passing it on would echo
        it back)."""
        names = CHANNELS if channels is None else [c for c in set(channels) if c in CHANNELS]
        with self._lock:
            for name in names:
                self._generations[name] += 1
                self._conditions[name].notify_all()

    def wait(self, channel: str, generation: int, timeout: float | None) -> bool:
        """Sleep until the channel moves past ``generation`` or ``timeout`` seconds pass.

        Returns True when woken by a notification (or when one came before the call).
        """
        with self._lock:
            return self._conditions[channel].wait_for(
                lambda: self._generations[channel] != generation, timeout
            )

    def add_listener(self, listener: Callable[[Iterable[str]], None]) -> None:
        """Call ``listener(channels)`` after every notification (e.g. to nudge a server)."""
        self._listeners.append(listener)

    def on_kill(self, listener: Callable[[str], None]) -> None:
        """Call ``listener(execution_id)`` when an execution is being killed in this process."""
        self._kill_listeners.append(listener)

    def killed(self, execution_id: str) -> None:
        """Tell the kill listeners (the worker pool cancels that execution's running tasks)."""
        for listener in list(self._kill_listeners):
            listener(execution_id)

    def on_change(self, listener: Callable[[Collection[str] | None], None]) -> None:
        """Call ``listener(execution_ids)`` after each commit that wrote those executions or
        their log lines; ``None`` means "any execution may have changed" (another process)."""
        self._change_listeners.append(listener)

    def changed(self, execution_ids: Collection[str] | None) -> None:
        """Tell the change listeners; called after the commit, from whichever thread made it.

        Listeners must be quick and must not raise: they run on the engine's threads.
        """
        for listener in list(self._change_listeners):
            listener(execution_ids)


class NudgeListener:
    """The server side of the cross-process nudge: a Unix socket that wakes every channel."""

    def __init__(
        self, hub: WakeHub, address: str, confirm_kill: Callable[[str], bool] | None = None
    ) -> None:
        """``confirm_kill(execution_id)`` says whether the database has that execution being
        killed; a ``kill:`` line for any other is ignored (without it, every one is)."""
        self._hub = hub
        self.address = address
        self._confirm_kill = confirm_kill
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        """Bind the socket (replacing a stale one left by a killed server) and start listening."""
        _remove(self.address)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.address.startswith("\0"):
            sock.bind(self.address)
        else:
            # Bound under a umask that leaves the file to this user alone (0600), then checked.
            previous = os.umask(0o177)
            try:
                sock.bind(self.address)
            finally:
                os.umask(previous)
            os.chmod(self.address, 0o600)
        sock.listen(64)
        self._sock = sock
        self._thread = threading.Thread(target=self._serve, name="perch-nudge", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            if not _same_user(conn):
                conn.close()
                continue
            message = b""
            with conn, contextlib.suppress(OSError):
                conn.settimeout(1.0)
                while len(message) < _MAX_MESSAGE:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    message += chunk
            if self._stopping.is_set():
                continue
            for execution_id in killed_ids(message.decode("utf-8", "replace")):
                if self._confirm_kill is not None and _confirmed(self._confirm_kill, execution_id):
                    self._hub.killed(execution_id)
            self._hub.notify_all()
            self._hub.changed(None)  # the other process's writes carry no ids

    def stop(self) -> None:
        """Stop listening and remove the socket file."""
        self._stopping.set()
        if self._sock is not None:
            # shutdown() unblocks accept() on Linux; close() alone may not.
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
        if self._thread is not None:
            self._thread.join(timeout=2)
        _remove(self.address)


def _same_user(conn: socket.socket) -> bool:
    """Whether the peer of a Unix connection runs as this process's user (where the kernel
    tells; a filesystem socket elsewhere is guarded by its 0600 mode)."""
    peercred = getattr(socket, "SO_PEERCRED", None)
    if peercred is None:
        return True
    try:
        creds = conn.getsockopt(socket.SOL_SOCKET, peercred, struct.calcsize("3i"))
    except OSError:
        return False
    _pid, uid, _gid = struct.unpack("3i", creds)
    return bool(uid == os.getuid())


def _confirmed(confirm: Callable[[str], bool], execution_id: str) -> bool:
    try:
        return confirm(execution_id)
    except Exception:  # a database hiccup: cancel nothing; the kill's own process does its part
        return False


def _remove(address: str) -> None:
    if not address.startswith("\0"):
        with contextlib.suppress(FileNotFoundError):
            Path(address).unlink()


def socket_address(data_dir: Path) -> str:
    """Where the server of this data folder listens for nudges."""
    folder = data_dir.resolve()
    if _ABSTRACT:
        digest = hashlib.sha256(str(folder).encode()).hexdigest()[:32]
        return f"\0perch-wake-{digest}"
    return str(folder / SOCKET_NAME)


_MAX_MESSAGE = 64 * 1024
KILL_PREFIX = "kill:"
"""A nudge (or PostgreSQL NOTIFY payload) ``kill:<id>`` asks the server to cancel the running
tasks of an execution that another process killed."""


WAKE_PREFIX = "wake:"
"""A PostgreSQL NOTIFY payload line ``wake:jobs timers`` names the channels a commit of another
process woke (a payload without one wakes every channel)."""


def woken_channels(message: str) -> set[str] | None:
    """The channels named by the ``wake:`` lines of a message; None when it has none (then
    every channel is to be woken)."""
    found: set[str] | None = None
    for line in message.splitlines():
        if line.startswith(WAKE_PREFIX):
            found = (found or set()) | set(line[len(WAKE_PREFIX) :].split())
    return found


def killed_ids(message: str) -> list[str]:
    """The execution ids of the ``kill:<id>`` lines of a nudge message."""
    return [
        line[len(KILL_PREFIX) :].strip()
        for line in message.splitlines()
        if line.startswith(KILL_PREFIX) and line[len(KILL_PREFIX) :].strip()
    ]


def nudge(address: str, message: str = "!") -> bool:
    """Wake the server listening on ``address`` (and pass it ``message``); False when no server
    is listening."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(1.0)
        sock.connect(address)
        sock.sendall(message.encode())
    except OSError:
        return False
    finally:
        sock.close()
    return True


def nudging_listener(address: str) -> Callable[[Iterable[str]], None]:
    """A hub listener that nudges the server of another process after each notification."""

    def listener(channels: Iterable[str]) -> None:
        nudge(address)

    return listener
