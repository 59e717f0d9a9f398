"""The template hooks every execution has on a real server: ``errorLogs()`` and ``read()``.

``errorLogs()`` reads the execution's ERROR lines from the store, and ``read(uri)`` the text of
one of its ``kestra:///`` files (a FILE input, a file a task wrote). Both read committed data in
a reading transaction of their own, so a task that calls them runs as a worker job, after the
transition that dispatched it committed (see ``perch.server.runs_inline``), and sees the lines
and files written before it.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import Any

from perch.engine.errorlogs import error_log_entries
from perch.engine.filehooks import READ, SCHEME, file_hooks
from perch.engine.model import Execution
from perch.engine.ports import Store
from perch.errors import TemplateRenderError

ExecutionHooks = Callable[[Execution], Mapping[str, Callable[..., Any]]]

ERROR_LOGS = "errorLogs"
READ_FUNCTION = "read"


def engine_execution_hooks(store: Store, extra: ExecutionHooks | None = None) -> ExecutionHooks:
    """``errorLogs`` and ``read`` for each execution on ``store``, then ``extra``'s hooks.

    The store is held weakly: these hooks live in the store's engine context, which a
    weak-keyed map holds for as long as the store lives (a strong reference here would keep
    every store ever opened, and its caches, alive)."""
    files = file_hooks(store)
    held = weakref.ref(store)

    def hooks(execution: Execution) -> Mapping[str, Callable[..., Any]]:
        def error_logs() -> list[dict[str, Any]]:
            current = held()
            if current is None:
                raise TemplateRenderError("errorLogs(): the store is closed")
            with current.transaction(readonly=True) as tx:  # type: ignore[call-arg]
                entries = tx.get_logs(execution.id, min_level="ERROR")
            return error_log_entries(entries)

        def read(path: str) -> str:
            if not path.startswith(SCHEME):
                raise TemplateRenderError(
                    f"read(): '{path}' is not a kestra:/// file (namespace files are not supported)"
                )
            reader = files(execution.tenant, execution.namespace)[READ]
            content: bytes = reader(path, execution.id)
            return content.decode("utf-8", errors="replace")

        found: dict[str, Callable[..., Any]] = {ERROR_LOGS: error_logs, READ_FUNCTION: read}
        if extra is not None:
            found.update(extra(execution))
        return found

    return hooks
