"""Shared set-up of the engine benchmarks: a SQLite data folder in a temporary directory (or a
temporary schema of a PostgreSQL database, dropped at the end) and the loops of ``perch server
local`` (executor, scheduler, workers) running in this process.

Not a benchmark itself; the ``engine_*.py`` scripts import it.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from perch.engine import new_execution, service
from perch.engine.executor import context_for, reading, start_in, unit
from perch.engine.ids import new_id
from perch.engine.model import Execution
from perch.engine.ports import ExecutionQuery, Store
from perch.engine.principal import Principal
from perch.engine.states import StateType
from perch.server import LocalRuntime
from perch.store import open_store

BENCH = Principal("bench")


@dataclass
class Bench:
    store: Store
    runtime: LocalRuntime | None
    data_dir: Path
    schema: str | None = None
    """The PostgreSQL schema of the store (None on SQLite)."""


@contextmanager
def bench(
    *,
    workers: int = 4,
    run: bool = True,
    batch: int | None = None,
    database_url: str | None = None,
) -> Iterator[Bench]:
    """A fresh SQLite store in a temporary folder (or, with ``database_url``, a fresh schema of
    that PostgreSQL database, dropped at the end), with the loops running when ``run``."""
    with tempfile.TemporaryDirectory(prefix="perch-bench-") as folder:
        data_dir = Path(folder) / "data"
        schema = f"perch_bench_{new_id().lower()}" if database_url else None
        store = open_store(database_url, data_dir=data_dir, schema=schema)
        if batch is None:
            batch = int(os.environ.get("PERCH_BENCH_BATCH", "8"))
        runtime = LocalRuntime(store, workers=workers, batch=batch) if run else None
        if runtime is not None:
            runtime.start()
        try:
            yield Bench(store, runtime, data_dir, schema)
        finally:
            if runtime is not None:
                runtime.stop()
            if schema is not None:
                with store.transaction() as tx:
                    tx.connection.exec_driver_sql(  # type: ignore[attr-defined]
                        f'DROP SCHEMA "{schema}" CASCADE'
                    )
            store.close()  # type: ignore[attr-defined]


def deploy(store: Store, source: str) -> None:
    service.deploy_flow(store, source, BENCH)


def create_many(store: Store, namespace: str, flow_id: str, count: int, batch: int = 500) -> None:
    """Create and start ``count`` executions, ``batch`` per transaction (fast set-up)."""
    stored, flow = service.get_flow(store, namespace, flow_id)
    ctx = context_for(store)
    done = 0
    while done < count:
        size = min(batch, count - done)
        with unit(store) as (tx, written):
            for _ in range(size):
                execution = new_execution(
                    flow, revision=stored.revision, inputs={}, now=ctx.clock.now(), principal=BENCH
                )
                tx.insert_execution(execution)
                start_in(tx, ctx, execution, written)
        ctx.after_commit(written)
        done += size


def count_in(store: Store, *states: StateType) -> int:
    return service.search_executions(store, ExecutionQuery(states=states, size=1)).total


def wait_count(
    store: Store, states: tuple[StateType, ...], expected: int, timeout: float = 600.0
) -> float:
    """Wait until ``expected`` executions are in ``states``; the seconds it took."""
    start = time.perf_counter()
    while count_in(store, *states) < expected:
        if time.perf_counter() - start > timeout:
            raise TimeoutError(f"only {count_in(store, *states)} of {expected} in {states}")
        time.sleep(0.05)
    return time.perf_counter() - start


def all_executions(store: Store) -> Iterator[Execution]:
    page = 1
    while True:
        with reading(store) as tx:
            found = tx.search_executions(ExecutionQuery(page=page, size=1000, sort_desc=False))
        yield from found.results
        if len(found.results) < 1000:
            return
        page += 1


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    return (
        f"p50 {percentile(values, 0.5) * scale:.1f} {unit}, "
        f"p99 {percentile(values, 0.99) * scale:.1f} {unit}, "
        f"mean {statistics.fmean(values) * scale:.1f} {unit}"
    )


def verdict(name: str, value: float, target: float, floor: float, *, lower_is_better: bool) -> str:
    def ok(limit: float) -> bool:
        return value < limit if lower_is_better else value >= limit

    if ok(target):
        return f"{name}: meets the target"
    if ok(floor):
        return f"{name}: misses the target, meets the floor"
    return f"{name}: MISSES THE FLOOR"


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start
