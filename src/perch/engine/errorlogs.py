"""What the ``errorLogs()`` template function returns: an execution's ERROR log lines.

The logs live in the store, not in the execution, so the worker that renders a task builds the
``errorLogs`` hook from the lines it reads with :func:`error_logs_hook`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from perch.engine.model import LogEntry


def error_log_entries(entries: Iterable[LogEntry]) -> list[dict[str, Any]]:
    """The ERROR lines of ``entries``, oldest first, as maps with Kestra's log field names
    (``taskId``, ``taskRunId``, ``attemptNumber``, ``executionId``, ``timestamp``, ``level``,
    ``message``)."""
    errors = [entry for entry in entries if entry.level.upper() == "ERROR"]
    errors.sort(key=lambda entry: entry.timestamp)
    return [
        {
            "executionId": entry.execution_id,
            "taskId": entry.task_id,
            "taskRunId": entry.task_run_id,
            "attemptNumber": entry.attempt,
            "timestamp": entry.timestamp.isoformat(),
            "level": "ERROR",
            "message": entry.message,
        }
        for entry in errors
    ]


def error_logs_hook(entries: Iterable[LogEntry]) -> Callable[[], list[dict[str, Any]]]:
    """An ``errorLogs`` template hook over ``entries`` (read once, when first called)."""
    source = list(entries)

    def error_logs() -> list[dict[str, Any]]:
        return error_log_entries(source)

    return error_logs
