"""Benchmark 2: start 10,000 executions of a 3-task flow -> throughput and start-to-SUCCESS times.

Run with ``python benchmarks/engine_throughput.py [COUNT]``. Target >= 12,000 executions per
minute, floor >= 3,000. Executions are started one by one through ``service.create_execution``
(inputs validated, one transaction each) while the loops run them; throughput is COUNT divided
by the time from the first start to the last SUCCESS. Start-to-SUCCESS per execution comes from
its state history (CREATED to SUCCESS).
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
    message: "first {{ inputs.n }}"
  - id: second
    type: io.kestra.plugin.core.log.Log
    message: second
  - id: third
    type: io.kestra.plugin.core.output.OutputValues
    values:
      n: "{{ inputs.n }}"
"""


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with bench() as b:
        deploy(b.store, FLOW)
        start = time.perf_counter()
        for index in range(count):
            service.create_execution(b.store, DEFAULT_TENANT, "bench", "three", {"n": index}, BENCH)
        started = time.perf_counter() - start
        wait_count(b.store, (StateType.SUCCESS,), count)
        elapsed = time.perf_counter() - start
        durations = []
        for execution in all_executions(b.store):
            assert execution.state.current is StateType.SUCCESS
            assert len(execution.task_runs) == 3
            durations.append(execution.state.duration.total_seconds())
    per_minute = count / elapsed * 60
    print(f"{count} executions of a 3-task flow: {elapsed:.1f} s ({started:.1f} s to start them)")
    print(f"throughput: {per_minute:,.0f} executions/min")
    print(f"start -> SUCCESS: {summary(durations)}")
    print(verdict("throughput", per_minute, 12_000, 3_000, lower_is_better=False))


if __name__ == "__main__":
    main()
