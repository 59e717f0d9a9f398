"""Recently committed executions, so a process does not decode what it has just written.

The executor reads an execution, applies one event and writes it back, many times a second for
the same execution. A version number names exactly one committed content of an execution (every
write is a compare-and-set that increments it), so an entry found at the version the database
holds is that content. Entries are only added after their transaction committed: an uncommitted
version may be rolled back and then reused by another writer with different content.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from perch.engine.model import Execution


class ExecutionCache:
    """A bounded, thread-safe map of execution id → the latest execution seen committed."""

    def __init__(self, limit: int = 1024) -> None:
        self._limit = limit
        self._entries: OrderedDict[str, Execution] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, execution_id: str, version: int) -> Execution | None:
        """The cached execution if it is at ``version``."""
        with self._lock:
            found = self._entries.get(execution_id)
            if found is None or found.version != version:
                return None
            self._entries.move_to_end(execution_id)
            return found

    def put_all(self, executions: Iterable[Execution]) -> None:
        """Remember executions that were just committed (or read committed)."""
        if self._limit <= 0:
            return
        with self._lock:
            for execution in executions:
                current = self._entries.get(execution.id)
                if current is not None and current.version > execution.version:
                    continue
                self._entries[execution.id] = execution
                self._entries.move_to_end(execution.id)
            while len(self._entries) > self._limit:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
