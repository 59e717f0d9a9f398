"""Benchmark 1: one execution of 40 sequential Log tasks -> per-task overhead.

Run with ``python benchmarks/engine_sequential.py [--inline-only]``. Target < 5 ms per task,
floor < 20 ms. The figure is the execution's duration (CREATED to SUCCESS, from its state
history) divided by the number of tasks; a warm-up execution runs first, then the median of
several is reported.

Two figures: the **inline** path (plain Log messages, which the engine renders inside the
transaction that dispatches them) and the **worker** path beside it (each message also calls
``range()``, so each task is a job that a worker thread claims, starts and reports in
transactions of its own, as every task doing I/O is).
"""

from __future__ import annotations

import os
import statistics
import sys
import time

from engine_harness import BENCH, Bench, bench, deploy, verdict

from perch.engine import service
from perch.engine.model import DEFAULT_TENANT
from perch.engine.states import StateType

TASKS = 40
RUNS = 7


def flow_source(flow_id: str, *, worker: bool) -> str:
    heavy = " {{ range(1, 2) | length }}" if worker else ""
    steps = "\n".join(
        f'  - id: log{i}\n    type: io.kestra.plugin.core.log.Log\n    message: "step {i}{heavy}"'
        for i in range(TASKS)
    )
    return f"id: {flow_id}\nnamespace: bench\ntasks:\n{steps}\n"


def per_task(b: Bench, flow_id: str) -> tuple[list[float], float]:
    """Seconds per task of each measured execution (after one warm-up execution), and this
    process's CPU seconds per task over them (all threads: robust to other processes' load)."""
    found: list[float] = []
    cpu = 0.0
    for index in range(RUNS + 1):
        if index == 1:
            cpu = time.process_time()
        execution = service.create_execution(b.store, DEFAULT_TENANT, "bench", flow_id, {}, BENCH)
        while True:
            current = service.get_execution(b.store, execution.id)
            if current.state.current.is_terminated:
                break
            time.sleep(0.01)
        assert current.state.current is StateType.SUCCESS, current.state.current
        assert len(current.task_runs) == TASKS
        if index:  # the first one warms caches up
            found.append(current.state.duration.total_seconds() / TASKS)
    return found, (time.process_time() - cpu) / (RUNS * TASKS)


def main() -> None:
    paths = ("inline",) if "--inline-only" in sys.argv else ("inline", "worker")
    with bench() as b:
        results = {}
        for path in paths:
            flow_id = f"sequential_{path}"
            deploy(b.store, flow_source(flow_id, worker=path == "worker"))
            results[path] = per_task(b, flow_id)
    print(f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for path, (values, cpu) in results.items():
        median = statistics.median(values) * 1000
        print(
            f"{TASKS} sequential Log tasks, {path} path: {median:.2f} ms per task "
            f"(median of {RUNS} executions; all: {', '.join(f'{v * 1000:.2f}' for v in values)} ms)"
        )
        print(f"  CPU of this process: {cpu * 1000:.2f} ms per task (polling included)")
        print(verdict(f"per-task overhead ({path})", median, 5.0, 20.0, lower_is_better=True))


if __name__ == "__main__":
    main()
