"""The task runs of a large execution, kept in chunks of :data:`CHUNK` beside its document.

An execution with up to :data:`CHUNK` task runs is one document, as always. Past that, its
document holds everything but the task runs (and how many chunks there are), and the runs go to
``execution_runs``, :data:`CHUNK` per row. A write compares the runs with those of the version
it replaces (the committed version the cache holds; runs the engine did not change are the
very same objects) and rewrites only the chunks that differ: a ForEach whose children run one
by one on workers rewrites one chunk per child, not the whole list of 20,000. Without the
version replaced at hand, every chunk is written again (correct, only slower).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, select

from perch.engine.model import Execution, TaskRun
from perch.errors import StoreError
from perch.store.codec import CHUNKS_KEY, encode_runs, load_sealed
from perch.store.schema import execution_runs
from perch.store.sealing import Sealer

CHUNK = 256
"""Task runs per chunk (and the most an execution keeps inline in its document)."""

_r = execution_runs.c
_ID: BindParameter[str] = bindparam("b_id")
_SELECT = select(_r.document).where(_r.execution_id == _ID).order_by(_r.chunk)
_DELETE_ALL = execution_runs.delete().where(_r.execution_id == _ID)
_DELETE_FROM = execution_runs.delete().where(
    _r.execution_id == _ID, _r.chunk >= bindparam("b_from")
)
_DELETE_SOME = execution_runs.delete().where(
    _r.execution_id == _ID, _r.chunk.in_(bindparam("b_chunks", expanding=True))
)
_INSERT = execution_runs.insert()


def chunk_count(execution: Execution) -> int:
    """How many chunks the execution's runs take (0: they stay in its document)."""
    runs = len(execution.task_runs)
    return 0 if runs <= CHUNK else -(-runs // CHUNK)


def _chunk(runs: tuple[TaskRun, ...], number: int) -> tuple[TaskRun, ...]:
    return runs[number * CHUNK : (number + 1) * CHUNK]


def write_runs(
    conn: Connection,
    execution: Execution,
    replaced: Execution | None,
    sealer: Sealer | None,
    *,
    new: bool,
) -> None:
    """Write the chunks of ``execution`` after its row: those that differ from ``replaced``
    (the version this write replaces, when known), or all of them. ``new``: nothing is stored
    for it yet."""
    count = chunk_count(execution)
    known = replaced is not None and chunk_count(replaced) > 0
    if count == 0:
        if not new and (replaced is None or known):
            conn.execute(_DELETE_ALL, {"b_id": execution.id})
        return
    runs = execution.task_runs
    if not known or replaced is None:
        if not new:
            conn.execute(_DELETE_ALL, {"b_id": execution.id})
        changed = list(range(count))
    else:
        before = replaced.task_runs
        before_count = chunk_count(replaced)
        if before_count > count:
            conn.execute(_DELETE_FROM, {"b_id": execution.id, "b_from": count})
        changed = [
            number
            for number in range(count)
            if number >= before_count or _chunk(runs, number) != _chunk(before, number)
        ]
        stale = [number for number in changed if number < before_count]
        if stale:
            conn.execute(_DELETE_SOME, {"b_id": execution.id, "b_chunks": stale})
    if changed:
        conn.execute(
            _INSERT,
            [
                {
                    "execution_id": execution.id,
                    "chunk": number,
                    "document": encode_runs(_chunk(runs, number), sealer),
                }
                for number in changed
            ],
        )


def read_runs(
    conn: Connection, execution_id: str, doc: dict[str, Any], sealer: Sealer | None
) -> None:
    """Put the chunked task runs of a document read back into it (``taskRuns``)."""
    count = doc.pop(CHUNKS_KEY, None)
    if count is None:
        return
    rows = conn.execute(_SELECT, {"b_id": execution_id}).scalars().all()
    if len(rows) != count:
        raise StoreError(
            f"execution '{execution_id}' has {len(rows)} chunks of task runs, expected {count}"
        )
    runs: list[Any] = []
    for text in rows:
        runs.extend(load_sealed(text, sealer))
    doc["taskRuns"] = runs


def delete_runs(conn: Connection, execution_id: str) -> None:
    conn.execute(_DELETE_ALL, {"b_id": execution_id})
