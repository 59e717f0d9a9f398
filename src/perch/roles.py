"""Perch as separate processes sharing one database: ``perch server webserver``, ``executor``,
``scheduler``, ``worker`` and ``standalone`` (every role in one process).

Any number of each may run, started in any order, on as many machines as needed: they
coordinate only through the database. Work is claimed with ``FOR UPDATE SKIP LOCKED``, every
transition is a compare-and-set, and a commit wakes the other processes with a PostgreSQL
NOTIFY (:mod:`perch.engine.crosswake`). Each process answers ``/health``, ``/ready`` and
``/metrics``: the web server on its API port, the others on ``--health-port``.

A process refuses to start on a schema that is not its own (``perch db upgrade`` first); only
``standalone`` on SQLite migrates by itself, as ``perch server local`` does. On SIGTERM a
process stops claiming work, lets its running tasks finish within ``--grace-period`` and hands
back the jobs it still holds (their leases released, so another worker takes them at once, as
new attempts), then exits 0.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from perch.engine.crosswake import PostgresNotifier, PostgresWakeBridge
from perch.engine.jobfilter import JobFilter
from perch.errors import PerchError
from perch.health import HealthServer
from perch.server import (
    ENGINE_ROLES,
    EXECUTOR,
    SCHEDULER,
    SWITCH_INTERVAL,
    WORKER,
    AdminAccount,
    LocalRuntime,
    open_database,
    prepare_admin,
)

WEBSERVER, STANDALONE = "webserver", "standalone"
ROLES = (WEBSERVER, EXECUTOR, SCHEDULER, WORKER, STANDALONE)
_ENGINE_OF = {
    WEBSERVER: frozenset(),
    EXECUTOR: frozenset({EXECUTOR}),
    SCHEDULER: frozenset({SCHEDULER}),
    WORKER: frozenset({WORKER}),
    STANDALONE: ENGINE_ROLES,
}


@dataclass(frozen=True)
class RoleOptions:
    """How to run one process: its role, the database, where it listens."""

    role: str
    data_dir: Path
    database_url: str | None
    host: str = "127.0.0.1"
    port: int = 8080
    """The API's port (webserver, standalone)."""
    health_port: int = 0
    """The port of /health, /ready and /metrics for the other roles (0: any free port)."""
    workers: int = 4
    """Worker threads running tasks (worker, standalone)."""
    lease_seconds: float = 30.0
    """How long a claimed job stays this worker's without a heartbeat (one every third of it):
    how soon another worker takes over the jobs of a worker that died."""
    web_processes: int = 1
    """API processes listening on one port (webserver): this one and the others it starts."""
    reuse_port: bool = False
    """Listen with SO_REUSEPORT (set on the processes a webserver starts beside itself)."""
    job_filter: JobFilter | None = None
    """What the workers claim (worker, standalone): a worker group, task types, namespaces."""
    grace_period: float = 30.0
    """Seconds running tasks get to finish on SIGTERM before they are handed back."""


@dataclass(frozen=True)
class RoleInfo:
    """What a started process tells its caller: its role, pid and the port it answers on."""

    role: str
    pid: int
    port: int


def run_role(
    options: RoleOptions,
    *,
    on_ready: Callable[[RoleInfo], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run one process of ``options.role`` until SIGTERM/SIGINT (or ``stop``)."""
    role = options.role
    if role not in ROLES:
        raise PerchError(f"'{role}' is not a role; use one of {', '.join(ROLES)}")
    if options.database_url is None and role != STANDALONE:
        raise PerchError(
            f"`perch server {role}` shares a PostgreSQL database with the other processes: "
            "set PERCH_DATABASE_URL (on one machine, `perch server standalone` or `local`)"
        )
    sys.setswitchinterval(SWITCH_INTERVAL)
    store = open_database(
        options.database_url, options.data_dir, migrate=options.database_url is None
    )
    stop = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        _run(store, options, stop, on_ready)
    finally:
        store.close()
        for restored, handler in previous.items():
            signal.signal(restored, handler)


def _start_siblings(options: RoleOptions) -> list[subprocess.Popen[bytes]]:
    """The other API processes of ``perch server webserver --workers N``, on the same port."""
    command = [
        sys.executable,
        "-m",
        "perch",
        "server",
        "webserver",
        "--data-dir",
        str(options.data_dir),
        "--host",
        options.host,
        "--port",
        str(options.port),
        "--workers",
        "1",
        "--reuse-port",
    ]
    return [subprocess.Popen(command) for _ in range(options.web_processes - 1)]


def _run(
    store: Any,
    options: RoleOptions,
    stop: threading.Event,
    on_ready: Callable[[RoleInfo], None] | None,
) -> None:
    from perch.api import ApiSettings
    from perch.api.settings import exact_count_limit
    from perch.httpserver import HttpServer
    from perch.tasks.network import configure_from_environment

    configure_from_environment(os.environ)
    role = options.role
    serves_api = role in (WEBSERVER, STANDALONE)
    http: HttpServer | None = None

    def public_url() -> str | None:
        if http is not None:
            found: str | None = http.app.state.perch.settings.public_url
            return found
        return os.environ.get("PERCH_URL") or None

    runtime = LocalRuntime(
        store,
        workers=options.workers,
        public_url=public_url,
        job_filter=options.job_filter,
        grace_period=options.grace_period,
        lease_seconds=options.lease_seconds,
    )
    postgres = store.dialect == "postgresql"
    bridge = PostgresWakeBridge(store, runtime.hub) if postgres else None
    notifier = PostgresNotifier(store, runtime.hub) if postgres else None
    health: HealthServer | None = None
    siblings: list[subprocess.Popen[bytes]] = []
    try:
        if bridge is not None and notifier is not None:
            bridge.start()
            notifier.start()
        runtime.start(roles=_ENGINE_OF[role])
        if serves_api:
            setup_token = prepare_admin(store, AdminAccount.from_env(os.environ))
            settings = ApiSettings(
                setup_token=setup_token,
                public_url=os.environ.get("PERCH_URL") or None,
                exact_count_limit=exact_count_limit(os.environ),
            )
            several = role == WEBSERVER and options.web_processes > 1
            if several and options.port == 0:
                raise PerchError("several web server processes need a fixed --port, not 0")
            http = HttpServer(
                store,
                host=options.host,
                port=options.port,
                settings=settings,
                reuse_port=options.reuse_port or several,
            )
            http.start()
            port = http.port
            if several:
                siblings = _start_siblings(options)
            if setup_token is not None:
                print(
                    f"Perch is not set up yet: open http://{options.host}:{port}/setup?token="
                    f"{setup_token} to create the administrator",
                    file=sys.stderr,
                    flush=True,
                )
        else:
            health = HealthServer(store, role, host=options.host, port=options.health_port)
            health.start()
            port = health.port
        if on_ready is not None:
            on_ready(RoleInfo(role, os.getpid(), port))
        while not stop.wait(1.0):
            pass
    finally:
        for sibling in siblings:
            sibling.terminate()
        for sibling in siblings:
            try:
                sibling.wait(timeout=30)
            except subprocess.TimeoutExpired:
                sibling.kill()
        if http is not None:
            http.stop()
        if health is not None:
            health.stop()
        runtime.stop()
        if bridge is not None and notifier is not None:
            notifier.stop()
            bridge.stop()
