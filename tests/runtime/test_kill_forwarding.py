"""A kill made by another process reaches the server's workers: the CLI's hub forwards the
killed execution's id through the nudge socket (SQLite) or a NOTIFY payload (PostgreSQL)."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from perch.engine.crosswake import PostgresWakeBridge, cli_hub
from perch.engine.wakeup import NudgeListener, WakeHub, killed_ids, nudge, socket_address


def _collect(hub: WakeHub) -> tuple[list[str], threading.Event]:
    seen: list[str] = []
    arrived = threading.Event()

    def listener(execution_id: str) -> None:
        seen.append(execution_id)
        arrived.set()

    hub.on_kill(listener)
    return seen, arrived


def test_killed_ids_reads_only_kill_lines() -> None:
    assert killed_ids("!") == []
    assert killed_ids("kill:abc\nkill:def\nnoise\nkill:") == ["abc", "def"]


def test_a_kill_in_the_cli_reaches_the_server_through_the_socket(tmp_path: Path) -> None:
    server_hub = WakeHub()
    seen, arrived = _collect(server_hub)
    listener = NudgeListener(server_hub, socket_address(tmp_path), lambda i: i == "exec-1")
    listener.start()
    try:
        cli = cli_hub(tmp_path)
        # A kill the database does not confirm (a forged line) cancels nothing.
        assert nudge(socket_address(tmp_path), "kill:exec-forged")
        cli.killed("exec-1")
        assert arrived.wait(5)
        assert seen == ["exec-1"]
    finally:
        listener.stop()


def test_a_kill_in_the_cli_reaches_the_server_through_postgres(
    store: object, tmp_path: Path
) -> None:
    if getattr(store, "dialect", None) != "postgresql":
        return  # the SQLite path is the socket test above
    server_hub = WakeHub()
    seen, arrived = _collect(server_hub)
    bridge = PostgresWakeBridge(store, server_hub, lambda i: i == "exec-2")
    bridge.start()
    try:
        cli = cli_hub(tmp_path, store)
        # LISTEN may start a moment after the bridge thread does: repeat until it is heard.
        for _ in range(50):
            cli.killed("exec-2")
            if arrived.wait(0.2):
                break
        assert "exec-2" in seen
    finally:
        bridge.stop()


def test_the_socket_drops_other_users(tmp_path: Path) -> None:
    """A connection from another user is closed unread: its kill cancels nothing, even one the
    database would confirm."""
    if os.getuid() != 0 or not hasattr(socket, "SO_PEERCRED"):
        pytest.skip("needs root (to connect as another user) and SO_PEERCRED")
    server_hub = WakeHub()
    seen, arrived = _collect(server_hub)
    address = socket_address(tmp_path)
    listener = NudgeListener(server_hub, address, lambda _: True)
    listener.start()
    try:
        child = os.fork()
        if child == 0:  # pragma: no cover - the child process
            try:
                os.setgid(65534)
                os.setuid(65534)
                nudge(address, "kill:from-nobody")
            finally:
                os._exit(0)
        os.waitpid(child, 0)
        assert nudge(address, "kill:from-owner")
        assert arrived.wait(5)
        assert seen == ["from-owner"]
    finally:
        listener.stop()
