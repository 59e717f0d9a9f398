"""Claiming outbox events on PostgreSQL, one execution per transaction at a time: a claim takes
the events of the executions it can lock and leaves the others' to the transaction holding
them, without waiting (the transactions here are open at once, in one thread: a claim that
waited would hang the test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine

from perch.engine.events import Start
from perch.engine.ports import QueuedEvent
from perch.store import SqlStore, open_store
from perch.store.database import database_url

pytestmark = pytest.mark.postgres


def _events(*executions: str) -> list[QueuedEvent]:
    return [QueuedEvent(f"ev{n}", execution, Start()) for n, execution in enumerate(executions)]


@pytest.fixture
def pg_store(postgres_schema: tuple[str, str]) -> Iterator[SqlStore]:
    url, schema = postgres_schema
    store = open_store(url, schema=schema)
    yield store
    store.close()


@pytest.fixture
def two_stores() -> Iterator[tuple[SqlStore, SqlStore]]:
    """Stores on two fresh schemas of one database (two deployments side by side)."""
    url = os.environ["PERCH_TEST_POSTGRES_URL"]
    schemas = [f"perch_claim_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    stores = [open_store(url, schema=schema) for schema in schemas]
    yield stores[0], stores[1]
    for store in stores:
        store.close()
    engine = create_engine(database_url(url, None))
    with engine.begin() as connection:
        for schema in schemas:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


def test_a_claim_leaves_the_events_of_an_execution_another_transaction_holds(
    pg_store: SqlStore,
) -> None:
    store = pg_store
    with store.transaction() as tx:
        tx.add_events(_events("e1", "e2", "e1", "e3"))
    with store.transaction() as first:
        taken = first.claim_events(1)
        assert [e.id for e in taken] == ["ev0"]
        assert taken.left == 0
        with store.transaction() as second:
            # ev0 is still there for the second (the first has not committed); e1 is held.
            others = second.claim_events(10)
            assert [e.id for e in others] == ["ev1", "ev3"]
            assert others.left == 2
        with store.transaction() as third:
            # The second committed: only e1's events are left (ev0 until the first commits),
            # and e1 is still held.
            nothing = third.claim_events(10)
            assert list(nothing) == []
            assert nothing.left == 2
    with store.transaction() as tx:
        rest = tx.claim_events(10)
    assert [(e.id, e.execution_id) for e in rest] == [("ev2", "e1")]
    assert rest.left == 0


def test_a_rolled_back_claim_gives_back_its_events_and_its_executions(pg_store: SqlStore) -> None:
    store = pg_store
    with store.transaction() as tx:
        tx.add_events(_events("e1", "e2"))

    def die_after_claiming() -> None:
        with store.transaction() as tx:
            assert len(tx.claim_events(10)) == 2
            raise RuntimeError("the executor died here")

    with pytest.raises(RuntimeError):
        die_after_claiming()
    with store.transaction() as tx:
        again = tx.claim_events(10)
    assert [e.id for e in again] == ["ev0", "ev1"]


def test_the_lock_of_an_execution_is_scoped_to_the_schema(
    two_stores: tuple[SqlStore, SqlStore],
) -> None:
    one, other = two_stores
    for store in (one, other):
        with store.transaction() as tx:
            tx.add_events(_events("same-id"))
    with one.transaction() as first, other.transaction() as second:
        assert [e.id for e in first.claim_events(10)] == ["ev0"]
        taken = second.claim_events(10)
        assert [e.id for e in taken] == ["ev0"]
        assert taken.left == 0


def test_a_claim_looks_past_the_events_of_a_held_execution(pg_store: SqlStore) -> None:
    store = pg_store
    with store.transaction() as tx:
        tx.add_events(_events("busy", "busy", "busy", "free", "late"))
    with store.transaction() as first:
        assert [e.id for e in first.claim_events(1)] == ["ev0"]
        with store.transaction() as second:
            # Three of busy's events come first, free's is behind them; late's execution is
            # not even tried: the claim had its one event once it locked free.
            taken = second.claim_events(1)
            assert [(e.id, e.execution_id) for e in taken] == [("ev3", "free")]
            assert taken.left == 3
        with store.transaction() as third:
            assert [e.id for e in third.claim_events(10)] == ["ev4"]
    with store.transaction() as tx:
        assert [e.id for e in tx.claim_events(10)] == ["ev1", "ev2"]
