"""What the bulk actions share: their result, and the ids a query matches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from perch.engine.ports import ExecutionQuery, Store
from perch.engine.service.executions import search_executions
from perch.errors import NotPaused

BULK_BATCH = 250
"""Executions acted on per transaction by the bulk actions (each under a savepoint of its
own): large enough that a commit, and on SQLite its flush to disk, is paid once for hundreds
of decisions; small enough that a batch holds its locks for a fraction of a second."""

Progress = Callable[[int, int], None]
"""``progress(done, total)``, called after each execution of a bulk action."""


@dataclass
class BulkResult:
    """The outcome of a bulk action: which executions it changed, and why it skipped others."""

    done: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.done)


def matching_ids(store: Store, query: ExecutionQuery, *, page_size: int = 1000) -> list[str]:
    """The ids of every execution matching ``query`` (all pages), collected before acting so
    that executions leaving the filter while a bulk action runs do not shift the pages."""
    ids: list[str] = []
    page = 1
    while True:
        # Counting past a page would only tell whether another page follows: a short page does.
        found = search_executions(
            store, replace(query, page=page, size=page_size, count_limit=page_size)
        )
        ids.extend(e.id for e in found.results)
        if len(found.results) < page_size or (not found.estimated and len(ids) >= found.total):
            return ids
        page += 1


def not_paused_reason(exc: NotPaused) -> str:
    if exc.decided:
        return f"not paused ({exc.decided})"
    return "not paused"
