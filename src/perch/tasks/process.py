"""Running one local process group for a script task, and making sure it ends.

:func:`run_group` starts the command in a new session (its own process group), feeds each line
of its standard output and standard error to a callback from two reader threads, and waits for
it. When the task is cancelled (the execution is killed, the server stops) or its time is up,
the whole group gets SIGTERM, then SIGKILL after a short grace. When the main process ends by
itself, whatever it left running in its group (``sleep 60 &``) is killed as well: no process of
an attempt outlives it, except one that made itself a session of its own (``setsid``).

The group is signalled while its leader is still unreaped (a zombie holds the group id), so
the id cannot have been reused by another process in between.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import IO

from perch.tasks.scriptout import MAX_MESSAGE_LINE_BYTES, STDERR, STDOUT

GRACE_SECONDS = 2.0
"""How long a group has after SIGTERM before SIGKILL."""
POLL_SECONDS = 0.05
READERS_JOIN_SECONDS = 5.0
"""How long to wait for the output pipes to close once the group is gone."""

LineSink = Callable[[str, bytes, bool], None]
"""Called as ``sink(stream, line, cut)`` for each line; ``cut`` when its end was dropped."""


class Ending(StrEnum):
    EXITED = "EXITED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"


@dataclass(frozen=True)
class Finished:
    """How the process ended: ``exit_code`` is negative for a signal (``-9``)."""

    ending: Ending
    exit_code: int
    pid: int
    output_left_open: bool = False
    """Some process outside the group still held the output pipes when we stopped reading."""


def _pump(stream: IO[bytes], name: str, sink: LineSink, max_line: int) -> None:
    try:
        while True:
            line = stream.readline(max_line)
            if not line:
                return
            if line.endswith(b"\n") or len(line) < max_line:
                sink(name, line, False)
                continue
            # Longer than we read at once: keep the start, skip to the end of the line.
            while True:
                rest = stream.readline(max_line)
                if not rest or rest.endswith(b"\n"):
                    break
            sink(name, line, True)
    except (OSError, ValueError):
        return
    finally:
        with contextlib.suppress(OSError):
            stream.close()


def _leader_exited(pid: int) -> bool:
    """Whether the leader has ended, without reaping it (so its group id stays taken)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _stop_group(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM to the group, SIGKILL after ``grace`` (or at once once the leader is gone)."""
    pgid = process.pid
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and not _leader_exited(process.pid):
        time.sleep(POLL_SECONDS)
    # Children that outlived the leader, or ignored SIGTERM.
    _signal_group(pgid, signal.SIGKILL)


def run_group(
    argv: Sequence[str],
    *,
    cwd: str,
    env: Mapping[str, str],
    sink: LineSink,
    cancelled: threading.Event,
    timeout: float | None = None,
    grace: float = GRACE_SECONDS,
    max_line: int = MAX_MESSAGE_LINE_BYTES,
) -> Finished:
    """Run ``argv`` in its own process group until it exits, is cancelled or times out.

    Raises :class:`OSError` when the program cannot be started at all."""
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        close_fds=True,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    readers = [
        threading.Thread(
            target=_pump, args=(pipe, name, sink, max_line), name=f"perch-script-{name}"
        )
        for pipe, name in ((process.stdout, STDOUT), (process.stderr, STDERR))
    ]
    for reader in readers:
        reader.daemon = True
        reader.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    ending = Ending.EXITED
    try:
        while not _leader_exited(process.pid):
            if cancelled.wait(POLL_SECONDS):
                ending = Ending.CANCELLED
                break
            if deadline is not None and time.monotonic() >= deadline:
                ending = Ending.TIMED_OUT
                break
        if ending is Ending.EXITED:
            _signal_group(process.pid, signal.SIGKILL)
        else:
            _stop_group(process, grace)
    except BaseException:
        _signal_group(process.pid, signal.SIGKILL)
        raise
    finally:
        code = process.wait()
    stop_reading = time.monotonic() + READERS_JOIN_SECONDS
    for reader in readers:
        reader.join(max(0.0, stop_reading - time.monotonic()))
    left_open = any(reader.is_alive() for reader in readers)
    return Finished(ending, code, process.pid, left_open)
