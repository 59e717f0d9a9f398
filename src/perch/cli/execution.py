"""``perch execution …``: start, list, show, resume and kill executions.

Each command works on the local data folder, or with ``--server URL`` on a running server
through its REST API (:mod:`perch.cli.remote`); both print the same screens
(:mod:`perch.cli.views`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from perch.cli.local import (
    DEFAULT_DATA_DIR,
    STATE_HELP,
    DataDirOption,
    console,
    database_url,
    fail,
    open_data,
    parse_pairs,
    parse_states,
    principal,
    report_error,
)
from perch.cli.remote import Remote, ServerOption, TenantOption, TokenOption, connect
from perch.cli.views import (
    execution_view,
    execution_view_of_json,
    log_view,
    log_view_of_json,
    not_paused_reason,
    print_bulk_result,
    print_execution,
    print_execution_list,
    print_headline,
    print_paused,
)
from perch.engine.model import DEFAULT_TENANT, Execution, Label
from perch.engine.ports import ExecutionQuery, Store
from perch.engine.states import StateType
from perch.errors import NotPaused, PerchError

execution_app = typer.Typer(help="Start and act on executions.", no_args_is_help=True)

InputOption = Annotated[
    list[str] | None,
    typer.Option(
        "--input", "-i", help="An input value, KEY=VALUE (repeatable).", show_default=False
    ),
]


@execution_app.command("start")
def start(  # noqa: PLR0917 - typer maps parameters to options
    namespace: Annotated[str, typer.Argument(help="The flow's namespace.")],
    flow_id: Annotated[str, typer.Argument(help="The flow's id.")],
    inputs: InputOption = None,
    labels: Annotated[
        list[str] | None,
        typer.Option("--label", "-l", help="A label, KEY=VALUE (repeatable).", show_default=False),
    ] = None,
    wait: Annotated[
        bool, typer.Option(help="Wait until the execution pauses or ends, and show it.")
    ] = False,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """Start an execution of the latest revision of a flow.

    Without a running server, --wait runs the execution in this process until it pauses or
    ends; without --wait it stays queued for the next ``perch server local``.
    """
    values = parse_pairs(inputs, "input")
    label_values = parse_pairs(labels, "label")
    if server:
        with connect(server, tenant, token) as remote:
            _start_remote(remote, namespace, flow_id, values, label_values, wait=wait)
        return
    from perch.engine import service
    from perch.server import running_server

    with open_data(data_dir) as store:
        try:
            execution = service.create_execution(
                store,
                tenant,
                namespace,
                flow_id,
                values,
                principal(),
                [Label(k, str(v)) for k, v in label_values.items()],
            )
        except PerchError as exc:
            report_error(exc)
            return
        if not wait:
            print_headline("Execution", execution_view(store, execution))
            return
        try:
            # Ctrl-C is caught from the headline on: a user may press it as soon as they see it.
            with _ctrl_c() as pressed:
                print_headline("Execution", execution_view(store, execution))
                if running_server(data_dir) is None and database_url() is None:
                    execution = _run_here(store, data_dir, execution.id, pressed)
                else:
                    execution = _wait_for(store, execution.id, pressed)
        except KeyboardInterrupt:
            _stopped_waiting(execution.id)
        _show(store, execution)
        print_paused(execution_view(store, execution))
        if execution.state.current.is_failed:
            raise typer.Exit(1)


def _start_remote(
    remote: Remote,
    namespace: str,
    flow_id: str,
    values: dict[str, Any],
    labels: dict[str, Any],
    *,
    wait: bool,
) -> None:
    body = remote.create_execution(namespace, flow_id, values, labels, wait=wait)
    view = execution_view_of_json(body)
    if not wait:
        print_headline("Execution", view)
        return
    try:
        print_headline("Execution", view)
        # The server may answer `wait=true` before the execution settles (at a time limit).
        body = body if view.settled else remote.wait_settled(view.id)
    except KeyboardInterrupt:
        _stopped_waiting(view.id)
    view = execution_view_of_json(body)
    print_execution(view, [log_view_of_json(e) for e in remote.logs(view.id)])
    print_paused(view)
    if view.failed:
        raise typer.Exit(1)


def _stopped_waiting(execution_id: str) -> None:
    # Everything committed so far is kept; the next server picks the execution up.
    typer.echo(
        f"stopped waiting; execution {execution_id} is kept and continues under a server",
        err=True,
    )
    raise typer.Exit(130) from None


def _settled(execution: Execution) -> bool:
    state = execution.state.current
    return state.is_paused or state.is_terminated


@contextlib.contextmanager
def _ctrl_c() -> Iterator[threading.Event]:
    """While waiting, Ctrl-C only sets an event that the wait loop checks between reads, so
    it never interrupts a database call or the runner's start half-way (whenever it comes,
    the command stops the same way)."""
    pressed = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield pressed
        return
    previous = signal.signal(signal.SIGINT, lambda *_: pressed.set())
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)


def _wait_for(
    store: Store,
    execution_id: str,
    pressed: threading.Event | None = None,
    timeout: float = 3600.0,
) -> Execution:
    """Read the execution until it pauses or ends; KeyboardInterrupt once ``pressed`` is set."""
    from perch.engine import service

    pressed = pressed or threading.Event()
    deadline = time.monotonic() + timeout
    while True:
        execution = service.get_execution(store, execution_id)
        if _settled(execution) or time.monotonic() > deadline:
            return execution
        if pressed.wait(0.05):
            raise KeyboardInterrupt


def _run_here(
    store: Store, data_dir: Path, execution_id: str, pressed: threading.Event
) -> Execution:
    """The one-shot local runner: run the loops in this process until the execution settles.

    It holds the data folder's lock meanwhile, so that a server cannot start beside it and
    take over its leased jobs; if a server got the lock first, that server runs the execution.
    """
    from perch.server import LocalRuntime, lock_folder

    lock = lock_folder(data_dir)
    if lock is None:
        return _wait_for(store, execution_id, pressed)
    try:
        runtime = LocalRuntime(store, workers=2)
        runtime.start(recover=False)
        try:
            return _wait_for(store, execution_id, pressed)
        finally:
            runtime.stop()
    finally:
        lock.close()


@execution_app.command("list")
def list_(  # noqa: PLR0917 - typer maps parameters to options
    state: Annotated[
        list[str] | None,
        typer.Option(
            metavar="STATE", help=f"Only executions in this state (repeatable). {STATE_HELP}"
        ),
    ] = None,
    namespace: Annotated[str | None, typer.Option(help="Namespace prefix.")] = None,
    flow: Annotated[str | None, typer.Option(help="Flow id.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many to show.")] = 50,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """List executions, newest first."""
    states = parse_states(state)
    if server:
        with connect(server, tenant, token) as remote:
            names = [s.value for s in states]
            results, total = remote.search_executions(names, namespace, flow, limit)
        print_execution_list([execution_view_of_json(body) for body in results], total)
        return
    from perch.engine import service

    query = ExecutionQuery(
        tenant=tenant,
        states=tuple(states),
        namespace_prefix=namespace,
        flow_id=flow,
        size=limit,
    )
    with open_data(data_dir) as store:
        page = service.search_executions(store, query)
        views = [execution_view(store, execution) for execution in page.results]
    print_execution_list(views, page.total)


@execution_app.command("show")
def show(
    execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """Show an execution: its state, task runs with outputs, and logs."""
    if server:
        with connect(server, tenant, token) as remote:
            view = execution_view_of_json(remote.get_execution(execution_id))
            logs = [log_view_of_json(entry) for entry in remote.logs(execution_id)]
        print_execution(view, logs)
        return
    from perch.engine import service

    with open_data(data_dir) as store:
        try:
            execution = service.get_execution(store, execution_id)
        except PerchError as exc:
            report_error(exc)
            return
        _show(store, execution)


def _show(store: Store, execution: Execution) -> None:
    from perch.engine import service

    logs = [log_view(entry) for entry in service.logs(store, execution.id)]
    print_execution(execution_view(store, execution), logs)


@execution_app.command("resume")
def resume(  # noqa: PLR0917 - typer maps parameters to options
    execution_id: Annotated[
        str | None, typer.Argument(help="The execution's id (omit for a bulk resume).")
    ] = None,
    inputs: InputOption = None,
    state: Annotated[
        list[str] | None,
        typer.Option(
            metavar="STATE",
            help="Bulk: resume the executions in this state (only PAUSED ones count).",
        ),
    ] = None,
    namespace: Annotated[str | None, typer.Option(help="Bulk: namespace prefix.")] = None,
    flow: Annotated[str | None, typer.Option(help="Bulk: flow id.")] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """Resume a paused execution with its onResume inputs, or every match of a query."""
    values = parse_pairs(inputs, "input")
    if execution_id is None and not (state or namespace or flow):
        fail("give an execution id, or --state/--namespace/--flow for a bulk resume")
    states = tuple(parse_states(state) or (StateType.PAUSED,))
    if server:
        with connect(server, tenant, token) as remote:
            if execution_id is not None:
                _resume_remote(remote, execution_id, values)
            else:
                _bulk_resume_remote(remote, [s.value for s in states], namespace, flow, values)
        return
    from perch.engine import service

    with open_data(data_dir) as store:
        if execution_id is not None:
            try:
                execution = service.resume(store, execution_id, values, principal())
            except NotPaused as exc:
                _not_paused(store, exc)
                return
            except PerchError as exc:
                report_error(exc)
                return
            print_headline("Resumed", execution_view(store, execution))
            return
        query = ExecutionQuery(
            tenant=tenant, states=states, namespace_prefix=namespace, flow_id=flow
        )
        _bulk_resume(store, query, values)


def _not_paused(store: Store, exc: NotPaused) -> None:
    """Say why an execution cannot be resumed: the state it is in, and who moved it there."""
    from perch.engine import service

    try:
        execution = service.get_execution(store, exc.execution_id)
    except PerchError:
        report_error(exc)
        return
    reason = not_paused_reason(execution_view(store, execution))
    fail(f"execution '{exc.execution_id}' is not paused ({reason}); nothing to resume")


def _resume_remote(remote: Remote, execution_id: str, values: dict[str, Any]) -> None:
    from perch.cli.remote import RemoteError

    try:
        remote.resume(execution_id, values)
    except RemoteError as exc:
        if exc.status != 409:
            raise
        reason = not_paused_reason(execution_view_of_json(remote.get_execution(execution_id)))
        fail(f"execution '{execution_id}' is not paused ({reason}); nothing to resume")
    # 204 says nothing of the state; show the one it is in now, as the local mode does.
    print_headline("Resumed", execution_view_of_json(remote.get_execution(execution_id)))


def _bulk_resume(store: Store, query: ExecutionQuery, values: dict[str, Any]) -> None:
    from perch.engine import service

    ids = service.matching_ids(store, query)
    out = console()
    with Progress(
        TextColumn("resuming"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=out
    ) as bar:
        task = bar.add_task("resume", total=len(ids))
        result = service.resume_by_ids(
            store,
            ids,
            principal(),
            values,
            progress=lambda done, _: bar.update(task, completed=done),
        )
    print_bulk_result(result.count, len(ids), result.skipped)


def _bulk_resume_remote(
    remote: Remote,
    states: list[str],
    namespace: str | None,
    flow: str | None,
    values: dict[str, Any],
) -> None:
    if values:
        # Kestra's bulk resume takes no onResume values; resume one by one to give them.
        fail("--input is not supported with a bulk resume over --server; resume each by id")
    count, skipped = remote.resume_by_query(states, namespace, flow)
    print_bulk_result(count, count + len(skipped), skipped)


@execution_app.command("kill")
def kill(
    execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """Kill an execution: running tasks are cancelled, a paused one ends KILLED."""
    if server:
        with connect(server, tenant, token) as remote:
            remote.kill(execution_id)
            view = execution_view_of_json(remote.get_execution(execution_id))
        print_headline("Killed", view)
        return
    from perch.engine import service

    with open_data(data_dir) as store:
        try:
            execution = service.kill(store, execution_id, principal())
        except PerchError as exc:
            report_error(exc)
            return
        view = execution_view(store, execution)
    print_headline("Killed", view)
