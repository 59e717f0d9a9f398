"""The Alembic revisions build exactly the schema the metadata describes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from perch.store import SqlStore, open_store
from perch.store.database import database_url
from perch.store.migrate import head_revision
from perch.store.schema import metadata


def test_migrations_match_the_metadata(store: SqlStore) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        assert context.get_current_revision() == head_revision()
        tables = set(inspect(connection).get_table_names())
    assert tables == set(metadata.tables) | {"alembic_version"}


def test_opening_again_keeps_the_data(tmp_path: Path) -> None:
    from perch.engine.ports import StoredFlow

    first = open_store(data_dir=tmp_path)
    with first.transaction() as tx:
        tx.save_flow(StoredFlow("main", "n", "f", 0, "id: f\n"))
    first.close()
    second = open_store(data_dir=tmp_path)
    with second.transaction(readonly=True) as tx:
        stored = tx.get_flow("main", "n", "f")
    second.close()
    assert stored is not None
    assert stored.source == "id: f\n"
    assert (tmp_path / "perch.db").exists()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    store = open_store(data_dir=tmp_path)
    with store.transaction(readonly=True) as tx:
        pragma = tx.connection.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert pragma("PRAGMA busy_timeout").scalar() == 5000
        assert pragma("PRAGMA foreign_keys").scalar() == 1
    store.close()


def test_urls_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="in-memory"):
        open_store("sqlite://")
    with pytest.raises(ValueError, match="unsupported database"):
        open_store("mysql://u:p@localhost/db")
    with pytest.raises(ValueError, match="PostgreSQL option"):
        open_store(f"sqlite:///{tmp_path / 'x.db'}", schema="s")
    assert database_url("postgresql://u:p@h/db", None) == "postgresql+psycopg://u:p@h/db"
    assert database_url(None, tmp_path / "d").endswith("/d/perch.db")
    explicit = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    assert explicit.dialect == "sqlite"
    explicit.close()


def test_processes_opening_a_new_database_at_once_migrate_it_once(
    request: pytest.FixtureRequest, tmp_path: Path, store_kind: str
) -> None:
    if store_kind == "sqlite":
        args = f"None, data_dir=Path({str(tmp_path)!r})"
    else:
        url, schema = request.getfixturevalue("postgres_schema")
        args = f"{url!r}, schema={schema!r}"
    # Every process imports first, then all open at the same instant so the migrations race.
    start_at = time.time() + 4
    script = (
        "import time\n"
        "from pathlib import Path\n"
        "from perch.store import open_store\n"
        f"time.sleep(max(0.0, {start_at} - time.time()))\n"
        f"store = open_store({args})\n"
        "with store.transaction() as tx:\n"
        "    assert tx.get_execution('x') is None\n"
        "store.close()\n"
    )
    processes = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(3)]
    assert [p.wait(timeout=60) for p in processes] == [0, 0, 0]
