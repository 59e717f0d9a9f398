"""PostgreSQL advisory locks (the audit chain's head, a flow's concurrency slots) belong to the
whole database: Perch scopes them to its schema, so Perch deployments in other schemas of one
database never wait for each other, nor become the victim of a deadlock among another one's
transactions. Within one schema they still serialize."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from perch.engine.effects import Audit
from perch.engine.principal import Principal, PrincipalKind
from perch.store import SqlStore, open_store
from perch.store.database import database_url
from tests.store.samples import T0

pytestmark = pytest.mark.postgres

ANA = Principal("ana", PrincipalKind.USER)


@pytest.fixture
def schemas() -> Iterator[tuple[str, str, str]]:
    url = os.environ["PERCH_TEST_POSTGRES_URL"]
    names = (f"perch_lock_{uuid.uuid4().hex[:10]}", f"perch_lock_{uuid.uuid4().hex[:10]}")
    yield url, *names
    engine = create_engine(database_url(url, None))
    with engine.begin() as connection:
        for name in names:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    engine.dispose()


def audit_briefly(store: SqlStore, n: int) -> None:
    """Write an audit record, waiting at most a second for the chain's lock."""
    with store.transaction() as tx:
        tx.connection.exec_driver_sql("SET LOCAL lock_timeout = '1s'")
        tx.add_audit(None, Audit("FLOW_CREATED", ANA, {"n": n}), T0)


def test_audit_locks_of_other_schemas_do_not_block(schemas: tuple[str, str, str]) -> None:
    url, first, second = schemas
    stores = [open_store(url, schema=first), open_store(url, schema=second)]
    same = open_store(url, schema=first)
    try:
        with stores[0].transaction() as holding:
            holding.add_audit(None, Audit("FLOW_CREATED", ANA, {"n": 0}), T0)
            holding.write_audit()  # what the commit does first: chains it, taking the lock
            # The first schema's chain is locked until this transaction ends.
            audit_briefly(stores[1], 1)
            with pytest.raises(OperationalError, match="lock timeout"):
                audit_briefly(same, 2)
    finally:
        for store in [*stores, same]:
            store.close()
