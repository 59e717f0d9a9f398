"""Benchmark 1: one execution of 40 sequential Log tasks -> per-task overhead.

Run with ``python benchmarks/engine_sequential.py``. Target < 5 ms per task, floor < 20 ms.
The figure is the execution's duration (CREATED to SUCCESS, from its state history) divided by
the number of tasks; a warm-up execution runs first, then the median of several is reported.
"""

from __future__ import annotations

import statistics
import time

from engine_harness import BENCH, bench, deploy, verdict

from perch.engine import service
from perch.engine.model import DEFAULT_TENANT
from perch.engine.states import StateType

TASKS = 40
RUNS = 7


def flow_source() -> str:
    steps = "\n".join(
        f"  - id: log{i}\n    type: io.kestra.plugin.core.log.Log\n    message: step {i}"
        for i in range(TASKS)
    )
    return f"id: sequential\nnamespace: bench\ntasks:\n{steps}\n"


def main() -> None:
    with bench() as b:
        deploy(b.store, flow_source())
        per_task: list[float] = []
        for index in range(RUNS + 1):
            execution = service.create_execution(
                b.store, DEFAULT_TENANT, "bench", "sequential", {}, BENCH
            )
            while True:
                current = service.get_execution(b.store, execution.id)
                if current.state.current.is_terminated:
                    break
                time.sleep(0.01)
            assert current.state.current is StateType.SUCCESS, current.state.current
            assert len(current.task_runs) == TASKS
            if index:  # the first one warms caches up
                per_task.append(current.state.duration.total_seconds() / TASKS)
    median = statistics.median(per_task) * 1000
    print(f"40 sequential Log tasks: {median:.2f} ms per task (median of {RUNS} executions;")
    print(f"  all: {', '.join(f'{v * 1000:.2f}' for v in per_task)} ms)")
    print(verdict("per-task overhead", median, 5.0, 20.0, lower_is_better=True))


if __name__ == "__main__":
    main()
