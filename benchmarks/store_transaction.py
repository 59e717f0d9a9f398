"""Time the store's hot path: one transition's transaction, and bulk creation.

Run with ``python benchmarks/store_transaction.py [postgresql://...]`` (SQLite in a temporary
folder by default; on PostgreSQL a temporary schema, dropped at the end). Figures:

1. ``get_execution`` + ``update_execution`` + ``add_jobs`` (one job) + ``delete_job`` in one
   write transaction, on an execution of 40 finished task runs (the shape of benchmark 1, the
   40 sequential Log tasks, near its end) — the per-transition store cost.
2. ``insert_execution`` + ``add_jobs`` per execution, 100 per transaction and 1 per transaction:
   the store's share of "start 10,000 executions".
3. The codec alone: encode + decode of the 40-task-run execution.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from perch.engine.ids import new_id
from perch.engine.model import Attempt, Execution, Label, TaskRun
from perch.engine.ports import Job
from perch.engine.states import State, StateType
from perch.store import SqlStore, open_store
from perch.store.codec import decode_execution, encode_execution

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def execution_with_runs(count: int) -> Execution:
    runs = []
    for n in range(count):
        at = T0 + timedelta(milliseconds=n)
        state = (
            State.new(at)
            .with_state(StateType.RUNNING, at)
            .with_state(StateType.SUCCESS, at + timedelta(microseconds=500))
        )
        runs.append(
            TaskRun(
                id=new_id(),
                task_id=f"log_{n}",
                state=state,
                attempts=(Attempt(state, "worker-1"),),
                outputs={},
            )
        )
    return Execution(
        id=new_id(),
        namespace="company.team",
        flow_id="forty_logs",
        flow_revision=1,
        state=State.new(T0).with_state(StateType.RUNNING, T0),
        task_runs=tuple(runs),
        labels=(Label("system.username", "bench"), Label("system.correlationId", "x")),
    )


def per_transition(store: SqlStore, rounds: int) -> list[float]:
    execution = execution_with_runs(40)
    with store.transaction() as tx:
        tx.insert_execution(execution)
    timings = []
    for n in range(rounds):
        start = time.perf_counter()
        with store.transaction() as tx:
            current = tx.get_execution(execution.id)
            assert current is not None
            tx.update_execution(replace(current, metadata={"n": n}))
            job_id = new_id()
            tx.add_jobs([Job(job_id, execution.id, new_id(), "log", 1, T0)])
            tx.delete_job(job_id)
        timings.append(time.perf_counter() - start)
    return timings


def creations(store: SqlStore, total: int, batch: int) -> float:
    start = time.perf_counter()
    for _ in range(total // batch):
        with store.transaction() as tx:
            for _ in range(batch):
                execution = replace(execution_with_runs(0), id=new_id())
                tx.insert_execution(execution)
                tx.add_jobs([Job(new_id(), execution.id, new_id(), "first", 1, T0)])
    return total / (time.perf_counter() - start) * 60


def codec(rounds: int) -> float:
    execution = execution_with_runs(40)
    start = time.perf_counter()
    for _ in range(rounds):
        decode_execution(encode_execution(execution), 0)
    return (time.perf_counter() - start) / rounds


def main() -> None:
    url = sys.argv[1] if len(sys.argv) > 1 else None
    with tempfile.TemporaryDirectory() as folder:
        schema = f"perch_bench_{new_id().lower()}" if url else None
        store = open_store(url, data_dir=Path(folder), schema=schema)
        print(f"backend: {store.dialect}")
        timings = sorted(per_transition(store, 2000))
        p50 = statistics.median(timings) * 1000
        p99 = timings[int(len(timings) * 0.99)] * 1000
        mean = statistics.fmean(timings) * 1000
        print("get+update+add_jobs+delete_job transaction (40 task runs):")
        print(f"  p50 {p50:.3f} ms, p99 {p99:.3f} ms, mean {mean:.3f} ms")
        print(
            "create (insert + 1 job), 100 per transaction: "
            f"{creations(store, 10_000, 100):,.0f}/min"
        )
        print(
            f"create (insert + 1 job), 1 per transaction:   {creations(store, 3_000, 1):,.0f}/min"
        )
        print(f"codec encode+decode, 40 task runs: {codec(2000) * 1e6:.0f} µs")
        if schema is not None:
            with store.transaction() as tx:
                tx.connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        store.close()


if __name__ == "__main__":
    main()
