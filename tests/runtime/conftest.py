"""Fixtures for the runtime tests: a real store (SQLite, or PostgreSQL when marked) and the real
executor, scheduler and worker threads of ``perch server local``, in this process."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from perch.engine import service
from perch.engine.model import Execution
from perch.engine.ports import Store
from perch.engine.principal import Principal
from perch.server import LocalRuntime

ALICE = Principal("alice")
BOB = Principal("bob")


def _sqlite(tmp_path: Path) -> Store:
    from perch.store import open_store

    return open_store(None, data_dir=tmp_path / "data")


def _postgres() -> Store:
    from perch.store import open_store

    url = os.environ["PERCH_TEST_POSTGRES_URL"]
    return open_store(url, schema=f"rt_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = _sqlite(tmp_path) if request.param == "sqlite" else _postgres()
    yield opened
    opened.close()  # type: ignore[attr-defined]


@pytest.fixture
def runtime(store: Store) -> Iterator[LocalRuntime]:
    running = LocalRuntime(store, workers=2)
    running.start()
    yield running
    running.stop()


def deploy(store: Store, source: str) -> None:
    service.deploy_flow(store, source, ALICE)


def wait_until(
    store: Store,
    execution_id: str,
    predicate: Callable[[Execution], bool],
    timeout: float = 10.0,
) -> Execution:
    """Poll the execution until ``predicate`` holds (tests only: the product never polls)."""
    deadline = time.monotonic() + timeout
    while True:
        execution = service.get_execution(store, execution_id)
        if predicate(execution):
            return execution
        if time.monotonic() > deadline:
            runs = [(r.task_id, r.state.current.value) for r in execution.task_runs]
            raise AssertionError(
                f"timed out: execution {execution.state.current.value}, task runs {runs}"
            )
        time.sleep(0.02)


def settled(execution: Execution) -> bool:
    state = execution.state.current
    return state.is_paused or state.is_terminated


def ended(execution: Execution) -> bool:
    return execution.state.current.is_terminated


def task_ids(execution: Execution) -> list[str]:
    return [run.task_id for run in execution.task_runs]
