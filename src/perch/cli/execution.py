"""``perch execution …``: start, list, show, resume and kill executions."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from perch.cli.local import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    console,
    database_url,
    fail,
    open_data,
    parse_pairs,
    principal,
    report_error,
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
STATE_STYLES = {
    "SUCCESS": "green",
    "WARNING": "yellow",
    "FAILED": "red",
    "KILLED": "red",
    "CANCELLED": "red",
    "PAUSED": "magenta",
    "RUNNING": "cyan",
}


def _state(state: StateType) -> Text:
    return Text(state.value, style=STATE_STYLES.get(state.value, ""))


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
) -> None:
    """Start an execution of the latest revision of a flow.

    Without a running server, --wait runs the execution in this process until it pauses or
    ends; without --wait it stays queued for the next ``perch server local``.
    """
    from perch.engine import service
    from perch.server import running_server

    values = parse_pairs(inputs, "input")
    label_values = [Label(k, str(v)) for k, v in parse_pairs(labels, "label").items()]
    with open_data(data_dir) as store:
        try:
            execution = service.create_execution(
                store, DEFAULT_TENANT, namespace, flow_id, values, principal(), label_values
            )
        except PerchError as exc:
            report_error(exc)
            return
        out = console()
        out.print(
            Text.assemble(
                "Execution ", (execution.id, "bold"), " ", _state(execution.state.current)
            )
        )
        if not wait:
            return
        try:
            if running_server(data_dir) is None and database_url() is None:
                execution = _run_here(store, data_dir, execution.id)
            else:
                execution = _wait_for(store, execution.id)
        except KeyboardInterrupt:
            # Everything committed so far is kept; the next server picks the execution up.
            typer.echo(
                f"stopped waiting; execution {execution.id} is kept and continues under a server",
                err=True,
            )
            raise typer.Exit(130) from None
        _show(store, execution)
        if execution.state.current.is_failed:
            raise typer.Exit(1)


def _settled(execution: Execution) -> bool:
    state = execution.state.current
    return state.is_paused or state.is_terminated


def _wait_for(store: Store, execution_id: str, timeout: float = 3600.0) -> Execution:
    from perch.engine import service

    deadline = time.monotonic() + timeout
    while True:
        execution = service.get_execution(store, execution_id)
        if _settled(execution) or time.monotonic() > deadline:
            return execution
        time.sleep(0.05)


def _run_here(store: Store, data_dir: Path, execution_id: str) -> Execution:
    """The one-shot local runner: run the loops in this process until the execution settles.

    It holds the data folder's lock meanwhile, so that a server cannot start beside it and
    take over its leased jobs; if a server got the lock first, that server runs the execution.
    """
    from perch.server import LocalRuntime, lock_folder

    lock = lock_folder(data_dir)
    if lock is None:
        return _wait_for(store, execution_id)
    try:
        runtime = LocalRuntime(store, workers=2)
        runtime.start(recover=False)
        try:
            return _wait_for(store, execution_id)
        finally:
            runtime.stop()
    finally:
        lock.close()


@execution_app.command("list")
def list_(
    state: Annotated[
        list[StateType] | None, typer.Option(help="Only executions in this state (repeatable).")
    ] = None,
    namespace: Annotated[str | None, typer.Option(help="Namespace prefix.")] = None,
    flow: Annotated[str | None, typer.Option(help="Flow id.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many to show.")] = 50,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """List executions, newest first."""
    from perch.engine import service

    query = ExecutionQuery(
        states=tuple(state or ()), namespace_prefix=namespace, flow_id=flow, size=limit
    )
    with open_data(data_dir) as store:
        page = service.search_executions(store, query)
    table = Table("id", "namespace", "flow", "state", "started", title=f"{page.total} executions")
    for execution in page.results:
        table.add_row(
            execution.id,
            execution.namespace,
            execution.flow_id,
            _state(execution.state.current),
            execution.state.start_date.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console().print(table)


@execution_app.command("show")
def show(
    execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Show an execution: its state, task runs with outputs, and logs."""
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

    out = console()
    secrets = service.secret_texts(store, execution)

    def shown(value: Any) -> str:
        return _json(service.mask_secrets(value, secrets))

    out.print(
        Text.assemble(
            ("Execution ", "bold"),
            (execution.id, "bold"),
            f"  {execution.namespace}.{execution.flow_id} rev {execution.flow_revision}  ",
            _state(execution.state.current),
        )
    )
    if execution.inputs:
        out.print(f"inputs: {shown(execution.inputs)}")
    labels = ", ".join(f"{label.key}={label.value}" for label in execution.labels)
    if labels:
        out.print(f"labels: {labels}")
    table = Table("task", "value", "state", "attempts", "outputs")
    for run in execution.task_runs:
        table.add_row(
            run.task_id,
            run.value or "",
            _state(run.state.current),
            str(len(run.attempts)),
            shown(run.outputs) if run.outputs else "",
        )
    out.print(table)
    if execution.outputs:
        out.print(f"outputs: {shown(execution.outputs)}")
    for entry in service.logs(store, execution.id):
        out.print(
            Text.assemble(
                (entry.timestamp.strftime("%H:%M:%S.%f")[:-3], "dim"),
                f" {entry.level:<5} ",
                (entry.task_id or "", "bold"),
                " ",
                entry.message,
            )
        )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


@execution_app.command("resume")
def resume(  # noqa: PLR0917 - typer maps parameters to options
    execution_id: Annotated[
        str | None, typer.Argument(help="The execution's id (omit for a bulk resume).")
    ] = None,
    inputs: InputOption = None,
    state: Annotated[
        list[StateType] | None,
        typer.Option(help="Bulk: resume the executions in this state (only PAUSED ones count)."),
    ] = None,
    namespace: Annotated[str | None, typer.Option(help="Bulk: namespace prefix.")] = None,
    flow: Annotated[str | None, typer.Option(help="Bulk: flow id.")] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Resume a paused execution with its onResume inputs, or every match of a query."""
    from perch.engine import service

    values = parse_pairs(inputs, "input")
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
            console().print(
                Text.assemble(
                    "Resumed ", (execution.id, "bold"), " ", _state(execution.state.current)
                )
            )
            return
        if not (state or namespace or flow):
            fail("give an execution id, or --state/--namespace/--flow for a bulk resume")
        query = ExecutionQuery(
            states=tuple(state or (StateType.PAUSED,)), namespace_prefix=namespace, flow_id=flow
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
    reason = f"it is {execution.state.current.value}"
    for run in reversed(execution.task_runs):
        resumed = (run.outputs or {}).get("resumed")
        if isinstance(resumed, dict) and resumed.get("by"):
            # A kill ends the pause too, and records its author the same way.
            verb = "killed" if execution.state.current is StateType.KILLED else "resumed"
            reason += f", {verb} by {resumed['by']}"
            break
    fail(f"execution '{exc.execution_id}' is not paused ({reason}); nothing to resume")


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
    out.print(f"resumed {result.count} of {len(ids)}")
    for skipped_id, reason in result.skipped:
        out.print(Text.assemble("  skipped ", (skipped_id, "bold"), f": {reason}"))


@execution_app.command("kill")
def kill(
    execution_id: Annotated[str, typer.Argument(help="The execution's id.")],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Kill an execution: running tasks are cancelled, a paused one ends KILLED."""
    from perch.engine import service

    with open_data(data_dir) as store:
        try:
            execution = service.kill(store, execution_id, principal())
        except PerchError as exc:
            report_error(exc)
            return
    console().print(
        Text.assemble("Killed ", (execution.id, "bold"), " ", _state(execution.state.current))
    )
