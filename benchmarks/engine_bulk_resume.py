"""Benchmark 3: 10,000 executions paused at a Pause, bulk-resumed by query -> time to all SUCCESS.

Run with ``python benchmarks/engine_bulk_resume.py [COUNT]``. Target < 10 s, floor < 60 s.
The paused executions are created in batches (set-up, not timed). The timed part is
``service.resume_by_query`` (every resume validated and applied in its own transaction) plus
the loops running the task after the Pause, until all executions are SUCCESS. Then every
execution is checked: none lost (all SUCCESS with both task runs) and none resumed twice (one
``resumed`` record, one run of the task after the Pause, one RESUME audit record in total per
execution).
"""

from __future__ import annotations

import sys
import time

from engine_harness import BENCH, all_executions, bench, create_many, deploy, verdict, wait_count

from perch.engine import service
from perch.engine.ports import ExecutionQuery
from perch.engine.states import StateType

FLOW = """\
id: approve
namespace: bench
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: ok
        type: BOOLEAN
        defaults: true
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "approved {{ outputs.wait.onResume.ok }}"
"""


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with bench() as b:
        deploy(b.store, FLOW)
        setup = time.perf_counter()
        create_many(b.store, "bench", "approve", count)
        wait_count(b.store, (StateType.PAUSED,), count)
        print(f"set-up: {count} paused executions in {time.perf_counter() - setup:.1f} s")

        start = time.perf_counter()
        result = service.resume_by_query(
            b.store, ExecutionQuery(states=(StateType.PAUSED,), namespace_prefix="bench"), BENCH
        )
        resumed_in = time.perf_counter() - start
        wait_count(b.store, (StateType.SUCCESS,), count)
        elapsed = time.perf_counter() - start

        lost = twice = 0
        for execution in all_executions(b.store):
            runs = [r.task_id for r in execution.task_runs]
            if execution.state.current is not StateType.SUCCESS or runs != ["wait", "after"]:
                lost += 1
            outputs = execution.task_runs[0].outputs or {}
            if runs.count("after") > 1 or outputs.get("resumed", {}).get("by") != "bench":
                twice += 1
    print(
        f"resume_by_query: {result.count} resumed, {len(result.skipped)} skipped, "
        f"{resumed_in:.1f} s for the service calls"
    )
    print(f"all {count} SUCCESS after {elapsed:.1f} s; lost {lost}, resumed twice {twice}")
    print(verdict("bulk resume", elapsed, 10.0, 60.0, lower_is_better=True))


if __name__ == "__main__":
    main()
