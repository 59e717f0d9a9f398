"""Benchmark 4: resume latency, from before the client's call to the next task RUNNING.

Run with ``python benchmarks/engine_resume_latency.py [COUNT] [--inline-only]``. Target p50
< 10 ms and p99 < 25 ms, floor p50 < 50 ms. COUNT executions wait at a Pause; each is resumed in
turn through ``service.resume`` (validation included) while the loops idle. The latency is what
a client sees: from just before its call to the first read of the execution (polled every
millisecond after the call returns) that shows the task after the Pause RUNNING or already
ended. It can never be shorter than the call itself.

Two paths, each with its own COUNT executions: **inline**, the task after the Pause a plain Log
that the engine runs inside the resume's own transaction; and **worker**, a Log whose message
calls ``range()``, queued as a job that a worker thread claims, starts and reports in
transactions of its own (the path of every task doing I/O).
"""

from __future__ import annotations

import sys
import time

from engine_harness import BENCH, Bench, bench, create_many, deploy, summary, verdict, wait_count

from perch.engine import service
from perch.engine.model import Execution
from perch.engine.ports import ExecutionQuery
from perch.engine.states import StateType

POLL_SECONDS = 0.001


def flow_source(flow_id: str, *, worker: bool) -> str:
    heavy = " {{ range(1, 2) | length }}" if worker else ""
    return f"""\
id: {flow_id}
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
    message: "{{{{ outputs.wait.onResume.decision }}}}{heavy}"
"""


def _after_began(execution: Execution) -> bool:
    for run in execution.task_runs:
        if run.task_id == "after":
            return any(h.state is not StateType.CREATED for h in run.state.histories)
    return False


def measure(b: Bench, flow_id: str, count: int) -> tuple[list[float], list[float]]:
    """Resume each paused execution of ``flow_id``: (call seconds, seen-RUNNING seconds)."""
    wait_count(b.store, (StateType.PAUSED,), count)
    query = ExecutionQuery(flow_id=flow_id, states=(StateType.PAUSED,))
    ids = service.matching_ids(b.store, query)
    calls: list[float] = []
    latencies: list[float] = []
    for execution_id in ids:
        start = time.perf_counter()
        service.resume(b.store, execution_id, {"decision": "APPROVE"}, BENCH)
        calls.append(time.perf_counter() - start)
        while not _after_began(service.get_execution(b.store, execution_id)):
            if time.perf_counter() - start > 60:
                raise TimeoutError(f"{execution_id}: the task after the Pause never started")
            time.sleep(POLL_SECONDS)
        latencies.append(time.perf_counter() - start)
    return calls, latencies


def main() -> None:
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    count = int(args[0]) if args else 500
    paths = ("inline",) if "--inline-only" in sys.argv else ("inline", "worker")
    results: dict[str, tuple[list[float], list[float]]] = {}
    with bench() as b:
        for path in paths:
            flow_id = f"latency_{path}"
            deploy(b.store, flow_source(flow_id, worker=path == "worker"))
            create_many(b.store, "bench", flow_id, count)
            results[path] = measure(b, flow_id, count)
    print(f"{count} resumes per path, one at a time, polled every {POLL_SECONDS * 1000:.0f} ms")
    for path, (calls, latencies) in results.items():
        print(f"{path}: service.resume call: {summary(calls)}")
        print(f"{path}: call -> next task RUNNING (seen by the client): {summary(latencies)}")
    for path, (_, latencies) in results.items():
        ordered = sorted(latencies)
        p50 = ordered[len(ordered) // 2] * 1000
        p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000
        print(verdict(f"resume latency p50 ({path})", p50, 10.0, 50.0, lower_is_better=True))
        print(
            verdict(f"resume latency p99 ({path})", p99, 25.0, float("inf"), lower_is_better=True)
        )


if __name__ == "__main__":
    main()
