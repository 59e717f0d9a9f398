"""Savepoints of a transaction (what a bulk action puts around each execution), on SQLite and
PostgreSQL: a block that raises leaves nothing it wrote, audit records included, and the rest
of the transaction commits; on PostgreSQL a failed statement inside the block does not spoil
the transaction. A buffered SQLite unit drops the writes it kept, and, when it had to start
writing inside the block, rolls back to a savepoint of the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from perch.engine.buffered import BufferedTransaction, record_outcome
from perch.engine.effects import Audit, ScheduleTimer
from perch.engine.principal import Principal
from perch.engine.written import unit
from perch.errors import ConcurrentUpdate
from perch.store import SqlStore, open_store
from tests.store.samples import T0, make_execution

ALICE = Principal("alice")


class Boom(Exception):
    pass


def _timer(name: str) -> list[ScheduleTimer]:
    return [ScheduleTimer(name, T0, "SLEEP_DONE", f"run-{name}")]


def _count(store: SqlStore, sql: str) -> int:
    with store.transaction() as tx:
        return int(tx.connection.execute(text(sql)).scalar_one())


def _timer_owners(store: SqlStore) -> set[str]:
    with store.transaction() as tx:
        rows = tx.connection.execute(text("SELECT execution_id FROM timers"))
        return {str(row[0]) for row in rows}


def test_a_savepoint_that_raises_undoes_only_its_own_writes(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.add_timers("kept-before", _timer("t1"))
        tx.add_audit("kept-before", Audit("RESUME", ALICE, {}, tenant="main"), T0)

        def dropped() -> None:
            with tx.savepoint():
                tx.add_timers("dropped", _timer("t2"))
                tx.add_audit("dropped", Audit("RESUME", ALICE, {}, tenant="main"), T0)
                raise Boom

        with pytest.raises(Boom):
            dropped()
        with tx.savepoint():
            tx.add_timers("kept-after", _timer("t3"))
            tx.add_audit("kept-after", Audit("RESUME", ALICE, {}, tenant="main"), T0)

    assert _timer_owners(store) == {"kept-before", "kept-after"}
    audited = "SELECT count(*) FROM audit WHERE action = 'RESUME'"
    assert _count(store, audited) == 2
    assert _count(store, f"{audited} AND execution_id = 'dropped'") == 0
    assert store.verify_audit_chain().ok


def test_a_failed_statement_in_a_savepoint_leaves_the_transaction_usable(
    store: SqlStore,
) -> None:
    with store.transaction() as tx:
        tx.insert_execution(make_execution("e1"))
    with store.transaction() as tx:
        with pytest.raises(ConcurrentUpdate), tx.savepoint():
            tx.insert_execution(make_execution("e1"))  # already there: the INSERT fails
        with tx.savepoint():
            tx.insert_execution(make_execution("e2"))
        tx.add_timers("e2", _timer("t1"))

    assert _count(store, "SELECT count(*) FROM executions") == 2
    assert _timer_owners(store) == {"e2"}


def test_a_savepoint_that_only_reads_changes_nothing(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.insert_execution(make_execution("e1"))
    with store.transaction() as tx:

        def reads() -> None:
            with tx.savepoint():
                assert tx.get_executions(["e1", "missing"], for_update=True).keys() == {"e1"}
                raise Boom

        with pytest.raises(Boom):
            reads()
        with tx.savepoint():
            assert tx.get_execution("e1") is not None
        tx.add_timers("e1", _timer("t1"))

    assert _timer_owners(store) == {"e1"}


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    record_outcome(conflicted=False)
    opened = open_store(data_dir=tmp_path / "data")
    yield opened
    opened.close()


def test_a_buffered_unit_drops_the_writes_kept_in_a_failed_savepoint(
    sqlite_store: SqlStore,
) -> None:
    with unit(sqlite_store) as (tx, _written):
        assert isinstance(tx, BufferedTransaction)
        assert not tx.direct
        tx.add_timers("kept", _timer("t1"))

        def dropped() -> None:
            with tx.savepoint():
                tx.add_timers("dropped", _timer("t2"))
                raise Boom

        with pytest.raises(Boom):
            dropped()
        with tx.savepoint():
            tx.add_timers("kept-too", _timer("t3"))
        assert not tx.direct

    assert _timer_owners(sqlite_store) == {"kept", "kept-too"}


def test_a_buffered_unit_that_starts_writing_inside_a_savepoint_rolls_back_to_it(
    sqlite_store: SqlStore,
) -> None:
    with unit(sqlite_store) as (tx, _written):
        tx.add_timers("kept", _timer("t1"))

        def writes() -> None:
            with tx.savepoint():
                tx.add_timers("dropped", _timer("t2"))
                tx.insert_execution(make_execution("e1"))  # takes the write lock now
                assert isinstance(tx, BufferedTransaction)
                assert tx.direct
                raise Boom

        with pytest.raises(Boom):
            writes()
        with tx.savepoint():
            tx.insert_execution(make_execution("e2"))

    assert _timer_owners(sqlite_store) == {"kept"}
    with sqlite_store.transaction() as check:
        assert check.get_execution("e1") is None
        assert check.get_execution("e2") is not None
