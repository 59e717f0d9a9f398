"""Benchmark 7: the REST API — resume latency over HTTP, and executions created per second.

Run with ``python benchmarks/api_resume.py [RESUMES] [CREATES] [CLIENTS]`` (defaults 300,
1000, 8). Targets: resume p50 < 15 ms (floor 50 ms), at least 150 creates/s (floor 50/s).

``perch server local`` runs as a subprocess on a temporary SQLite folder, with an administrator
from the environment and an API token made through the API, so that every measured call
authenticates with ``Bearer`` (one indexed read, no argon2).

- Resume latency: RESUMES executions wait at a Pause; each in turn gets ``POST …/resume``
  (multipart, one ``onResume`` value). The latency runs from the moment the request is sent to
  the moment the task after the Pause entered RUNNING, read from its state history (written by
  the server's worker with the same wall clock). The state is read straight from the database,
  so that watching costs the server nothing.
- Creates: CLIENTS threads, each with its own connection, send CREATES
  ``POST /executions/{namespace}/{flowId}`` (multipart, one input) as fast as the server
  answers; the figure is executions created per second of wall time. The engine runs each new
  execution up to its Pause meanwhile, as it would in production.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from benchsetup import wait_ready
from engine_harness import percentile, summary, verdict

from perch.engine import service
from perch.engine.ports import Store
from perch.engine.states import StateType
from perch.store import open_store

ADMIN = ("bench-admin", "bench-password-1")
FLOW = """\
id: approval
namespace: bench.api
inputs:
  - id: requester
    type: STRING
    defaults: nobody
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: decision
        type: SELECT
        values: [APPROVE, REJECT]
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.requester }}: {{ outputs.wait.onResume.decision }}"
"""
CREATE_PATH = "/api/v1/executions/bench.api/approval"
WARMUP = 20


@dataclass
class Server:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    token: str


@contextmanager
def perch_server(folder: Path) -> Iterator[Server]:
    """``perch server local`` on ``folder`` (port chosen by the server), with an API token."""
    data_dir = folder / "data"
    log = (folder / "server.log").open("wb")
    env = {
        **os.environ,
        "PERCH_DATABASE_URL": "",
        "PERCH_ADMIN_USERNAME": ADMIN[0],
        "PERCH_ADMIN_PASSWORD": ADMIN[1],
    }
    command = [sys.executable, "-m", "perch", "server", "local", "--port", "0"]
    command += ["--data-dir", str(data_dir), "--workers", "4"]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        url = wait_ready(process, data_dir, folder / "server.log")
        with httpx.Client(base_url=url, auth=ADMIN, timeout=30) as admin:
            account = admin.post("/api/v1/service-accounts", json={"name": "bench"}).json()
            # Without a role the token could only sign in (roles are checked on every call).
            binding = {"type": "SERVICE_ACCOUNT", "externalId": account["id"], "roleId": "Admin"}
            admin.post("/api/v1/main/bindings", json=binding).raise_for_status()
            created = admin.post(
                f"/api/v1/service-accounts/{account['id']}/api-tokens", json={"name": "bench"}
            )
            token = created.json()["token"]
        yield Server(url, data_dir, process, token)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        log.close()


def client(server: Server) -> httpx.Client:
    headers = {"Authorization": f"Bearer {server.token}"}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


def create_paused(http: httpx.Client, store: Store, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        response = http.post(CREATE_PATH, files={"requester": (None, "alice")})
        response.raise_for_status()
        ids.append(response.json()["id"])
    for execution_id in ids:
        wait_state(store, execution_id, lambda s: s is StateType.PAUSED)
    return ids


def wait_state(
    store: Store, execution_id: str, done: Callable[[StateType], bool], timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        execution = service.get_execution(store, execution_id)
        if done(execution.state.current):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{execution_id} is {execution.state.current}")
        time.sleep(0.002)


def resume_latencies(http: httpx.Client, store: Store, ids: list[str]) -> tuple[list[float], ...]:
    """(sent → next task RUNNING, sent → 204) for each execution, one at a time."""
    latencies: list[float] = []
    calls: list[float] = []
    for execution_id in ids:
        sent = datetime.now(UTC)
        start = time.perf_counter()
        response = http.post(
            f"/api/v1/executions/{execution_id}/resume", files={"decision": (None, "APPROVE")}
        )
        calls.append(time.perf_counter() - start)
        if response.status_code != 204:
            raise RuntimeError(f"resume answered {response.status_code}: {response.text}")
        wait_state(store, execution_id, lambda s: s.is_terminated)
        after = service.get_execution(store, execution_id).task_runs[-1]
        running = next(h.date for h in after.state.histories if h.state is StateType.RUNNING)
        latencies.append((running - sent).total_seconds())
    return latencies, calls


def creates_per_second(server: Server, total: int, clients: int) -> tuple[float, list[float]]:
    """Executions created per second by ``clients`` threads sending ``total`` creates."""
    per_client = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    durations: list[list[float]] = [[] for _ in range(clients)]
    failures: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def work(index: int) -> None:
        with client(server) as http:
            http.get("/api/v1/me")  # connect before the clock starts
            barrier.wait()
            for _ in range(per_client[index]):
                start = time.perf_counter()
                response = http.post(CREATE_PATH, files={"requester": (None, "bob")})
                durations[index].append(time.perf_counter() - start)
                if response.status_code != 200:
                    failures.append(f"{response.status_code}: {response.text[:200]}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise RuntimeError(f"{len(failures)} creates failed, e.g. {failures[0]}")
    return total / elapsed, [d for chunk in durations for d in chunk]


def main() -> None:
    resumes = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    creates = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    clients = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    with (
        tempfile.TemporaryDirectory(prefix="perch-bench-api-") as folder,
        perch_server(Path(folder)) as server,
        client(server) as http,
    ):
        http.post(
            "/api/v1/flows", content=FLOW, headers={"Content-Type": "application/x-yaml"}
        ).raise_for_status()
        store = open_store(None, data_dir=server.data_dir)
        try:
            ids = create_paused(http, store, resumes + WARMUP)
            resume_latencies(http, store, ids[:WARMUP])
            latencies, calls = resume_latencies(http, store, ids[WARMUP:])
            rate, durations = creates_per_second(server, creates, clients)
        finally:
            store.close()
    print(f"{resumes} resumes over HTTP, one at a time (after {WARMUP} to warm up)")
    print(f"POST /resume -> 204: {summary(calls)}")
    print(f"POST /resume sent -> next task RUNNING: {summary(latencies)}")
    print(f"{creates} creates over HTTP from {clients} clients: {rate:.0f} executions/s")
    print(f"POST /executions/{{ns}}/{{flow}} -> 200: {summary(durations)}")
    p50 = percentile(latencies, 0.5) * 1000
    print(verdict("resume latency p50", p50, 15.0, 50.0, lower_is_better=True))
    print(verdict("creates per second", rate, 150.0, 50.0, lower_is_better=False))


if __name__ == "__main__":
    main()
