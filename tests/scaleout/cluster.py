"""Perch's roles as subprocesses on one PostgreSQL schema: start them, SIGKILL one, start its
replacement (the web server on the same port, so clients keep their address)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ADMIN = ("admin", "admin-password-1")
READY = re.compile(r"Perch (\w+) ready \(pid (\d+)\): .* on http://127\.0\.0\.1:(\d+)")


@dataclass
class Process:
    role: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ready(self) -> bool:
        """Whether the process said it is ready (and remembers its port)."""
        found = READY.search(self.log.read_text(errors="replace"))
        if found is not None:
            self.port = int(found.group(3))
        return found is not None


def environment(schema: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PERCH_DATABASE_URL=os.environ["PERCH_TEST_POSTGRES_URL"],
        PERCH_DATABASE_SCHEMA=schema,
        PERCH_ADMIN_USERNAME=ADMIN[0],
        PERCH_ADMIN_PASSWORD=ADMIN[1],
        PERCH_AUDIT_KEY="scaleout-audit-key-0123456789abcdef",
        PERCH_ENCRYPTION_KEY="c2NhbGVvdXQta2V5LTAxMjM0NTY3ODlhYmNkZWYwMTI=",
        **extra,
    )
    return env


def perch(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "perch", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def spawn(role: str, env: dict[str, str], tmp_path: Path, *extra: str) -> Process:
    log = tmp_path / f"{role}-{uuid.uuid4().hex[:6]}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "perch",
                "server",
                role,
                "--data-dir",
                str(tmp_path / "d"),
                *extra,
            ],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Process(role, popen, log)


def wait_ready(process: Process, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.ready():
            return
        if process.popen.poll() is not None:
            raise AssertionError(f"{process.role} exited: {process.log.read_text()}")
        time.sleep(0.1)
    raise AssertionError(f"{process.role} not ready: {process.log.read_text()}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Cluster:
    """Role processes on one fresh schema; ``slots[i]`` is the process now playing slot i."""

    tmp_path: Path
    env: dict[str, str]
    web_port: int = field(default_factory=free_port)
    slots: list[Process] = field(default_factory=list)
    retired: list[Process] = field(default_factory=list)
    """Processes that were killed (their logs stay for failure messages)."""

    @classmethod
    def create(cls, tmp_path: Path, **extra_env: str) -> Cluster:
        """A new schema, migrated by ``perch db upgrade``."""
        env = environment(f"scale_{uuid.uuid4().hex[:10]}", **extra_env)
        upgraded = perch("db", "upgrade", "--data-dir", str(tmp_path / "d"), env=env, cwd=tmp_path)
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
        return cls(tmp_path, env)

    @property
    def web(self) -> Process:
        return next(p for p in self.slots if p.role == "webserver")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def _spawn(self, role: str) -> Process:
        extra = ("--port", str(self.web_port)) if role == "webserver" else ()
        return spawn(role, self.env, self.tmp_path, *extra)

    def start(self, roles: Sequence[str]) -> None:
        """Start one process per role in ``roles`` and wait until each is ready."""
        self.slots = [self._spawn(role) for role in roles]
        for process in self.slots:
            wait_ready(process)

    def kill(self, slot: int) -> Process:
        """SIGKILL the process of ``slot`` and start its replacement (not waiting for it)."""
        process = self.slots[slot]
        process.popen.send_signal(signal.SIGKILL)
        process.popen.wait(timeout=30)
        self.retired.append(process)
        self.slots[slot] = self._spawn(process.role)
        return self.slots[slot]

    def wait_all_ready(self, timeout: float = 120.0) -> None:
        for process in self.slots:
            wait_ready(process, timeout)

    def close(self) -> None:
        for process in self.slots:
            if process.popen.poll() is None:
                process.popen.kill()
                process.popen.wait(timeout=10)

    def tails(self, chars: int = 1500) -> str:
        """The end of each process's log, for a failure message."""
        return "\n".join(
            f"--- {p.role} {p.log.name} ---\n{p.log.read_text(errors='replace')[-chars:]}"
            for p in [*self.slots, *self.retired]
        )
