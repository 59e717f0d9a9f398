"""Creates racing for a flow's last concurrency slot: exactly ``limit`` of them get one."""

from __future__ import annotations

import threading
from collections import Counter

from tests.runtime.conftest import ALICE, deploy, settled, wait_until

from perch.engine import service
from perch.engine.ports import Store
from perch.server import LocalRuntime

FLOW = """
id: one_at_a_time
namespace: perch.race
concurrency:
  limit: 1
  behavior: FAIL
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
"""


def test_racing_creates_take_the_last_slot_once(store: Store, runtime: LocalRuntime) -> None:
    deploy(store, FLOW)
    barrier = threading.Barrier(8)
    created: list[str] = []
    lock = threading.Lock()

    def create() -> None:
        barrier.wait()
        execution = service.create_execution(
            store, "main", "perch.race", "one_at_a_time", {}, ALICE
        )
        with lock:
            created.append(execution.id)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ends = Counter(wait_until(store, i, settled).state.current.value for i in created)
    assert ends == {"PAUSED": 1, "FAILED": 7}
