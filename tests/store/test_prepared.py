"""The SQLite fast path of hot statements stores and reads exactly what SQLAlchemy does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from perch.store import SqlStore
from perch.store.prepared import Prepared
from perch.store.schema import jobs

_INSERT = Prepared(jobs.insert(), [c.name for c in jobs.c])
_BY_ID = Prepared(select(*jobs.c).where(jobs.c.id == "j1"))


def _row(job_id: str, created: datetime) -> dict[str, object]:
    return {
        "id": job_id,
        "execution_id": "e1",
        "task_run_id": "r1",
        "task_id": "t",
        "attempt": 1,
        "created": created,
        "worker_id": None,
        "lease_until": None,
        "worker_group": None,
        "task_type": "io.kestra.plugin.core.log.Log",
        "namespace": "company.team",
    }


def test_prepared_matches_sqlalchemy(store: SqlStore) -> None:
    created = datetime(2026, 1, 2, 5, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    with store.transaction() as tx:
        _INSERT.many(tx.connection, [_row("j1", created)])
        tx.connection.execute(jobs.insert(), _row("j2", created))
    with store.transaction(readonly=True) as tx:
        fast = _BY_ID.first(tx.connection, {})
        raw = {r.id: r.created for r in tx.connection.execute(select(jobs.c.id, jobs.c.created))}
        texts = sorted(tx.connection.exec_driver_sql("SELECT created FROM jobs").scalars())
    assert fast is not None
    assert fast[5] == created == raw["j1"] == raw["j2"]
    assert fast[5].tzinfo is not None
    assert fast[5].utcoffset() == timedelta(0)
    assert fast[5] == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert texts[0] == texts[1]  # the same stored text either way


def test_prepared_raises_sqlalchemy_errors(store: SqlStore) -> None:
    now = datetime.now(UTC)
    with pytest.raises(IntegrityError), store.transaction() as tx:
        _INSERT.many(tx.connection, [_row("j1", now), _row("j1", now)])
