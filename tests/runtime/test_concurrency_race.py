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


QUEUEING = """
id: two_at_a_time
namespace: perch.race
concurrency:
  limit: 2
  behavior: QUEUE
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
"""


def test_racing_ends_wake_every_queued_execution(store: Store, runtime: LocalRuntime) -> None:
    """Executions that end at once each wake the oldest queued one; a wake-up sent to one that
    another end started meanwhile would be lost, and a queued execution would wait forever."""
    deploy(store, QUEUEING)
    created = [
        service.create_execution(store, "main", "perch.race", "two_at_a_time", {}, ALICE).id
        for _ in range(12)
    ]
    resumed: set[str] = set()
    while len(resumed) < len(created):
        waiting = [i for i in created if i not in resumed]
        # Both slots are taken again (or all that remain run): no wake-up was lost.
        wait_until(store, waiting[0], lambda _, w=waiting: _running(store, w) == min(2, len(w)))
        paused = [i for i in waiting if service.get_execution(store, i).state.current.is_paused]
        assert len(paused) == min(2, len(waiting))
        barrier = threading.Barrier(len(paused))

        def resume(execution_id: str, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            service.resume(store, execution_id, {}, ALICE)

        threads = [threading.Thread(target=resume, args=(i,)) for i in paused]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        resumed.update(paused)
    ends = Counter(wait_until(store, i, settled).state.current.value for i in created)
    assert ends == {"SUCCESS": 12}


def _running(store: Store, execution_ids: list[str]) -> int:
    return sum(service.get_execution(store, i).state.current.is_paused for i in execution_ids)
