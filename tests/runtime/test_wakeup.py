"""Wake-ups: lossless in-process channels and the cross-process nudge socket."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from perch.engine.wakeup import (
    JOBS,
    TIMERS,
    NudgeListener,
    WakeHub,
    nudge,
    socket_address,
)


def test_a_notification_before_the_wait_is_not_lost() -> None:
    hub = WakeHub()
    generation = hub.generation(JOBS)
    hub.notify([JOBS])  # arrives between "table is empty" and "go to sleep"
    # True: it returned because of the notification (a timeout answers False).
    assert hub.wait(JOBS, generation, 5.0) is True


def test_a_wait_times_out_without_a_notification() -> None:
    hub = WakeHub()
    assert hub.wait(JOBS, hub.generation(JOBS), 0.05) is False


def test_channels_are_separate() -> None:
    hub = WakeHub()
    generation = hub.generation(TIMERS)
    hub.notify([JOBS])
    assert hub.wait(TIMERS, generation, 0.05) is False


def test_notify_some_wakes_only_that_many_sleepers() -> None:
    hub = WakeHub()
    generation = hub.generation(JOBS)
    condition = hub._conditions[JOBS]
    woken: list[str] = []
    lock = threading.Lock()

    def sleeper(name: str) -> None:
        assert hub.wait(JOBS, generation, 300.0)
        with lock:
            woken.append(name)

    threads = [threading.Thread(target=sleeper, args=(str(i),)) for i in range(3)]
    for thread in threads:
        thread.start()
    while len(condition._waiters) < 3:  # type: ignore[attr-defined]
        time.sleep(0.01)  # until all three are asleep
    hub.notify_some(JOBS, 1)
    while not woken:
        time.sleep(0.01)
    # One woke; the two others still sleep (only a notification or their timeout ends a wait).
    with condition:
        assert len(condition._waiters) == 2  # type: ignore[attr-defined]
    assert len(woken) == 1
    hub.notify([JOBS])
    for thread in threads:
        thread.join()
    assert sorted(woken) == ["0", "1", "2"]


def test_kill_listeners_hear_of_killed_executions() -> None:
    hub = WakeHub()
    heard: list[str] = []
    hub.on_kill(heard.append)
    hub.killed("abc")
    assert heard == ["abc"]


def test_the_nudge_socket_wakes_every_channel(tmp_path: Path) -> None:
    hub = WakeHub()
    address = socket_address(tmp_path)
    listener = NudgeListener(hub, address)
    listener.start()
    try:
        generations = {c: hub.generation(c) for c in (JOBS, TIMERS)}
        assert nudge(address) is True
        for channel, generation in generations.items():
            assert hub.wait(channel, generation, 5.0) is True
    finally:
        listener.stop()
    assert nudge(address) is False


def test_nudging_nobody_is_harmless(tmp_path: Path) -> None:
    assert nudge(socket_address(tmp_path / "no-server-here")) is False


@pytest.mark.postgres
def test_a_postgres_notify_wakes_the_server_loops() -> None:
    import os
    import uuid

    from perch.engine.crosswake import PostgresWakeBridge, cli_hub
    from perch.store import open_store

    store = open_store(os.environ["PERCH_TEST_POSTGRES_URL"], schema=f"wk_{uuid.uuid4().hex[:12]}")
    server_hub = WakeHub()
    bridge = PostgresWakeBridge(store, server_hub)
    bridge.start()
    try:
        time.sleep(0.5)  # LISTEN is in place
        generation = server_hub.generation(JOBS)
        cli_hub(Path("unused"), store).notify([JOBS])  # what a CLI commit does
        assert server_hub.wait(JOBS, generation, 5.0) is True
    finally:
        bridge.stop()
        store.close()
