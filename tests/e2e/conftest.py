"""``perch server local`` as a subprocess on a temporary data folder, and the CLI beside it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from perch.engine import service
from perch.engine.model import Execution
from perch.engine.ports import Store

ADMIN = ("admin", "admin-password-1")
"""The administrator every test server is started with (PERCH_ADMIN_USERNAME/PASSWORD)."""


class Server:
    """One ``perch server local`` process; restartable after a SIGKILL. Its REST API listens
    on a free port (``url``), with the administrator :data:`ADMIN` unless ``admin`` is False."""

    def __init__(self, data_dir: Path, log_path: Path, *, admin: bool = True) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.admin = admin
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The API's base URL, from ``server.json`` (the port is chosen at each start)."""
        info = json.loads((self.data_dir / "server.json").read_text())
        return f"http://127.0.0.1:{info['port']}"

    def start(self, timeout: float = 90.0) -> None:
        server_file = self.data_dir / "server.json"
        with self.log_path.open("ab") as log:
            self.process = self._spawn(log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log_path.read_text()}")
            try:
                if json.loads(server_file.read_text())["pid"] == self.process.pid:
                    return
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        raise AssertionError(f"server not ready: {self.log_path.read_text()}")

    def _spawn(self, log: BinaryIO) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "perch",
                "server",
                "local",
                "--data-dir",
                str(self.data_dir),
                "--workers",
                "2",
                "--port",
                "0",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self._env(),
        )

    def _env(self) -> dict[str, str]:
        env = {**os.environ, "PERCH_DATABASE_URL": ""}
        env.pop("PERCH_ADMIN_USERNAME", None)
        env.pop("PERCH_ADMIN_PASSWORD", None)
        if self.admin:
            env["PERCH_ADMIN_USERNAME"], env["PERCH_ADMIN_PASSWORD"] = ADMIN
        return env

    def stop(self) -> int:
        """SIGTERM and wait: the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def crash(self) -> None:
        """SIGKILL: no clean-up at all."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def server(data_dir: Path, tmp_path: Path) -> Iterator[Server]:
    running = Server(data_dir, tmp_path / "server.log")
    running.start()
    yield running
    if running.process is not None and running.process.poll() is None:
        running.process.kill()
        running.process.wait()


def perch(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the ``perch`` CLI on ``data_dir``."""
    result = subprocess.run(
        [sys.executable, "-m", "perch", *args],
        capture_output=True,
        text=True,
        check=False,
        env={
            **os.environ,
            "PERCH_DATA_DIR": str(data_dir),
            "PERCH_DATABASE_URL": "",
            "PERCH_USER": "carol",
            "COLUMNS": "200",
        },
        timeout=120,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture
def store(data_dir: Path) -> Iterator[Store]:
    """The same SQLite database, used from the test process like the CLI does (its commits
    nudge the server)."""
    from perch.engine.crosswake import cli_hub
    from perch.engine.executor import bind
    from perch.store import open_store

    opened = open_store(None, data_dir=data_dir)
    bind(opened, hub=cli_hub(data_dir))
    yield opened
    opened.close()


def wait_for(
    store: Store,
    execution_id: str,
    predicate: Callable[[Execution], bool],
    timeout: float = 30.0,
) -> Execution:
    deadline = time.monotonic() + timeout
    while True:
        execution = service.get_execution(store, execution_id)
        if predicate(execution):
            return execution
        if time.monotonic() > deadline:
            runs = [(r.task_id, r.state.current.value) for r in execution.task_runs]
            raise AssertionError(f"timed out: {execution.state.current.value} {runs}")
        time.sleep(0.05)


def execution_id_from(output: str) -> str:
    """The id printed by ``perch execution start``: ``Execution <id> <STATE>``."""
    for line in output.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "Execution":
            return words[1]
    raise AssertionError(f"no execution id in {output!r}")
