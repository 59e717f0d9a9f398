"""One process group per script attempt: lines reach the sink, and the whole group is gone
afterwards, whether the command exits, is cancelled or runs out of time."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from tests.processes import wait_gone

from perch.tasks.process import Ending, Finished, run_group
from perch.tasks.scriptout import MAX_MESSAGE_LINE_BYTES


class Lines:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes, bool]] = []

    def __call__(self, stream: str, line: bytes, cut: bool) -> None:
        self.seen.append((stream, line, cut))


def run(
    script: str,
    tmp_path: Path,
    *,
    cancelled: threading.Event | None = None,
    timeout: float | None = None,
    grace: float = 2.0,
    max_line: int = MAX_MESSAGE_LINE_BYTES,
) -> tuple[Lines, Finished]:
    lines = Lines()
    finished = run_group(
        ["/bin/sh", "-c", script],
        cwd=str(tmp_path),
        env={"PATH": "/usr/bin:/bin"},
        sink=lines,
        cancelled=cancelled or threading.Event(),
        timeout=timeout,
        grace=grace,
        max_line=max_line,
    )
    return lines, finished


def test_lines_of_both_streams_and_the_exit_code(tmp_path: Path) -> None:
    lines, finished = run("echo out; echo err >&2; printf tail; exit 3", tmp_path)
    assert finished.ending is Ending.EXITED
    assert finished.exit_code == 3
    assert sorted(lines.seen) == [
        ("stderr", b"err\n", False),
        ("stdout", b"out\n", False),
        ("stdout", b"tail", False),
    ]


def test_a_line_longer_than_the_read_limit_is_cut(tmp_path: Path) -> None:
    lines, _ = run("head -c 5000 /dev/zero | tr '\\0' x; echo; echo next", tmp_path, max_line=100)
    assert lines.seen == [("stdout", b"x" * 100, True), ("stdout", b"next\n", False)]


def test_children_left_behind_are_killed_when_the_command_exits(tmp_path: Path) -> None:
    pidfile = tmp_path / "child"
    _, finished = run(f"sleep 60 > /dev/null 2>&1 & echo $! > {pidfile}", tmp_path)
    assert finished.exit_code == 0
    assert wait_gone(int(pidfile.read_text()))


def test_cancel_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child"
    cancelled = threading.Event()
    threading.Timer(0.5, cancelled.set).start()
    started = time.monotonic()
    _, finished = run(
        f"sleep 60 & echo $! > {pidfile}; echo $$ > {tmp_path / 'shell'}; wait",
        tmp_path,
        cancelled=cancelled,
    )
    assert time.monotonic() - started < 10
    assert finished.ending is Ending.CANCELLED
    assert wait_gone(int(pidfile.read_text()))
    assert wait_gone(int((tmp_path / "shell").read_text()))


def test_a_group_that_ignores_sigterm_gets_sigkill(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    started = time.monotonic()
    _, finished = run(
        f"trap '' TERM; echo $$ > {pidfile}; while :; do sleep 0.1; done",
        tmp_path,
        timeout=0.5,
        grace=0.5,
    )
    assert time.monotonic() - started < 10
    assert finished.ending is Ending.TIMED_OUT
    assert finished.exit_code == -9
    assert wait_gone(int(pidfile.read_text()))
