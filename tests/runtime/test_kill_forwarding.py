"""A kill made by another process reaches the server's workers: the CLI's hub forwards the
killed execution's id through the nudge socket (SQLite) or a NOTIFY payload (PostgreSQL)."""

from __future__ import annotations

import threading
from pathlib import Path

from perch.engine.wakeup import NudgeListener, WakeHub, killed_ids, socket_address
from perch.server import PostgresWakeBridge, cli_hub


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
    listener = NudgeListener(server_hub, socket_address(tmp_path))
    listener.start()
    try:
        cli = cli_hub(tmp_path)
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
    bridge = PostgresWakeBridge(store, server_hub)
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
