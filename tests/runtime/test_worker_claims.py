"""A worker thread starts only the job it runs: jobs it claimed with it (a claim takes a batch,
for the tasks that run inline) go back to the queue unstarted. Otherwise they waited behind it
as begun attempts, which other workers could not take and which counted as lost, though they
never ran, when the process died (three such crashes failed a task that never ran)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from tests.runtime.conftest import ALICE, deploy, wait_until

from perch.engine import service
from perch.engine.ports import Store
from perch.engine.states import StateType
from perch.engine.worker import WorkerPool
from perch.server import LocalRuntime, run_task_in_worker, runs_inline

FLOW = """
id: held
namespace: perch.claims
tasks:
  - id: call
    type: io.kestra.plugin.core.http.Request
    uri: "{url}"
"""


class HeldAnswers:
    """A loopback HTTP server that answers no request until :attr:`release` is set."""

    def __init__(self) -> None:
        self.arrived = 0
        self.release = threading.Event()
        held = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                held.arrived += 1
                held.release.wait(30)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"ok")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def held() -> Iterator[HeldAnswers]:
    server = HeldAnswers()
    yield server
    server.stop()


def eventually(what: str, done: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_jobs_claimed_behind_a_running_one_stay_unstarted_for_other_workers(
    store: Store, held: HeldAnswers
) -> None:
    deploy(store, FLOW.format(url=held.url))
    executor = LocalRuntime(store, workers=0)
    executor.start()
    pools: list[WorkerPool] = []
    try:
        ids = [
            service.create_execution(store, "main", "perch.claims", "held", {}, ALICE).id
            for _ in range(4)
        ]
        first = WorkerPool(store, run_task_in_worker, threads=1, batch=4, inline=runs_inline)
        pools.append(first)
        first.start()
        eventually("the first request", lambda: held.arrived >= 1)

        runs = [service.get_execution(store, i).task_runs[0] for i in ids]
        assert sorted(r.state.current.value for r in runs) == ["CREATED"] * 3 + ["RUNNING"]
        assert sum(1 for r in runs for a in r.attempts if a.worker_id is not None) == 1

        # Another worker takes the next job at once, not when the first one's lease ends.
        second = WorkerPool(store, run_task_in_worker, threads=1, batch=4, inline=runs_inline)
        pools.append(second)
        second.start()
        eventually("a second request while the first is held", lambda: held.arrived >= 2)

        held.release.set()
        for execution_id in ids:
            done = wait_until(store, execution_id, lambda e: e.state.current.is_terminated)
            assert done.state.current is StateType.SUCCESS
            assert len(done.task_runs[0].attempts) == 1
    finally:
        held.release.set()
        for pool in pools:
            pool.stop()
        executor.stop()
