"""Hostile probes against a live ``perch server local`` (a subprocess, as an attacker meets it).

``live`` is one server per test module, started with a known administrator password in its
environment (so a probe can check that nothing a flow controls can read it). ``health`` watches
``/health`` from a thread while a probe runs: the server must keep answering throughout.

The watcher's bound (:data:`FREEZE_LIMIT`) detects a frozen process, not a slow one: the suite
must pass on a busy machine, so it asserts no latency target; ``benchmarks/sandbox.py`` prints
the /health latencies under the same probes against the 50 ms target.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ADMIN = ("admin", "admin-password-1")
ENV_SECRET = "env-secret-value-9f3a"
"""Put in the server's environment as PERCH_PROBE_SECRET (and the admin password is there too):
no probe may ever see either."""

FREEZE_LIMIT = 2.0
"""Seconds a single /health call may take before the server counts as frozen."""

TERMINAL = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED"}


@dataclass
class Live:
    """A running server: base URL, an admin client, and helpers to deploy and run flows."""

    url: str
    client: httpx.Client
    process: subprocess.Popen[bytes]
    log_path: Path

    def anonymous(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def deploy(self, source: str) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/main/flows", content=source, headers={"Content-Type": "application/x-yaml"}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def start(
        self, namespace: str, flow_id: str, inputs: dict[str, str] | None = None
    ) -> dict[str, Any]:
        files = {key: (None, value) for key, value in (inputs or {}).items()}
        response = self.client.post(
            f"/api/v1/main/executions/{namespace}/{flow_id}", files=files or None
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def wait(
        self,
        execution_id: str,
        until: Callable[[dict[str, Any]], bool] | None = None,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        """Poll the execution until ``until`` holds (default: a terminal or PAUSED state)."""
        check = until or (lambda e: e["state"]["current"] in TERMINAL | {"PAUSED"})
        deadline = time.monotonic() + timeout
        while True:
            response = self.client.get(f"/api/v1/main/executions/{execution_id}")
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            if check(body):
                return body
            if time.monotonic() > deadline:
                raise AssertionError(f"execution {execution_id} still {body['state']['current']}")
            time.sleep(0.05)

    def run(
        self, source: str, inputs: dict[str, str] | None = None, timeout: float = 60.0
    ) -> dict[str, Any]:
        """Deploy ``source`` and run it until it pauses or ends."""
        flow = self.deploy(source)
        started = self.start(flow["namespace"], flow["id"], inputs)
        return self.wait(started["id"], timeout=timeout)

    def logs(self, execution_id: str) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/v1/main/logs/{execution_id}")
        assert response.status_code == 200, response.text
        body: list[dict[str, Any]] = response.json()
        return body

    def server_log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _spawn(data_dir: Path, log_path: Path, extra_env: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PERCH_DATABASE_URL": "", "PERCH_PROBE_SECRET": ENV_SECRET}
    env["PERCH_ADMIN_USERNAME"], env["PERCH_ADMIN_PASSWORD"] = ADMIN
    env.update(extra_env)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "perch",
                "server",
                "local",
                "--data-dir",
                str(data_dir),
                "--workers",
                "2",
                "--port",
                "0",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )


def start_live(tmp: Path, extra_env: dict[str, str] | None = None) -> Live:
    """Start a server on a fresh data folder under ``tmp`` and wait until it answers."""
    import json

    data_dir = tmp / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = tmp / "server.log"
    process = _spawn(data_dir, log_path, extra_env or {})
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {log_path.read_text()}")
        try:
            info = json.loads((data_dir / "server.json").read_text())
            if info["pid"] == process.pid:
                url = f"http://127.0.0.1:{info['port']}"
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
        except (OSError, ValueError, KeyError, httpx.HTTPError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"server not ready: {log_path.read_text()}")
        time.sleep(0.05)
    client = httpx.Client(base_url=url, auth=ADMIN, timeout=60)
    return Live(url=url, client=client, process=process, log_path=log_path)


def stop_live(live: Live) -> None:
    live.client.close()
    if live.process.poll() is None:
        live.process.send_signal(signal.SIGTERM)
        try:
            live.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            live.process.kill()
            live.process.wait()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    running = start_live(tmp_path_factory.mktemp("live"))
    yield running
    stop_live(running)


@dataclass
class HealthWatch:
    """Polls ``/health`` from a thread; :meth:`check` fails if any call failed or froze."""

    url: str
    interval: float = 0.02
    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> HealthWatch:
        self._probe_once()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=FREEZE_LIMIT + 5)
        self._probe_once()  # and once more after the probe, however short it was

    def _probe_once(self) -> None:
        with httpx.Client(timeout=FREEZE_LIMIT + 3) as client:
            self._call(client)

    def _poll(self) -> None:
        with httpx.Client(timeout=FREEZE_LIMIT + 3) as client:
            while not self._stop.is_set():
                self._call(client)
                self._stop.wait(self.interval)

    def _call(self, client: httpx.Client) -> None:
        began = time.perf_counter()
        try:
            status = client.get(f"{self.url}/health").status_code
        except httpx.HTTPError as exc:
            self.failures.append(f"{type(exc).__name__}: {exc}")
        else:
            if status != 200:
                self.failures.append(f"/health answered {status}")
        self.latencies.append(time.perf_counter() - began)

    def check(self) -> None:
        assert self.latencies, "/health was never polled"
        assert not self.failures, self.failures[:5]
        worst = max(self.latencies)
        assert worst < FREEZE_LIMIT, f"/health froze for {worst:.2f} s"


@pytest.fixture
def health(live: Live) -> Iterator[HealthWatch]:
    """Watches the live server's /health for the whole test, then checks it never froze."""
    with HealthWatch(live.url) as watch:
        yield watch
    watch.check()
