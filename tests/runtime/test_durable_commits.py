"""Acknowledged decisions and creates are committed with SQLite's ``synchronous=FULL`` (they
must survive a power loss); the engine's own steps keep ``NORMAL``. Observed on the real store:
each SQLite write transaction's ``PRAGMA synchronous`` as it begins, tagged by the thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection
from tests.runtime.conftest import ALICE, deploy, settled, wait_until

from perch.engine import service
from perch.engine.durability import durable
from perch.engine.model import DEFAULT_TENANT
from perch.server import LocalRuntime
from perch.store import open_store
from perch.store.sqlstore import SqlStore

FULL, NORMAL = 2, 1

GATE = """\
id: gate
namespace: company.team
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: waiting
  - id: approve
    type: io.kestra.plugin.core.flow.Pause
  - id: cool_down
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT0.1S
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: approved
"""


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    store = open_store(None, data_dir=tmp_path / "data")
    assert isinstance(store, SqlStore)
    yield store
    store.close()


def _synchronous(store: SqlStore) -> int:
    with store.transaction() as tx:
        return int(tx.connection.exec_driver_sql("PRAGMA synchronous").scalar_one())


def test_a_durable_block_commits_with_full_and_the_connection_goes_back_to_normal(
    sqlite_store: SqlStore,
) -> None:
    assert _synchronous(sqlite_store) == NORMAL
    with durable():
        assert _synchronous(sqlite_store) == FULL
    assert _synchronous(sqlite_store) == NORMAL


def test_creates_and_resumes_commit_full_while_engine_steps_stay_normal(
    sqlite_store: SqlStore,
) -> None:
    seen: list[tuple[str, int]] = []
    lock = threading.Lock()

    def record(connection: Connection) -> None:
        value = connection.exec_driver_sql("PRAGMA synchronous").scalar_one()
        with lock:
            seen.append((threading.current_thread().name, int(value)))

    event.listen(sqlite_store.engine, "begin", record)  # after the store's own BEGIN
    deploy(sqlite_store, GATE)
    runtime = LocalRuntime(sqlite_store, workers=1)
    runtime.start()
    try:
        caller = threading.current_thread().name
        seen.clear()
        created = service.create_execution(
            sqlite_store, DEFAULT_TENANT, "company.team", "gate", {}, ALICE
        )
        create_syncs = {value for thread, value in seen if thread == caller}
        wait_until(sqlite_store, created.id, settled)
        seen.clear()
        service.resume(sqlite_store, created.id, {}, ALICE)
        resume_syncs = {value for thread, value in seen if thread == caller}
        done = wait_until(sqlite_store, created.id, lambda e: e.state.current.is_terminated)
        assert done.state.current.value == "SUCCESS"
    finally:
        runtime.stop()
        event.remove(sqlite_store.engine, "begin", record)
    assert FULL in create_syncs
    assert FULL in resume_syncs
    engine_syncs = {value for thread, value in seen if thread != caller}
    assert engine_syncs == {NORMAL}, seen  # the timer's step after the resume
