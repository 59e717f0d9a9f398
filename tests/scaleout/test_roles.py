"""Perch as separate processes on one PostgreSQL database: a web server, two executors, two
workers and a scheduler as subprocesses run mixed executions (sequential, ForEach, Subflow,
pauses resumed over HTTP, a timed pause) to their end; each answers /health, /ready and
/metrics; SIGTERM stops each with exit code 0. A process refuses a schema that is not its
own, naming `perch db upgrade`."""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.scaleout.cluster import ADMIN, READY, Process, environment, perch, spawn, wait_ready

pytestmark = pytest.mark.postgres


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[list[Process]]:
    env = environment(f"roles_{uuid.uuid4().hex[:10]}")
    upgraded = perch("db", "upgrade", "--data-dir", str(tmp_path / "d"), env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    processes = [spawn("webserver", env, tmp_path, "--port", "0")]
    for role in ("executor", "executor", "worker", "worker", "scheduler"):
        processes.append(spawn(role, env, tmp_path))
    try:
        for process in processes:
            wait_ready(process)
        yield processes
    finally:
        for process in processes:
            if process.popen.poll() is None:
                process.popen.kill()
                process.popen.wait(timeout=10)


FLOWS = [
    """\
id: steps
namespace: scale.out
tasks:
  - id: one
    type: io.kestra.plugin.core.debug.Return
    format: one
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    tasks:
      - id: shout
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - echo "{{ taskrun.value }}"
  - id: child
    type: io.kestra.plugin.core.flow.Subflow
    namespace: scale.out
    flowId: leaf
    wait: true
""",
    """\
id: leaf
namespace: scale.out
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: leaf
""",
    """\
id: gate
namespace: scale.out
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: resumed
""",
    """\
id: timed
namespace: scale.out
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1S
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: woke up
""",
]


def state_of(client: httpx.Client, execution_id: str) -> str:
    return str(client.get(f"/api/v1/main/executions/{execution_id}").json()["state"]["current"])


def wait_all(
    client: httpx.Client, ids: list[str], states: set[str], timeout: float
) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    found: dict[str, str] = {}
    while time.monotonic() < deadline:
        found = {i: state_of(client, i) for i in ids}
        if all(s in states for s in found.values()):
            return found
        time.sleep(0.3)
    return found


def test_separate_processes_run_mixed_executions(deployment: list[Process]) -> None:
    web = deployment[0]
    with httpx.Client(base_url=web.url, auth=ADMIN, timeout=30) as client:
        for source in FLOWS:
            answer = client.post(
                "/api/v1/main/flows", content=source, headers={"Content-Type": "application/x-yaml"}
            )
            assert answer.status_code == 200, answer.text
        started: dict[str, list[str]] = {"steps": [], "gate": [], "timed": []}
        for _ in range(8):
            for flow_id, ids in started.items():
                created = client.post(f"/api/v1/main/executions/scale.out/{flow_id}")
                assert created.status_code == 200, created.text
                ids.append(created.json()["id"])
        paused = wait_all(client, started["gate"], {"PAUSED"}, 60)
        assert set(paused.values()) == {"PAUSED"}, paused
        for execution_id in started["gate"]:
            assert client.post(f"/api/v1/main/executions/{execution_id}/resume").status_code == 204
        everything = [i for ids in started.values() for i in ids]
        ended = wait_all(client, everything, {"SUCCESS", "FAILED", "WARNING", "KILLED"}, 120)
        assert set(ended.values()) == {"SUCCESS"}, {
            i: s for i, s in ended.items() if s != "SUCCESS"
        }
        leaves = client.get(
            "/api/v1/main/executions/search", params={"namespace": "scale.out", "flowId": "leaf"}
        ).json()
        assert leaves["total"] == 8
        metrics = client.get("/metrics").text
        assert 'perch_executions{state="SUCCESS"}' in metrics
        assert "perch_http_request_duration_seconds_bucket" in metrics
    for process in deployment:
        base = process.url
        assert httpx.get(f"{base}/health", timeout=10).status_code == 200, process.role
        ready = httpx.get(f"{base}/ready", timeout=10)
        assert ready.status_code == 200, (process.role, ready.text)
        assert "perch_queue_depth" in httpx.get(f"{base}/metrics", timeout=10).text
    for process in deployment:
        process.popen.send_signal(signal.SIGTERM)
    for process in deployment:
        assert process.popen.wait(timeout=60) == 0, (process.role, process.log.read_text()[-2000:])


def test_a_process_refuses_a_schema_that_is_not_its_own(tmp_path: Path) -> None:
    env = environment(f"roles_{uuid.uuid4().hex[:10]}")
    refused = perch("server", "worker", "--data-dir", str(tmp_path / "d"), env=env, cwd=tmp_path)
    assert refused.returncode == 1
    assert "perch db upgrade" in refused.stdout + refused.stderr
    status = perch("db", "status", "--data-dir", str(tmp_path / "d"), env=env, cwd=tmp_path)
    assert status.returncode == 1
    assert "no Perch schema" in status.stdout + status.stderr


def test_a_webserver_runs_several_processes_on_one_port(tmp_path: Path) -> None:
    import socket

    env = environment(f"roles_{uuid.uuid4().hex[:10]}")
    upgraded = perch("db", "upgrade", "--data-dir", str(tmp_path / "d"), env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    web = spawn("webserver", env, tmp_path, "--port", str(port), "--workers", "2")
    try:
        deadline = time.monotonic() + 120
        pids: set[str] = set()
        while time.monotonic() < deadline and len(pids) < 2:
            pids = {m.group(2) for m in READY.finditer(web.log.read_text(errors="replace"))}
            assert web.popen.poll() is None, web.log.read_text()
            time.sleep(0.2)
        assert len(pids) == 2, web.log.read_text()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=ADMIN, timeout=30) as client:
            for _ in range(20):
                assert client.get("/api/v1/main/flows/search").status_code == 200
        web.popen.send_signal(signal.SIGTERM)
        assert web.popen.wait(timeout=60) == 0
        for pid in pids:
            with pytest.raises(ProcessLookupError):
                os.kill(int(pid), 0)
    finally:
        if web.popen.poll() is None:
            web.popen.kill()
