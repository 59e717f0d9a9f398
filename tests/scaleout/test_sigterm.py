"""SIGTERM on worker processes sharing PostgreSQL: a worker stops claiming, finishes what it
runs within ``--grace-period`` and exits 0; the jobs it still holds when the grace period ends
are handed back at once (not after their 30 s lease) and another worker runs each of them once,
as a loopback HTTP receiver counts."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.integrations.conftest import Receiver
from tests.scaleout.test_roles import (
    ADMIN,
    Process,
    environment,
    perch,
    spawn,
    state_of,
    wait_all,
    wait_ready,
)

pytestmark = pytest.mark.postgres

WorkerSpawner = Callable[..., Process]

CALL = """\
id: {flow_id}
namespace: sig.term
tasks:
  - id: call
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/{path}?e={{{{ execution.id }}}}"
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def _wait_for_request(receiver: Receiver, path: str, count: int = 1) -> None:
    deadline = time.monotonic() + 60
    while len(receiver.at(path)) < count:
        assert time.monotonic() < deadline, f"no request to {path}"
        time.sleep(0.05)


@contextmanager
def web_and_client(tmp_path: Path, schema: str) -> Iterator[tuple[WorkerSpawner, httpx.Client]]:
    """A migrated schema with one webserver and a signed-in client; yields a function that
    starts a worker (kept for clean-up) and the client. The webserver must exit 0 on SIGTERM."""
    env = environment(f"{schema}_{uuid.uuid4().hex[:10]}")
    upgraded = perch("db", "upgrade", "--data-dir", str(tmp_path / "d"), env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    processes: list[Process] = []

    def worker(*extra: str) -> Process:
        started = spawn("worker", env, tmp_path, *extra)
        processes.append(started)
        wait_ready(started)
        return started

    try:
        web = spawn("webserver", env, tmp_path, "--port", "0")
        processes.append(web)
        wait_ready(web)
        with httpx.Client(base_url=web.url, auth=ADMIN, timeout=30) as client:
            yield worker, client
        web.popen.send_signal(signal.SIGTERM)
        assert web.popen.wait(timeout=30) == 0
    finally:
        for process in processes:
            if process.popen.poll() is None:
                process.popen.kill()
                process.popen.wait(timeout=10)


def _deploy(client: httpx.Client, flow_id: str, url: str, path: str) -> None:
    answer = client.post(
        "/api/v1/main/flows",
        content=CALL.format(flow_id=flow_id, url=url, path=path),
        headers={"Content-Type": "application/x-yaml"},
    )
    assert answer.status_code == 200, answer.text


def test_sigterm_hands_back_held_jobs_and_lets_running_ones_finish(
    tmp_path: Path, receiver: Receiver
) -> None:
    with web_and_client(tmp_path, "sigterm") as (worker, client):
        for flow_id, path in (("stuck", "stuck"), ("ledger", "ledger"), ("patient", "slow")):
            _deploy(client, flow_id, receiver.url, path)

        def start(flow_id: str) -> str:
            created = client.post(f"/api/v1/main/executions/sig.term/{flow_id}")
            assert created.status_code == 200, created.text
            return str(created.json()["id"])

        # Queued before any worker runs: the first worker claims them in one batch.
        receiver.reply("/stuck", delay=120, times=1)
        stuck = start("stuck")
        ledger = [start("ledger") for _ in range(3)]
        first = worker("--concurrency", "1", "--grace-period", "1")
        _wait_for_request(receiver, "/stuck")
        first.popen.send_signal(signal.SIGTERM)
        assert first.popen.wait(timeout=30) == 0, first.log.read_text()[-3000:]
        assert "handed" in first.log.read_text()
        assert receiver.at("/ledger") == []  # held, never run by the first worker

        second = worker("--concurrency", "2")
        # Well inside the 30 s lease: the jobs were released, not left to expire.
        ended = wait_all(client, [stuck, *ledger], {"SUCCESS", "FAILED", "WARNING"}, 20)
        assert set(ended.values()) == {"SUCCESS"}, ended
        hits = sorted(r.path.split("e=")[1] for r in receiver.at("/ledger"))
        assert hits == sorted(ledger)  # each handed-back job ran once
        # The stuck task was cut off by the grace period: it ran again elsewhere.
        assert len(receiver.at("/stuck")) == 2

        # A task that ends within the grace period is finished by its worker.
        receiver.reply("/slow", delay=2)
        patient = start("patient")
        _wait_for_request(receiver, "/slow")
        second.popen.send_signal(signal.SIGTERM)
        assert second.popen.wait(timeout=30) == 0, second.log.read_text()[-3000:]
        assert state_of(client, patient) == "SUCCESS"
        run = client.get(f"/api/v1/main/executions/{patient}").json()["taskRunList"][0]
        assert len(run["attempts"]) == 1
        assert len(receiver.at("/slow")) == 1
        workers = client.get("/api/v1/instance/services/search").json()
        assert workers["total"] == 0, workers  # both unregistered on their way out


def test_a_handed_back_attempt_goes_on_and_is_never_counted_lost(
    tmp_path: Path, receiver: Receiver
) -> None:
    """Two workers in turn are stopped while the task runs: each hand-back continues the same
    attempt (a lost worker would fail it and start another), and the third worker ends it."""
    with web_and_client(tmp_path, "handback") as (worker, client):
        _deploy(client, "sleepy", receiver.url, "sleep")
        receiver.reply("/sleep", delay=120, times=2)
        created = client.post("/api/v1/main/executions/sig.term/sleepy")
        assert created.status_code == 200, created.text
        execution_id = str(created.json()["id"])
        for turn in range(1, 3):
            stopped = worker("--grace-period", "0.2")
            _wait_for_request(receiver, "/sleep", turn)
            stopped.popen.send_signal(signal.SIGTERM)
            assert stopped.popen.wait(timeout=30) == 0, stopped.log.read_text()[-3000:]
            assert "handed 1 job(s) back" in stopped.log.read_text()
        worker()
        ended = wait_all(client, [execution_id], {"SUCCESS", "FAILED", "WARNING"}, 20)
        assert ended == {execution_id: "SUCCESS"}
        assert len(receiver.at("/sleep")) == 3
        run = client.get(f"/api/v1/main/executions/{execution_id}").json()["taskRunList"][0]
        assert len(run["attempts"]) == 1, run["attempts"]
        attempt = run["attempts"][0]
        assert attempt["state"]["current"] == "SUCCESS"
        seen = {h["state"] for h in attempt["state"]["histories"]}
        assert "FAILED" not in seen, attempt["state"]["histories"]
        assert state_of(client, execution_id) == "SUCCESS"
