"""Benchmark: searching 1,000,000 audit records by execution id and by principal.

Run with ``python benchmarks/audit_search.py [RECORDS] [SEARCHES] [sqlite|postgres|both]``
(defaults 1,000,000, 300 and both). Target: p99 < 50 ms for each kind of search (floor 200 ms),
on a temporary SQLite file, and on PostgreSQL too when ``PERCH_TEST_POSTGRES_URL`` is set (in a
schema of its own, dropped afterwards; the table is vacuumed after the load, as autovacuum would).

The records are inserted straight into the ``audit`` table in batches (their hashes are filler:
this measures the search, not the chain): 90 % in tenant ``main``, the rest in ``other``; 100,000
executions of 10 records each; 1,000 users acting on them, plus Perch itself (``SYSTEM``) for one
record in five. Each search goes through :func:`perch.engine.auditlog.search_audit`, as the API
calls it: one page of 25, newest first, with the total count. The SYSTEM principal, with some
180,000 records of its own, is measured apart: its count reads that many index entries.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchsetup import bulk_insert
from engine_harness import percentile, summary, verdict
from sqlalchemy import create_engine

from perch.engine.auditlog import AuditQuery, search_audit
from perch.store import SqlStore, open_store
from perch.store.database import database_url
from perch.store.schema import audit

T0 = datetime(2025, 1, 1, tzinfo=UTC)
EXECUTIONS = 100_000
USERS = 1_000
BATCH = 10_000


def rows(count: int) -> Iterator[list[dict[str, Any]]]:
    """The records in batches, oldest first; each tenant's positions count from 1."""
    rng = random.Random(7)
    positions = {"main": 0, "other": 0}
    batch: list[dict[str, Any]] = []
    for n in range(count):
        execution = rng.randrange(EXECUTIONS)
        tenant = "other" if execution % 10 == 0 else "main"
        positions[tenant] += 1
        system = rng.random() < 0.2
        batch.append(
            {
                "at": T0 + timedelta(seconds=n),
                "execution_id": f"ex{execution:06d}",
                "action": "TIMER_FIRED" if system else rng.choice(("RESUME", "KILL", "CREATE")),
                "principal_name": "perch" if system else f"user{rng.randrange(USERS):04d}",
                "principal_kind": "SYSTEM" if system else "USER",
                "detail": f'{{"n":{n}}}',
                "prev_hash": "0" * 64,
                "hash": "0" * 64,
                "tenant": tenant,
                "position": positions[tenant],
                "resource_type": "EXECUTION",
                "resource_id": f"ex{execution:06d}",
                "namespace": f"company.team{execution % 50}",
                "channel": "SYSTEM" if system else "API",
                "outcome": "SUCCESS",
            }
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def measure(store: SqlStore, queries: list[AuditQuery]) -> tuple[list[float], int]:
    for query in queries[:10]:  # warm the page cache and the statement cache
        search_audit(store, query)
    times: list[float] = []
    found = 0
    for query in queries:
        start = time.perf_counter()
        page = search_audit(store, query)
        times.append(time.perf_counter() - start)
        found += len(page.results)
    return times, found


def run(name: str, store: SqlStore, count: int, searches: int) -> None:
    print(f"\n== {name}: {count:,} records")
    seconds = bulk_insert(store, audit, rows(count))
    print(f"inserted in {seconds:.1f} s ({count / seconds:,.0f} records/s)")
    rng = random.Random(11)
    by_execution = []
    for _ in range(searches):
        execution = rng.randrange(EXECUTIONS)
        tenant = "other" if execution % 10 == 0 else "main"
        by_execution.append(AuditQuery(tenant=tenant, execution_id=f"ex{execution:06d}"))
    by_principal = [
        AuditQuery(tenant="main", principal=f"user{rng.randrange(USERS):04d}")
        for _ in range(searches)
    ]
    system = [AuditQuery(tenant="main", principal="perch") for _ in range(max(20, searches // 10))]
    for label, queries in (
        ("by execution id", by_execution),
        ("by principal", by_principal),
        ("by principal SYSTEM (~180k records)", system),
    ):
        times, found = measure(store, queries)
        print(f"search {label}: {summary(times)} ({found / len(queries):.1f} results a page)")
        if "SYSTEM" not in label:
            p99 = percentile(times, 0.99) * 1000
            print("  " + verdict(f"p99 {label}", p99, 50.0, 200.0, lower_is_better=True))


@contextmanager
def postgres_store(url: str) -> Iterator[SqlStore]:
    schema = f"bench_audit_{uuid.uuid4().hex[:8]}"
    store = open_store(url, schema=schema)
    try:
        yield store
    finally:
        store.close()
        engine = create_engine(database_url(url, None))
        with engine.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        engine.dispose()


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    searches = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    backends = sys.argv[3] if len(sys.argv) > 3 else "both"
    if backends in ("both", "sqlite"):
        with tempfile.TemporaryDirectory() as folder:
            store = open_store(None, data_dir=Path(folder))
            try:
                run("SQLite", store, count, searches)
            finally:
                store.close()
    url = os.environ.get("PERCH_TEST_POSTGRES_URL")
    if url and backends in ("both", "postgres"):
        with postgres_store(url) as pg:
            run("PostgreSQL", pg, count, searches)


if __name__ == "__main__":
    main()
