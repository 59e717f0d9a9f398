"""Fixtures of the store contract suite: every test runs against SQLite and PostgreSQL.

Each PostgreSQL test gets a schema of its own, named with a random suffix and dropped afterwards,
so parallel workers and other suites sharing the server never see each other's rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from perch.store import SqlStore, open_store
from perch.store.database import database_url


@pytest.fixture
def postgres_schema() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL schema: ``(url, schema)``; dropped after the test."""
    url = os.environ["PERCH_TEST_POSTGRES_URL"]
    schema = f"perch_store_{uuid.uuid4().hex[:12]}"
    yield url, schema
    engine = create_engine(database_url(url, None))
    with engine.begin() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_kind(request: pytest.FixtureRequest) -> str:
    """Each backend: "sqlite" or "postgres"."""
    kind: str = request.param
    return kind


@pytest.fixture
def open_same(
    request: pytest.FixtureRequest, tmp_path: Path, store_kind: str
) -> Iterator[Callable[[], SqlStore]]:
    """Opens stores on one empty database of each backend (as separate processes would)."""
    opened: list[SqlStore] = []

    def open_one() -> SqlStore:
        if store_kind == "sqlite":
            one = open_store(data_dir=tmp_path / "data")
        else:
            url, schema = request.getfixturevalue("postgres_schema")
            one = open_store(url, schema=schema)
        opened.append(one)
        return one

    yield open_one
    for one in opened:
        one.close()


@pytest.fixture
def store(open_same: Callable[[], SqlStore]) -> SqlStore:
    """An empty, migrated store on each backend."""
    return open_same()
