"""An execution's log lines: ``GET /logs/{executionId}`` (Kestra's LogEntry JSON) and
``GET /logs/{executionId}/download`` (plain text). Live following is in
:mod:`perch.api.routes.follow`.

SECRET input values are masked in every line (:func:`perch.engine.service.logs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import Field

from perch.api.auth import PrincipalDep
from perch.api.context import StoreDep, TenantDep
from perch.api.convert import execution_in, iso, non_null
from perch.api.shapes import ERRORS, OmitUnsetRoute, Shape
from perch.engine import service
from perch.engine.model import Execution, LogEntry
from perch.engine.ports import Store

router = APIRouter(tags=["Logs"], route_class=OmitUnsetRoute)


class Level(StrEnum):
    """Log levels, lowest first (a ``minLevel`` filter keeps its level and those above)."""

    TRACE = "TRACE"
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


_LEVELS = frozenset(level.value for level in Level)


class LogEntryShape(Shape):
    """One log line, as Kestra's ``LogEntry``."""

    tenantId: str
    namespace: str
    flowId: str
    taskId: str | None = None
    executionId: str
    taskRunId: str | None = None
    attemptNumber: int = Field(description="The task run attempt the line belongs to (from 0)")
    triggerId: str | None = None
    timestamp: str = Field(description="ISO-8601, UTC")
    level: Level
    message: str
    thread: str | None = None
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class LogFilter:
    """The query filters shared by the list, the download and the live stream."""

    min_level: Level | None = None
    task_id: str | None = None
    task_run_id: str | None = None
    attempt: int | None = None

    def keeps(self, entry: LogEntry) -> bool:
        """The filters the store does not apply itself (task run, attempt)."""
        if self.task_run_id is not None and entry.task_run_id != self.task_run_id:
            return False
        return self.attempt is None or attempt_number(entry) == self.attempt


def attempt_number(entry: LogEntry) -> int:
    """Kestra counts a task run's attempts from 0 in log lines; the engine counts them from 1
    (0 for lines that belong to no attempt)."""
    return max(entry.attempt - 1, 0)


def log_filter(
    minLevel: Annotated[
        Level | None, Query(description="Only lines of this level and above")
    ] = None,
    taskId: Annotated[str | None, Query(description="Only lines of this task")] = None,
    taskRunId: Annotated[str | None, Query(description="Only lines of this task run")] = None,
    attempt: Annotated[
        int | None, Query(ge=0, description="Only lines of this attempt (with taskRunId)")
    ] = None,
) -> LogFilter:
    return LogFilter(minLevel, taskId, taskRunId, attempt)


LogFilterDep = Annotated[LogFilter, Depends(log_filter)]
JSON_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {
        "description": entry["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorShape"}}},
    }
    for status, entry in ERRORS.items()
}
""":data:`ERRORS` for a route whose success is not JSON (its errors still are)."""

ExecutionIdPath = Annotated[str, Path(description="The execution id")]


def read_logs(store: Store, execution_id: str, filters: LogFilter) -> list[LogEntry]:
    """The execution's lines that pass ``filters``, oldest first, SECRET values masked."""
    entries = service.logs(
        store,
        execution_id,
        min_level=filters.min_level.value if filters.min_level is not None else None,
        task_id=filters.task_id,
    )
    return [entry for entry in entries if filters.keeps(entry)]


def log_json(execution: Execution, entry: LogEntry) -> dict[str, Any]:
    """A log line as Kestra's API shows it (without the properties that have no value)."""
    return non_null(
        {
            "tenantId": execution.tenant,
            "namespace": execution.namespace,
            "flowId": execution.flow_id,
            "taskId": entry.task_id,
            "executionId": entry.execution_id,
            "taskRunId": entry.task_run_id,
            "attemptNumber": attempt_number(entry),
            "timestamp": iso(entry.timestamp),
            "level": entry.level if entry.level in _LEVELS else Level.INFO.value,
            "message": entry.message,
            "deleted": False,
        }
    )


_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\t"}


def _escape_char(char: str) -> str:
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _unsafe(char: str) -> bool:
    # C0 and C1 controls (ESC starts ANSI sequences), DEL, and Unicode's line separators.
    code = ord(char)
    return code < 0x20 or 0x7F <= code <= 0x9F or code in (0x2028, 0x2029)


def escape_line(text: str) -> str:
    """``text`` on one line with no terminal control: newlines become ``\\n`` and every other
    control character (ANSI escapes included) ``\\xHH``, so that a value typed by someone
    cannot forge another log line or repaint the reader's terminal. Tabs stay."""
    if not any(_unsafe(char) for char in text):
        return text
    return "".join(_escape_char(char) if _unsafe(char) else char for char in text)


def log_text(entry: LogEntry) -> str:
    """One line of the download: time (UTC, milliseconds), level, task, message (escaped by
    :func:`escape_line`: one log entry is always one line)."""
    moment = entry.timestamp.astimezone(UTC).isoformat(timespec="milliseconds")
    task = f"[{escape_line(entry.task_id)}] " if entry.task_id else ""
    message = escape_line(entry.message)
    return f"{moment.replace('+00:00', 'Z')} {escape_line(entry.level):<5} {task}{message}"


@router.get(
    "/logs/{executionId}",
    summary="Get the log lines of an execution",
    response_model=list[LogEntryShape],
    responses=ERRORS,
)
def list_logs(
    executionId: ExecutionIdPath,
    filters: LogFilterDep,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
) -> JSONResponse:
    """Every line of the execution that passes the filters, oldest first."""
    execution = execution_in(store, tenant, executionId, principal)
    entries = read_logs(store, executionId, filters)
    return JSONResponse([log_json(execution, entry) for entry in entries])


@router.get(
    "/logs/{executionId}/download",
    summary="Download the log lines of an execution as text",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **JSON_ERRORS},
)
def download_logs(
    executionId: ExecutionIdPath,
    filters: LogFilterDep,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
) -> PlainTextResponse:
    """The lines as ``<time> <LEVEL> [<task>] <message>``, one per line, as an attachment."""
    execution_in(store, tenant, executionId, principal)
    entries = read_logs(store, executionId, filters)
    text = "".join(log_text(entry) + "\n" for entry in entries)
    return PlainTextResponse(
        text, headers={"Content-Disposition": f'attachment; filename="{executionId}.log"'}
    )
