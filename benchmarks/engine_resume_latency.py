"""Benchmark 4: resume latency, from the service call to the next task RUNNING.

Run with ``python benchmarks/engine_resume_latency.py [COUNT]``. Target p50 < 10 ms and
p99 < 25 ms, floor p50 < 50 ms. COUNT executions wait at a Pause; each is resumed in turn
through ``service.resume`` (validation included) while the loops idle, and the latency is the
time between the call and the moment the task after the Pause entered RUNNING (from its state
history, written by the worker with the same clock).
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

from engine_harness import BENCH, bench, create_many, deploy, summary, verdict, wait_count

from perch.engine import service
from perch.engine.ports import ExecutionQuery
from perch.engine.states import StateType

FLOW = """\
id: latency
namespace: bench
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: decision
        type: SELECT
        values: [APPROVE, REJECT]
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.wait.onResume.decision }}"
"""


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with bench() as b:
        deploy(b.store, FLOW)
        create_many(b.store, "bench", "latency", count)
        wait_count(b.store, (StateType.PAUSED,), count)
        ids = service.matching_ids(b.store, ExecutionQuery(states=(StateType.PAUSED,)))
        latencies: list[float] = []
        calls: list[float] = []
        for execution_id in ids:
            called = datetime.now(UTC)
            start = time.perf_counter()
            service.resume(b.store, execution_id, {"decision": "APPROVE"}, BENCH)
            calls.append(time.perf_counter() - start)
            while True:
                execution = service.get_execution(b.store, execution_id)
                if execution.state.current.is_terminated:
                    break
                time.sleep(0.002)
            after = execution.task_runs[-1]
            running = next(h.date for h in after.state.histories if h.state is StateType.RUNNING)
            latencies.append((running - called).total_seconds())
    print(f"{count} resumes, one at a time")
    print(f"service.resume call: {summary(calls)}")
    print(f"call -> next task RUNNING: {summary(latencies)}")
    p50 = sorted(latencies)[len(latencies) // 2] * 1000
    p99 = sorted(latencies)[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))] * 1000
    print(verdict("resume latency p50", p50, 10.0, 50.0, lower_is_better=True))
    print(verdict("resume latency p99", p99, 25.0, float("inf"), lower_is_better=True))


if __name__ == "__main__":
    main()
