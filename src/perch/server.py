"""The composition root: wires the store, the engine loops and the task runners together.

:class:`LocalRuntime` runs the executor (events outbox), the scheduler (timers) and the worker
threads in this process; ``perch server local`` (:func:`run_local`) adds the cross-process
nudge socket, a pid file, signal handling and crash recovery. The CLI's one-shot runner uses
:class:`LocalRuntime` alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from perch.engine.clock import Clock
from perch.engine.crosswake import PostgresWakeBridge, being_killed
from perch.engine.eventloop import EventLoop
from perch.engine.executor import EngineContext, bind, start_in, unit
from perch.engine.jobfilter import JobFilter
from perch.engine.model import Execution
from perch.engine.ports import ExecutionQuery, Store
from perch.engine.running import InlineRunner
from perch.engine.scheduler import TimerLoop
from perch.engine.schedules import ScheduleLoop
from perch.engine.states import StateType
from perch.engine.wakeup import NudgeListener, WakeHub, socket_address
from perch.engine.worker import Outcome, RunRequest, WorkerPool
from perch.errors import AlreadyExists, PerchError
from perch.flows import Task
from perch.responsive import freeze_startup_objects

if TYPE_CHECKING:
    from perch.store import SqlStore

log = logging.getLogger("perch.server")

SERVER_FILE = "server.json"
LOCK_FILE = "server.lock"
RECOVERED_WORKER = "recovered"

EXECUTOR, SCHEDULER, WORKER = "executor", "scheduler", "worker"
ENGINE_ROLES = frozenset({EXECUTOR, SCHEDULER, WORKER})
"""The engine's roles: applying queued events (executor), firing timers and schedules
(scheduler), running tasks (worker). A web server applies the transitions its requests ask
for in their own transactions."""


def run_task_in_worker(task: Task, request: RunRequest) -> Outcome:
    """The worker's task runner: ``perch.tasks.run_task`` with a RunContext."""
    from perch.tasks import RunContext, run_task

    context = RunContext(
        variables=request.variables,
        hooks=request.hooks,
        execution_id=request.execution_id,
        task_run_id=request.task_run_id,
        attempt=request.attempt,
        cancelled=request.cancelled,
        shared_dir=request.shared_dir,
    )
    return run_task(task, context)


_HEAVY_MARKS = ("{%", "jq(", "jq (", "range(", "range (", "errorLogs(", "read(")
"""What makes a template possibly slow to render (a statement such as a loop, jq, a range),
or read what the transaction dispatching it has not committed yet (``errorLogs()``, ``read()``:
a worker renders those after the commit)."""


def _light(value: Any) -> bool:
    if isinstance(value, str):
        return not any(mark in value for mark in _HEAVY_MARKS)
    if isinstance(value, dict):
        return all(_light(key) and _light(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return all(_light(item) for item in value)
    return True


def runs_inline(task: Task) -> bool:
    """Tasks that only render templates (no I/O), and only light ones: the executor runs them
    inside the transaction that dispatches them (and a worker inside the one that claims
    them, for jobs left over).

    A template with a loop, jq or a range may take long to render, and a rendering inside a
    write transaction holds every other writer: such a task is a job, which a worker renders
    outside any transaction."""
    from perch.flows.tasks.core import Echo, Log, OutputValues, Return

    if task.workerGroup is not None:
        return False  # a worker of that group runs it, wherever it is
    if isinstance(task, Log):
        return _light(task.message)
    if isinstance(task, Echo):
        return _light(task.format)
    if isinstance(task, Return):
        return _light(task.format)
    if isinstance(task, OutputValues):
        return _light(task.values)
    return False


def worker_hooks(
    store: Store, public_url: Callable[[], str | None] | None
) -> Callable[[Execution], Mapping[str, Callable[..., Any]]]:
    """The hooks of each execution that reach beyond the engine's own: ``appLink()`` (with
    ``public_url``), and those of the tasks that act on executions, triggers and states as
    their flow (wired here: they call the service functions, which sit above the context that
    makes the engine's hooks)."""
    from perch.engine.actinghooks import acting_hooks
    from perch.engine.applink import app_link_hooks
    from perch.engine.statehooks import state_hooks

    parts = [acting_hooks(store), state_hooks(store)]
    if public_url is not None:
        parts.append(app_link_hooks(public_url))

    def hooks(execution: Execution) -> Mapping[str, Callable[..., Any]]:
        found: dict[str, Callable[..., Any]] = {}
        for part in parts:
            found.update(part(execution))
        return found

    return hooks


class LocalRuntime:
    """The executor, the scheduler and ``workers`` worker threads, in this process."""

    def __init__(
        self,
        store: Store,
        *,
        workers: int = 4,
        lease_seconds: float = 30.0,
        batch: int = 8,
        clock: Clock | None = None,
        hub: WakeHub | None = None,
        hooks: Mapping[str, Callable[..., Any]] | None = None,
        runner: Callable[[Task, RunRequest], Outcome] = run_task_in_worker,
        public_url: Callable[[], str | None] | None = None,
        job_filter: JobFilter | None = None,
        grace_period: float = 0.0,
    ) -> None:
        """``public_url()`` is the address people reach the server at, for ``appLink()``
        (without it, templates calling appLink() fail). ``job_filter`` says which jobs the
        workers claim (by default those without a worker group); on :meth:`stop`, running
        tasks get ``grace_period`` seconds to finish before they are handed back."""
        self.store = store
        # Only the real runner's tasks are known to do no I/O (a test's runner may block).
        inline = runs_inline if runner is run_task_in_worker else None
        self.context: EngineContext = bind(
            store,
            clock=clock,
            hub=hub,
            hooks=hooks,
            inline=InlineRunner(runner, inline) if inline is not None else None,
            execution_hooks=worker_hooks(store, public_url),
        )
        self.events = EventLoop(store)
        self.timers = TimerLoop(store)
        self.schedules = ScheduleLoop(store)
        self.grace_period = grace_period
        self.workers = WorkerPool(
            store,
            runner,
            threads=workers,
            lease_seconds=lease_seconds,
            batch=batch,
            inline=inline,
            job_filter=job_filter,
        )

    @property
    def hub(self) -> WakeHub:
        return self.context.hub

    def start(
        self,
        *,
        recover: bool = True,
        release_leases: bool = False,
        roles: frozenset[str] = ENGINE_ROLES,
    ) -> None:
        """Start the loops of ``roles`` (all by default): the executor's outbox, the
        scheduler's timers and schedules, the workers. ``recover`` first starts what a previous
        process left CREATED or QUEUED (an executor's work), ``release_leases`` frees jobs
        leased by a process known to be dead."""
        self._roles = roles
        if release_leases:
            release_all_leases(self.store, self.context.clock.now())
        if recover and EXECUTOR in roles:
            start_waiting(self.store, self.context)
        if EXECUTOR in roles:
            self.events.start()
        if SCHEDULER in roles:
            self.timers.start()
            self.schedules.start()
        if WORKER in roles:
            self.workers.start()

    def stop(self) -> None:
        """Stop the loops: the workers claim no more, their running jobs get the grace
        period to finish, and are handed back to other workers after it."""
        roles = getattr(self, "_roles", ENGINE_ROLES)
        if WORKER in roles:
            self.workers.stop(self.grace_period)
        if SCHEDULER in roles:
            self.schedules.stop()
            self.timers.stop()
        if EXECUTOR in roles:
            self.events.stop()


def release_all_leases(store: Store, now: datetime) -> int:
    """Make every leased job claimable at once (only when no other worker can be alive)."""
    far = now + timedelta(days=36500)
    expired = now - timedelta(seconds=1)
    released = 0
    while True:
        with store.transaction() as tx:
            jobs = tx.claim_jobs(RECOVERED_WORKER, 500, far, expired)
        released += len(jobs)
        if len(jobs) < 500:
            return released


def start_waiting(store: Store, ctx: EngineContext) -> int:
    """Start CREATED executions and QUEUED ones whose flow has a free slot, oldest first."""
    started = 0
    for state in (StateType.CREATED, StateType.QUEUED):
        page = 1
        while True:
            with store.transaction() as tx:
                found = tx.search_executions(
                    ExecutionQuery(states=(state,), page=page, size=500, sort_desc=False)
                )
            for execution in found.results:
                try:
                    with unit(store) as (tx, written):
                        current = written.load(tx, execution.id)
                        if current is not None and current.state.current is state:
                            start_in(tx, ctx, current, written)
                            started += 1
                except PerchError as exc:
                    log.warning("could not start %s: %s", execution.id, exc)
                else:
                    ctx.after_commit(written)
            if len(found.results) < 500:
                break
            page += 1
    return started


@dataclass(frozen=True)
class ServerInfo:
    """What ``server.json`` in the data folder says about the running server."""

    pid: int
    port: int
    """The port the REST API listens on (the real one, also when asked for port 0)."""
    started: str
    database: str
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        """Where this machine reaches the API's server."""
        return f"http://{_reachable(self.host)}:{self.port}"


def _reachable(host: str) -> str:
    # A server listening on every interface is reached locally through loopback.
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class AdminAccount:
    """The administrator to create on the first start (``PERCH_ADMIN_USERNAME``,
    ``PERCH_ADMIN_PASSWORD`` and optionally ``PERCH_ADMIN_EMAIL``)."""

    username: str
    password: str = field(repr=False)
    email: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> AdminAccount | None:
        """The account the environment names, or None when it names none."""
        username = environ.get("PERCH_ADMIN_USERNAME", "").strip()
        password = environ.get("PERCH_ADMIN_PASSWORD", "")
        if not username or not password:
            return None
        return cls(username, password, environ.get("PERCH_ADMIN_EMAIL", "").strip() or None)


def prepare_admin(store: Store, admin: AdminAccount | None) -> str | None:
    """Make sure Perch can be signed in to: None when an administrator exists (or was just
    created from ``admin``), else a new one-time setup token for the setup page."""
    from perch import identity

    if identity.has_superadmin(store):
        return None
    if admin is not None:
        try:
            identity.create_user(
                store, admin.username, admin.password, email=admin.email, superadmin=True
            )
        except AlreadyExists:
            # Another server on the same database created it first; a mere user of that
            # name is not an administrator, though.
            if not identity.has_superadmin(store):
                raise
        return None
    return secrets.token_urlsafe(24)


def server_file(data_dir: Path) -> Path:
    return data_dir / SERVER_FILE


def running_server(data_dir: Path) -> ServerInfo | None:
    """The server running on this data folder, if one holds its lock.

    ``server.json`` alone proves nothing (a killed server leaves it behind and its pid may be
    reused); the lock on ``server.lock`` is released by the kernel when its holder dies.
    """
    if not server_file(data_dir).exists():
        return None
    try:
        data = json.loads(server_file(data_dir).read_text(encoding="utf-8"))
        info = ServerInfo(**data)
    except (OSError, ValueError, TypeError):
        return None
    return info if folder_locked(data_dir) else None


def folder_locked(data_dir: Path) -> bool:
    """Whether a process (a server, or a CLI one-shot runner) holds the data folder's lock."""
    held = lock_folder(data_dir)
    if held is None:
        return True
    held.close()
    return False


def lock_folder(data_dir: Path) -> Any | None:
    """Take the data folder's exclusive lock without waiting: the open lock file (keep it open
    to hold the lock), or None when another process holds it."""
    handle = (data_dir / LOCK_FILE).open("a+b")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    except OSError:
        handle.close()
        raise
    return handle


def _holder(data_dir: Path) -> str:
    try:
        pid = json.loads(server_file(data_dir).read_text(encoding="utf-8"))["pid"]
    except (OSError, ValueError, TypeError, KeyError):
        return "another process"
    return f"pid {pid}"


@contextlib.contextmanager
def _server_file(data_dir: Path, info: ServerInfo) -> Iterator[None]:
    path = server_file(data_dir)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info.__dict__), encoding="utf-8")
    tmp.replace(path)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


SWITCH_INTERVAL = 0.001
"""Seconds a thread may hold the interpreter while others wait for it."""


def run_local(
    data_dir: Path,
    *,
    port: int = 8080,
    host: str = "127.0.0.1",
    workers: int = 4,
    database_url: str | None = None,
    admin: AdminAccount | None = None,
    on_ready: Callable[[ServerInfo], None] | None = None,
    stop: threading.Event | None = None,
    max_body_size: int | None = None,
    grace_period: float = 0.0,
) -> None:
    """Run ``perch server local`` until SIGTERM/SIGINT (or ``stop`` is set): the engine's
    loops and the REST API on ``host:port`` (port 0 picks a free one; ``server.json`` and
    ``on_ready`` get the real one).

    On start, work left by a previous process is recovered: leases of a dead local server are
    released, due timers fire, the outbox drains, and CREATED/QUEUED executions with a free slot
    start. Without an administrator, ``admin`` is created; without ``admin`` either, a one-time
    setup link is printed on stderr and the API answers 401 until it has been used.
    """

    from perch.store.database import make_data_dir

    make_data_dir(data_dir)
    # One server per data folder: a second one would release the first one's leases and run
    # its jobs twice. The kernel drops the lock when its holder dies, even by SIGKILL.
    lock = lock_folder(data_dir)
    if lock is None:
        raise PerchError(f"a Perch server is already running on {data_dir} ({_holder(data_dir)})")
    # Threads rendering templates hand the interpreter over sooner (5 ms by default), so the
    # thread answering /health waits at most a few of these slices for each step of a request.
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        _serve(
            data_dir,
            (host, port),
            workers,
            database_url,
            admin,
            on_ready,
            stop,
            max_body_size,
            grace_period=grace_period,
        )
    finally:
        lock.close()


def _serve(  # noqa: PLR0917 - internal
    data_dir: Path,
    address: tuple[str, int],
    workers: int,
    database_url: str | None,
    admin: AdminAccount | None,
    on_ready: Callable[[ServerInfo], None] | None,
    stop: threading.Event | None,
    max_body_size: int | None = None,
    *,
    grace_period: float = 0.0,
) -> None:
    from perch.api import ApiSettings
    from perch.api.settings import exact_count_limit
    from perch.httpserver import HttpServer

    store = open_database(database_url, data_dir)
    try:
        setup_token = prepare_admin(store, admin)
    except PerchError as exc:
        store.close()
        raise PerchError(
            f"cannot create the administrator {admin.username if admin else ''}: {exc}"
        ) from exc
    host, port = address
    stop = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, _stopper(stop))
    from perch.tasks.network import configure_from_environment

    try:
        configure_from_environment(os.environ)
    except PerchError:
        store.close()
        raise
    http: HttpServer | None = None

    def public_url() -> str | None:
        # PERCH_URL, else the address the API listens on (known once it listens).
        return http.app.state.perch.settings.public_url if http is not None else None

    runtime = LocalRuntime(store, workers=workers, public_url=public_url, grace_period=grace_period)
    listener = NudgeListener(runtime.hub, socket_address(data_dir), being_killed(store))
    bridge = PostgresWakeBridge(store, runtime.hub) if store.dialect == "postgresql" else None
    settings = ApiSettings(
        setup_token=setup_token,
        public_url=os.environ.get("PERCH_URL") or None,
        exact_count_limit=exact_count_limit(os.environ),
    )
    if max_body_size is not None:
        settings = dataclasses.replace(settings, max_body_size=max_body_size)
    http = HttpServer(store, host=host, port=port, settings=settings)
    try:
        listener.start()
        if bridge is not None:
            bridge.start()
        # A local SQLite server owns its data folder: no other worker can hold a lease.
        runtime.start(release_leases=database_url is None)
        http.start()
        # Everything the server holds for good exists now: out of the collector's way.
        freeze_startup_objects()
        info = ServerInfo(
            pid=os.getpid(),
            port=http.port,
            started=datetime.now(UTC).isoformat(),
            database=getattr(store, "dialect", "sqlite"),
            host=host,
        )
        if setup_token is not None:
            print(
                f"Perch is not set up yet: open {info.url}/setup?token={setup_token} "
                "to create the administrator",
                file=sys.stderr,
                flush=True,
            )
        with _server_file(data_dir, info):
            if on_ready is not None:
                on_ready(info)
            while not stop.wait(1.0):
                pass
    finally:
        # The API first: no new request may reach loops that are stopping.
        http.stop()
        listener.stop()
        if bridge is not None:
            bridge.stop()
        runtime.stop()
        close = getattr(store, "close", None)
        if close is not None:
            close()
        for restored, handler in previous.items():
            signal.signal(restored, handler)


def open_database(url: str | None, data_dir: Path, *, migrate: bool = True) -> SqlStore:
    """Open the store; any failure to reach the database becomes a :class:`PerchError`.

    ``PERCH_DATABASE_SCHEMA`` confines a PostgreSQL database to one schema. Without ``migrate``,
    a schema that is not this Perch's is refused, naming the command to run."""
    from perch.store import open_store

    where = _redacted(url) if url else f"SQLite in {data_dir}"
    schema = os.environ.get("PERCH_DATABASE_SCHEMA") or None if url else None
    try:
        return open_store(url, data_dir=data_dir, schema=schema, migrate=migrate)
    except PerchError:
        raise
    except Exception as exc:
        # Database drivers raise their own trees (sqlite3, psycopg, SQLAlchemy); the user
        # needs the reason on one line, not the trace.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise PerchError(
            f"cannot open the database ({where}): {reason[0] if reason else type(exc).__name__}"
        ) from exc


def _redacted(url: str) -> str:
    """The URL without its password, fit for a message."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "PERCH_DATABASE_URL"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _stopper(stop: threading.Event) -> Callable[[int, FrameType | None], None]:
    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    return handler
