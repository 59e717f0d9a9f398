"""Jobs of quick tasks claimed behind a running one are kept by the thread, leased and unstarted
(:mod:`perch.engine.reservations`): they never count as attempts, and a pool that stops gives
them back at once rather than when their lease ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from tests.runtime.conftest import ALICE, deploy, wait_until

from perch.engine import service
from perch.engine.ports import Store
from perch.engine.running import Outcome, RunRequest
from perch.engine.states import StateType
from perch.engine.worker import WorkerPool
from perch.flows import Task
from perch.server import LocalRuntime, run_task_in_worker, runs_inline

# range() keeps the Log off the inline path: a worker runs it.
FLOW = """
id: quick
namespace: perch.kept
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ execution.id }} {{ range(1, 2) | length }}"
"""


class Blocking:
    """The real task runner, except that the run of one execution waits until released (or
    cancelled)."""

    def __init__(self) -> None:
        self.blocked_id = ""
        self.arrived = threading.Event()
        self.release = threading.Event()

    def __call__(self, task: Task, request: RunRequest) -> Outcome:
        if request.execution_id == self.blocked_id:
            self.arrived.set()
            while not (self.release.is_set() or request.cancelled.is_set()):
                time.sleep(0.01)
        return run_task_in_worker(task, request)


@pytest.fixture
def blocking() -> Iterator[Blocking]:
    runner = Blocking()
    yield runner
    runner.release.set()


def eventually(what: str, done: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _create(store: Store) -> str:
    return service.create_execution(store, "main", "perch.kept", "quick", {}, ALICE).id


def test_kept_jobs_stay_unstarted_and_go_back_when_their_pool_stops(
    store: Store, blocking: Blocking
) -> None:
    deploy(store, FLOW)
    executor = LocalRuntime(store, workers=0)
    executor.start()
    pools: list[WorkerPool] = []
    try:
        # The first claim brings the warm-up and three more: the warm-up runs, the others go
        # back (nothing is known of Log runs yet). Once the warm-up ran, Logs are quick: the
        # next claim starts the blocked execution and keeps the three behind it.
        warm_up = _create(store)
        blocking.blocked_id = _create(store)
        behind = [_create(store) for _ in range(3)]
        first = WorkerPool(
            store, blocking, threads=1, batch=4, inline=runs_inline, quick_seconds=5.0
        )
        pools.append(first)
        first.start()
        eventually("the blocked run", blocking.arrived.is_set)
        assert service.get_execution(store, warm_up).state.current is StateType.SUCCESS
        for execution_id in behind:
            (run,) = service.get_execution(store, execution_id).task_runs
            assert run.state.current is StateType.CREATED
            assert [a.worker_id for a in run.attempts if a.worker_id is not None] == []

        # Stopping hands the running job back and gives the kept ones back: another worker
        # runs all of them at once (a kept job's lease is not waited out), each in one attempt.
        first.stop(grace=0.0)
        blocking.release.set()
        second = WorkerPool(store, run_task_in_worker, threads=2, inline=runs_inline)
        pools.append(second)
        second.start()
        for execution_id in [blocking.blocked_id, *behind]:
            done = wait_until(store, execution_id, lambda e: e.state.current.is_terminated)
            assert done.state.current is StateType.SUCCESS
            (run,) = done.task_runs
            assert len(run.attempts) == 1, run.attempts
    finally:
        blocking.release.set()
        for pool in pools:
            pool.stop()
        executor.stop()


def test_quick_tasks_under_contention_run_once_each(store: Store) -> None:
    """Executions are created while four worker threads run their quick tasks: transactions
    conflict and retry, and a retried claim must not leave jobs kept that it never leased
    (another worker would start them too: two attempts, one result dropped as stale)."""
    deploy(store, FLOW + _more_logs(3))
    runtime = LocalRuntime(store, workers=4)
    runtime.start()
    try:
        ids = [_create(store) for _ in range(60)]
        for execution_id in ids:
            done = wait_until(
                store, execution_id, lambda e: e.state.current.is_terminated, timeout=60
            )
            assert done.state.current is StateType.SUCCESS
            assert [len(r.attempts) for r in done.task_runs] == [1, 1, 1, 1]
    finally:
        runtime.stop()


def _more_logs(count: int) -> str:
    return "".join(
        f"  - id: log{n}\n    type: io.kestra.plugin.core.log.Log\n"
        f'    message: "{n} {{{{ range(1, 2) | length }}}}"\n'
        for n in range(count)
    )
