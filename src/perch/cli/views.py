"""What the execution commands print, from plain data.

The same screens serve both ways of working: the local data folder (engine values, turned into
views by :func:`execution_view`) and a remote server (Kestra-shaped JSON, turned into views by
:func:`execution_view_of_json`). Whatever the source, the output is the same.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from perch.cli.local import console
from perch.engine.model import Execution, LogEntry
from perch.engine.ports import Store

STATE_STYLES = {
    "SUCCESS": "green",
    "WARNING": "yellow",
    "FAILED": "red",
    "KILLED": "red",
    "CANCELLED": "red",
    "PAUSED": "magenta",
    "RUNNING": "cyan",
}
TERMINATED = frozenset({"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED"})
FAILED = frozenset({"FAILED", "KILLED", "CANCELLED"})


@dataclass(frozen=True, slots=True)
class TaskRunView:
    task_id: str
    value: str | None
    state: str
    attempts: int
    outputs: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class ExecutionView:
    """An execution as the CLI shows it; SECRET values are already masked."""

    id: str
    namespace: str
    flow_id: str
    revision: int
    state: str
    start_date: datetime
    inputs: Mapping[str, Any] | None = None
    labels: Sequence[tuple[str, str]] = ()
    task_runs: Sequence[TaskRunView] = field(default_factory=tuple)
    outputs: Mapping[str, Any] | None = None

    @property
    def settled(self) -> bool:
        """Paused or ended: nothing more happens without someone acting."""
        return self.state == "PAUSED" or self.state in TERMINATED

    @property
    def failed(self) -> bool:
        return self.state in FAILED


@dataclass(frozen=True, slots=True)
class LogView:
    timestamp: datetime
    level: str
    task_id: str | None
    message: str


def state_text(state: str) -> Text:
    """A state name in its colour."""
    return Text(state, style=STATE_STYLES.get(state, ""))


def execution_view(store: Store, execution: Execution) -> ExecutionView:
    """A local execution as a view, with its SECRET values masked."""
    from perch.engine import service

    del store  # the marks travel with the values: nothing to look up

    def masked(value: Any) -> Any:
        return service.mask_secrets(value) if value else value

    return ExecutionView(
        id=execution.id,
        namespace=execution.namespace,
        flow_id=execution.flow_id,
        revision=execution.flow_revision,
        state=execution.state.current.value,
        start_date=execution.state.start_date,
        inputs=masked(execution.inputs),
        labels=tuple((label.key, label.value) for label in execution.labels),
        task_runs=tuple(
            TaskRunView(
                task_id=run.task_id,
                value=run.value,
                state=run.state.current.value,
                attempts=len(run.attempts),
                outputs=masked(run.outputs),
            )
            for run in execution.task_runs
        ),
        outputs=masked(execution.outputs),
    )


def log_view(entry: LogEntry) -> LogView:
    return LogView(entry.timestamp, entry.level, entry.task_id, entry.message)


def _moment(text: str) -> datetime:
    # Python 3.11 reads a trailing Z itself.
    return datetime.fromisoformat(text)


def execution_view_of_json(body: Mapping[str, Any]) -> ExecutionView:
    """An Execution as the REST API returns it (already masked by the server)."""
    return ExecutionView(
        id=body["id"],
        namespace=body["namespace"],
        flow_id=body["flowId"],
        revision=int(body.get("flowRevision") or 0),
        state=body["state"]["current"],
        start_date=_moment(body["state"]["startDate"]),
        inputs=body.get("inputs"),
        labels=tuple((label["key"], label["value"]) for label in body.get("labels") or ()),
        task_runs=tuple(
            TaskRunView(
                task_id=run["taskId"],
                value=run.get("value"),
                state=run["state"]["current"],
                attempts=len(run.get("attempts") or ()),
                outputs=run.get("outputs"),
            )
            for run in body.get("taskRunList") or ()
        ),
        outputs=body.get("outputs"),
    )


def log_view_of_json(body: Mapping[str, Any]) -> LogView:
    return LogView(
        _moment(body["timestamp"]), body.get("level") or "INFO", body.get("taskId"), body["message"]
    )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def print_headline(verb: str, view: ExecutionView) -> None:
    """``Execution <id> CREATED``, ``Resumed <id> RUNNING``…"""
    console().print(Text.assemble(f"{verb} ", (view.id, "bold"), " ", state_text(view.state)))


def print_paused(view: ExecutionView) -> None:
    """After ``start --wait``: say that the execution paused, where, and how to go on."""
    if view.state != "PAUSED":
        return
    where = [run.task_id for run in view.task_runs if run.state == "PAUSED"]
    at = f" at {', '.join(where)}" if where else ""
    console().print(
        Text.assemble(
            ("Paused", "bold"), f"{at}: resume it with `perch execution resume {view.id}`"
        )
    )


def print_execution(view: ExecutionView, logs: Iterable[LogView]) -> None:
    """An execution: its state, task runs with outputs, and logs."""
    out = console()
    out.print(
        Text.assemble(
            ("Execution ", "bold"),
            (view.id, "bold"),
            f"  {view.namespace}.{view.flow_id} rev {view.revision}  ",
            state_text(view.state),
        )
    )
    if view.inputs:
        out.print(f"inputs: {_json(view.inputs)}")
    labels = ", ".join(f"{key}={value}" for key, value in view.labels)
    if labels:
        out.print(f"labels: {labels}")
    table = Table("task", "value", "state", "attempts", "outputs")
    for run in view.task_runs:
        table.add_row(
            run.task_id,
            run.value or "",
            state_text(run.state),
            str(run.attempts),
            _json(run.outputs) if run.outputs else "",
        )
    out.print(table)
    if view.outputs:
        out.print(f"outputs: {_json(view.outputs)}")
    for entry in logs:
        out.print(
            Text.assemble(
                (entry.timestamp.strftime("%H:%M:%S.%f")[:-3], "dim"),
                f" {entry.level:<5} ",
                (entry.task_id or "", "bold"),
                " ",
                entry.message,
            )
        )


def print_execution_list(views: Sequence[ExecutionView], total: int) -> None:
    """The table of ``perch execution list``."""
    table = Table(title=f"{total} executions")
    # An id is never cut (a cut id is "not found" when pasted back): its column keeps the
    # width of the longest; the other columns wrap instead when the terminal is narrow.
    widest = max((len(view.id) for view in views), default=2)
    table.add_column("id", no_wrap=True, min_width=widest)
    for name in ("namespace", "flow", "state"):
        table.add_column(name, overflow="fold")
    table.add_column("started", overflow="fold")
    for view in views:
        table.add_row(
            view.id,
            view.namespace,
            view.flow_id,
            state_text(view.state),
            view.start_date.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console().print(table)


def not_paused_reason(view: ExecutionView) -> str:
    """Why an execution cannot be resumed: the state it is in, and who moved it there."""
    reason = f"it is {view.state}"
    for run in reversed(view.task_runs):
        resumed = (run.outputs or {}).get("resumed")
        if isinstance(resumed, dict) and resumed.get("by"):
            # A kill ends the pause too, and records its author the same way.
            verb = "killed" if view.state == "KILLED" else "resumed"
            reason += f", {verb} by {resumed['by']}"
            break
    return reason


def print_bulk_result(resumed: int, total: int, skipped: Iterable[tuple[str, str]]) -> None:
    """Print how many were resumed and why each other was not; none of several resumed is a
    failure (exit 1), so a script does not go on as if they had been."""
    out = console()
    out.print(f"resumed {resumed} of {total}")
    for skipped_id, reason in skipped:
        out.print(Text.assemble("  skipped ", (skipped_id, "bold"), f": {reason}"))
    if total and not resumed:
        console(stderr=True).print(
            f"error: none of the {total} matching executions was resumed (reasons above)"
        )
        raise typer.Exit(1)
