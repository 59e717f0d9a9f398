"""Benchmark 2: start 10,000 executions of a 3-task flow -> throughput and start-to-SUCCESS times.

Run with ``python benchmarks/engine_throughput.py [COUNT] [--worker]``. Target >= 12,000
executions per minute, floor >= 3,000. Executions are started one by one through
``service.create_execution`` (inputs validated, one transaction each) while the loops run them;
throughput is COUNT divided by the time from the first start to the last SUCCESS.
Start-to-SUCCESS per execution comes from its state history (CREATED to SUCCESS).

By default the tasks take the inline path: the engine renders them inside the transaction that
dispatches them. ``--worker`` runs the worker path instead: each template also calls ``range()``,
so each task is a job that a worker thread claims, starts and reports in transactions of its
own (as every task doing I/O is); the figure is printed with the CPU time this process spent
per task (all threads; robust to other processes' load).
"""

from __future__ import annotations

import sys
import time

from engine_harness import BENCH, all_executions, bench, deploy, summary, verdict, wait_count

from perch.engine import service
from perch.engine.model import DEFAULT_TENANT
from perch.engine.states import StateType

FLOW = """\
id: three
namespace: bench
inputs:
  - id: n
    type: INT
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: "first {{ inputs.n }}HEAVY"
  - id: second
    type: io.kestra.plugin.core.log.Log
    message: "secondHEAVY"
  - id: third
    type: io.kestra.plugin.core.output.OutputValues
    values:
      n: "{{ inputs.n }}HEAVY"
"""
HEAVY = " {{ range(1, 2) | length }}"
"""A template calling range() is not run inline."""


def main() -> None:
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    count = int(args[0]) if args else 10_000
    worker = "--worker" in sys.argv
    with bench() as b:
        deploy(b.store, FLOW.replace("HEAVY", HEAVY if worker else ""))
        start = time.perf_counter()
        cpu = time.process_time()
        for index in range(count):
            service.create_execution(b.store, DEFAULT_TENANT, "bench", "three", {"n": index}, BENCH)
        started = time.perf_counter() - start
        wait_count(b.store, (StateType.SUCCESS,), count)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
        durations = []
        for execution in all_executions(b.store):
            assert execution.state.current is StateType.SUCCESS
            assert len(execution.task_runs) == 3
            durations.append(execution.state.duration.total_seconds())
    per_minute = count / elapsed * 60
    path = "worker" if worker else "inline"
    print(
        f"{count} executions of a 3-task flow, {path} path: {elapsed:.1f} s "
        f"({started:.1f} s to start them)"
    )
    print(f"CPU of this process: {cpu / (count * 3) * 1000:.3f} ms per task")
    print(f"throughput: {per_minute:,.0f} executions/min")
    print(f"start -> SUCCESS: {summary(durations)}")
    print(verdict("throughput", per_minute, 12_000, 3_000, lower_is_better=False))


if __name__ == "__main__":
    main()
