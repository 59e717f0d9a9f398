"""``perch server …``: run Perch."""

from __future__ import annotations

import logging
import os
from typing import Annotated, Any

import typer

from perch.cli.local import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    console,
    database_url,
    fail,
    open_data,
    prepare_data_dir,
    report_error,
)
from perch.errors import PerchError
from perch.templating import budget
from perch.templating.budget import DEFAULT_LIMITS

# perch.api.bodies' limits, repeated so that `perch --help` does not import the web stack.
_ANONYMOUS_BODY = 64 * 1024
_DEFAULT_BODY = 10 * 1024 * 1024 + _ANONYMOUS_BODY

server_app = typer.Typer(help="Run the Perch server.", no_args_is_help=True)


@server_app.command("local")
def local(  # noqa: PLR0917 - one parameter per option, as typer reads them
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Port of the REST API (0: any free port).")
    ] = 8080,
    host: Annotated[
        str,
        typer.Option(help="Address the REST API listens on (0.0.0.0: every interface)."),
    ] = "127.0.0.1",
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    workers: Annotated[int, typer.Option(min=1, help="Worker threads running tasks.")] = 4,
    template_time_limit: Annotated[
        float,
        typer.Option(
            min=0.01,
            envvar="PERCH_TEMPLATE_TIME_LIMIT",
            help="Seconds one rendering of an expression may take (jq included).",
        ),
    ] = DEFAULT_LIMITS.time,
    template_output_limit: Annotated[
        int,
        typer.Option(
            min=4096,
            envvar="PERCH_TEMPLATE_OUTPUT_LIMIT",
            help="Characters one rendered value may have.",
        ),
    ] = DEFAULT_LIMITS.output,
    template_loop_limit: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="PERCH_TEMPLATE_LOOP_LIMIT",
            help="Loop iterations one rendering may run, all loops together.",
        ),
    ] = DEFAULT_LIMITS.iterations,
    max_body_size: Annotated[
        int,
        typer.Option(
            min=_ANONYMOUS_BODY,
            envvar="PERCH_MAX_BODY_SIZE",
            help="Bytes of request body an authenticated caller may send (413 beyond).",
        ),
    ] = _DEFAULT_BODY,
    grace_period: Annotated[
        float,
        typer.Option(
            min=0,
            max=3600,
            envvar="PERCH_GRACE_PERIOD",
            help="Seconds running tasks get to finish on SIGTERM before they are stopped.",
        ),
    ] = 10.0,
) -> None:
    """Run the executor, scheduler, workers and the REST API on the local data folder until
    stopped.

    On the first start, PERCH_ADMIN_USERNAME and PERCH_ADMIN_PASSWORD (and PERCH_ADMIN_EMAIL)
    name the administrator to create; without them, a one-time setup link is printed.
    """
    from perch.server import AdminAccount, ServerInfo, run_local

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Migration chatter at every start says nothing to an operator; problems still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    out = console()

    def ready(info: ServerInfo) -> None:
        out.print(
            f"Perch server ready (pid {info.pid}, {info.database}, data in {data_dir}, "
            f"{workers} workers)"
        )
        out.print(f"Perch is serving {info.url} (API: /api/v1, docs: /api/v1/docs)", markup=False)

    budget.configure(
        time=template_time_limit, output=template_output_limit, iterations=template_loop_limit
    )
    prepare_data_dir(data_dir, create=True)
    try:
        run_local(
            data_dir,
            port=port,
            host=host,
            workers=workers,
            database_url=database_url(),
            admin=AdminAccount.from_env(os.environ),
            on_ready=ready,
            max_body_size=max_body_size,
            grace_period=grace_period,
        )
    except PerchError as exc:
        report_error(exc)
    except OSError as exc:
        fail(f"cannot run the server on {data_dir}: {exc.strerror or exc}")
    out.print("Perch server stopped")


def _run_role(  # noqa: PLR0917 - the options of the role commands
    role: str,
    data_dir: Any,
    host: str,
    port: int,
    health_port: int,
    workers: int,
    *,
    web_processes: int = 1,
    reuse_port: bool = False,
    grace_period: float = 30.0,
    worker_group: str | None = None,
    task_types: list[str] | None = None,
    namespaces: list[str] | None = None,
    lease_seconds: float = 30.0,
) -> None:
    from perch.engine.jobfilter import JobFilter
    from perch.roles import RoleInfo, RoleOptions, run_role

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    out = console()

    def ready(info: RoleInfo) -> None:
        what = "the REST API and the UI" if role in ("webserver", "standalone") else "/health"
        out.print(
            f"Perch {info.role} ready (pid {info.pid}): {what} on http://{host}:{info.port}",
            markup=False,
        )

    try:
        job_filter = JobFilter.of(worker_group, task_types or (), namespaces or ())
    except PerchError as exc:
        report_error(exc)
        raise  # unreachable: report_error exits
    url = database_url()
    prepare_data_dir(data_dir, create=True)
    options = RoleOptions(
        role=role,
        data_dir=data_dir,
        database_url=url,
        host=host,
        port=port,
        health_port=health_port,
        workers=workers,
        web_processes=web_processes,
        reuse_port=reuse_port,
        job_filter=job_filter,
        grace_period=grace_period,
        lease_seconds=lease_seconds,
    )
    try:
        run_role(options, on_ready=ready)
    except PerchError as exc:
        report_error(exc)
    out.print(f"Perch {role} stopped")


HostOption = Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")]
PortOption = Annotated[int, typer.Option(min=0, max=65535, help="Port of the REST API and UI.")]
HealthPortOption = Annotated[
    int,
    typer.Option(
        min=0, max=65535, envvar="PERCH_HEALTH_PORT", help="Port of /health, /ready, /metrics."
    ),
]
WorkersOption = Annotated[
    int,
    typer.Option(
        "--concurrency",
        "--workers",
        "--thread",
        "-t",
        min=1,
        max=1024,
        help="Tasks run at once (worker threads).",
    ),
]
GraceOption = Annotated[
    float,
    typer.Option(
        min=0,
        max=3600,
        envvar="PERCH_GRACE_PERIOD",
        help="Seconds running tasks get to finish on SIGTERM; the jobs still held after it "
        "are handed back to other workers.",
    ),
]
WorkerGroupOption = Annotated[
    str | None,
    typer.Option(
        "--worker-group",
        "-g",
        envvar="PERCH_WORKER_GROUP",
        help="Take only the tasks whose workerGroup.key is this (without it: only tasks "
        "without a worker group).",
    ),
]
TaskTypesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--task-types",
        help="Take only tasks of these types (comma-separated or repeated; '*' matches "
        "anything: io.kestra.plugin.scripts.*).",
    ),
]
NamespacesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--namespaces",
        help="Take only tasks of executions in these namespaces or below them "
        "(comma-separated or repeated).",
    ),
]
LeaseOption = Annotated[
    float,
    typer.Option(
        min=3.0,
        max=3600.0,
        envvar="PERCH_WORKER_LEASE_SECONDS",
        help="Seconds a claimed job stays this worker's without a heartbeat (one every third "
        "of it): how soon other workers take over the jobs of a worker that died.",
    ),
]


@server_app.command("webserver")
def webserver(  # noqa: PLR0917 - one parameter per option, as typer reads them
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="API processes listening on this one port.")
    ] = 1,
    reuse_port: Annotated[bool, typer.Option(hidden=True)] = False,
    grace_period: GraceOption = 30.0,
) -> None:
    """Serve the REST API and the web UI on the shared PostgreSQL database
    (PERCH_DATABASE_URL); transitions that requests ask for are applied here."""
    _run_role(
        "webserver",
        data_dir,
        host,
        port,
        0,
        1,
        web_processes=workers,
        reuse_port=reuse_port,
        grace_period=grace_period,
    )


@server_app.command("executor")
def executor(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    host: HostOption = "127.0.0.1",
    health_port: HealthPortOption = 0,
    grace_period: GraceOption = 30.0,
) -> None:
    """Apply queued events to executions (subflow ends, concurrency slots, restarts)."""
    _run_role("executor", data_dir, host, 0, health_port, 1, grace_period=grace_period)


@server_app.command("scheduler")
def scheduler(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    host: HostOption = "127.0.0.1",
    health_port: HealthPortOption = 0,
    grace_period: GraceOption = 30.0,
) -> None:
    """Fire timers (pause durations, sleeps, retries, timeouts) and Schedule triggers."""
    _run_role("scheduler", data_dir, host, 0, health_port, 1, grace_period=grace_period)


@server_app.command("worker")
def worker(  # noqa: PLR0917 - one parameter per option, as typer reads them
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    host: HostOption = "127.0.0.1",
    health_port: HealthPortOption = 0,
    workers: WorkersOption = 4,
    grace_period: GraceOption = 30.0,
    worker_group: WorkerGroupOption = None,
    task_types: TaskTypesOption = None,
    namespaces: NamespacesOption = None,
    lease_seconds: LeaseOption = 30.0,
) -> None:
    """Run tasks: claim jobs, run them, report their results.

    A worker takes the tasks of its --worker-group (or, without one, the tasks without a
    workerGroup), narrowed by --task-types and --namespaces when given."""
    _run_role(
        "worker",
        data_dir,
        host,
        0,
        health_port,
        workers,
        grace_period=grace_period,
        worker_group=worker_group,
        task_types=task_types,
        namespaces=namespaces,
        lease_seconds=lease_seconds,
    )


@server_app.command("standalone")
def standalone(  # noqa: PLR0917 - one parameter per option, as typer reads them
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    workers: WorkersOption = 4,
    grace_period: GraceOption = 30.0,
    worker_group: WorkerGroupOption = None,
    task_types: TaskTypesOption = None,
    namespaces: NamespacesOption = None,
    lease_seconds: LeaseOption = 30.0,
) -> None:
    """Every role in one process, on PostgreSQL (PERCH_DATABASE_URL, beside other processes)
    or SQLite (the data folder)."""
    _run_role(
        "standalone",
        data_dir,
        host,
        port,
        0,
        workers,
        grace_period=grace_period,
        worker_group=worker_group,
        task_types=task_types,
        namespaces=namespaces,
        lease_seconds=lease_seconds,
    )


@server_app.command("workers")
def list_workers(data_dir: DataDirOption = DEFAULT_DATA_DIR) -> None:
    """List the live workers: their group, task types, namespaces, concurrency, host and
    last heartbeat (the database's worker table; rows expire 30 s after a worker's last
    heartbeat)."""
    from datetime import UTC, datetime

    from perch.engine.context import reading

    with open_data(data_dir) as store, reading(store) as tx:
        found = tx.list_workers(datetime.now(UTC))
    out = console()
    if not found:
        out.print("no live worker")
        return
    for info in found:
        seen = info.heartbeat.isoformat(timespec="seconds")
        out.print(
            f"{info.id}  {info.filter.describe()}; concurrency {info.concurrency}; "
            f"{info.hostname} pid {info.pid}; last heartbeat {seen}",
            markup=False,
        )
