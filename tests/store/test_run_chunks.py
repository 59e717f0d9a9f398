"""The task runs of a large execution live in chunks beside its document (store/runchunks.py):
a write rewrites only the chunks that changed, and a reader without any cache gets back
exactly what was written. On both databases."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import event, func, select

from perch.engine.model import Execution, TaskRun
from perch.engine.states import State, StateType
from perch.errors import StoreError
from perch.store import SqlStore
from perch.store.runchunks import CHUNK
from perch.store.schema import execution_runs
from tests.store.samples import T0, make_execution


def _runs(count: int, start: int = 0) -> tuple[TaskRun, ...]:
    return tuple(
        TaskRun(
            id=f"run{n:05}",
            task_id="log",
            state=State.new(T0),
            value=str(n),
            outputs={"n": n},
        )
        for n in range(start, start + count)
    )


def _chunk_rows(store: SqlStore, execution_id: str) -> int:
    with store.transaction(readonly=True) as tx:
        return int(
            tx.connection.execute(
                select(func.count()).where(execution_runs.c.execution_id == execution_id)
            ).scalar_one()
        )


@contextmanager
def _chunks_written(store: SqlStore) -> Iterator[list[int]]:
    """Counts the chunk rows each INSERT into execution_runs writes."""
    written: list[int] = []

    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO EXECUTION_RUNS"):
            written.append(len(params) if many else 1)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        yield written
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)


def test_a_large_execution_round_trips_through_its_chunks(
    store: SqlStore, open_same: Callable[[], SqlStore]
) -> None:
    execution = replace(make_execution("big"), task_runs=_runs(3 * CHUNK + 5))
    with store.transaction() as tx:
        tx.insert_execution(execution)
    assert _chunk_rows(store, "big") == 4
    fresh = open_same()  # another process: nothing cached
    fresh.cache.clear()
    with fresh.transaction() as tx:
        read = tx.get_execution("big")
    assert read == execution


def test_a_write_rewrites_only_the_chunks_that_changed(
    store: SqlStore, open_same: Callable[[], SqlStore]
) -> None:
    execution = replace(make_execution("big"), task_runs=_runs(2 * CHUNK + 10))
    with store.transaction() as tx:
        tx.insert_execution(execution)
    with store.transaction() as tx:
        current = tx.get_execution("big", for_update=True)
    assert current is not None
    runs = list(current.task_runs)
    runs[-1] = runs[-1].with_state(StateType.RUNNING, T0)  # the last chunk changes
    changed = replace(current, task_runs=(*runs, *_runs(1, start=9000)))
    with _chunks_written(store) as written, store.transaction() as tx:
        saved = tx.update_execution(changed)
    assert written == [1]
    # A change in the first chunk, written twice in one transaction: one chunk each time.
    first = list(saved.task_runs)
    first[0] = first[0].with_state(StateType.RUNNING, T0)
    with _chunks_written(store) as written, store.transaction() as tx:
        again = tx.update_execution(replace(saved, task_runs=tuple(first)))
        first[1] = first[1].with_state(StateType.RUNNING, T0)
        again = tx.update_execution(replace(again, task_runs=tuple(first)))
    assert written == [1, 1]
    fresh = open_same()
    fresh.cache.clear()
    with fresh.transaction() as tx:
        assert tx.get_execution("big") == again


def test_shrinking_and_deleting_leave_no_chunk_behind(store: SqlStore) -> None:
    execution = replace(make_execution("big"), task_runs=_runs(3 * CHUNK))
    with store.transaction() as tx:
        tx.insert_execution(execution)
    with store.transaction() as tx:
        saved = tx.update_execution(replace(execution, task_runs=execution.task_runs[: CHUNK + 1]))
    assert _chunk_rows(store, "big") == 2
    store.cache.clear()
    with store.transaction() as tx:
        assert tx.get_execution("big") == saved
        small = tx.update_execution(replace(saved, task_runs=saved.task_runs[:3]))
    assert _chunk_rows(store, "big") == 0
    with store.transaction() as tx:
        assert tx.get_execution("big") == small
        grown = tx.update_execution(replace(small, task_runs=_runs(CHUNK + 2)))
    assert _chunk_rows(store, "big") == 2
    store.cache.clear()
    with store.transaction() as tx:
        assert tx.get_execution("big") == grown
        assert tx.delete_execution("big")
    assert _chunk_rows(store, "big") == 0


def test_a_missing_chunk_is_a_clear_error(store: SqlStore) -> None:
    execution: Execution = replace(make_execution("big"), task_runs=_runs(CHUNK + 1))
    with store.transaction() as tx:
        tx.insert_execution(execution)
        tx.connection.execute(
            execution_runs.delete().where(
                execution_runs.c.execution_id == "big", execution_runs.c.chunk == 1
            )
        )
    store.cache.clear()
    with (
        pytest.raises(StoreError, match="1 chunks of task runs, expected 2"),
        store.transaction() as tx,
    ):
        tx.get_execution("big")


def test_large_metadata_is_written_again_when_replaced(store: SqlStore) -> None:
    values = {"run1": [str(n) for n in range(500)]}
    execution = replace(make_execution("meta"), metadata={"forEachValues": values})
    with store.transaction() as tx:
        tx.insert_execution(execution)
        saved = tx.update_execution(execution)  # the same object: its text is reused
        changed = {"run1": [*values["run1"], "one more"]}
        saved = tx.update_execution(replace(saved, metadata={"forEachValues": changed}))
    store.cache.clear()
    with store.transaction() as tx:
        read = tx.get_execution("meta")
    assert read is not None
    assert read.metadata == {"forEachValues": changed}
