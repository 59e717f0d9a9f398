"""Benchmark: one ForEach over 20,000 values, each running one Log task -> wall time.

Run with ``python benchmarks/engine_foreach.py [VALUES [LIMIT]] [--worker]`` (default 20,000
values and the default ``concurrencyLimit`` of 1). ``--worker`` gives the Log a message that
calls ``range()``, so each child runs on a worker (a job claimed, started and reported in
transactions of its own) instead of inline in the transition. The figure is the
wall time from the create call to the execution's end, on SQLite with the loops of
``perch server local`` running in this process.
Target: seconds, not minutes (the document must not be rewritten whole for each child).
"""

from __future__ import annotations

import sys
import time

from engine_harness import BENCH, bench, deploy

from perch.engine import service
from perch.engine.model import DEFAULT_TENANT
from perch.engine.states import StateType


def flow_source(values: int, limit: int, *, worker: bool = False) -> str:
    message = "value {{ taskrun.value }}" + (" {{ range(1, 2) | length }}" if worker else "")
    return (
        "id: foreach\nnamespace: bench\ntasks:\n"
        "  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n"
        f'    values: "{{{{ range(1, {values}) }}}}"\n'
        f"    concurrencyLimit: {limit}\n"
        "    tasks:\n"
        "      - id: log\n        type: io.kestra.plugin.core.log.Log\n"
        f'        message: "{message}"\n'
    )


def run(values: int, limit: int, *, worker: bool = False) -> None:
    with bench() as b:
        deploy(b.store, flow_source(values, limit, worker=worker))
        started = time.perf_counter()
        execution = service.create_execution(b.store, DEFAULT_TENANT, "bench", "foreach", {}, BENCH)
        while True:
            current = service.get_execution(b.store, execution.id)
            if current.state.current.is_terminated:
                break
            time.sleep(0.25)  # reading a 20,000-run execution is not free: poll gently
        elapsed = time.perf_counter() - started
    assert current.state.current is StateType.SUCCESS, current.state.current
    children = sum(1 for r in current.task_runs if r.task_id == "log")
    assert children == values, children
    print(
        f"ForEach over {values} values ({'worker' if worker else 'inline'} Log child, "
        f"concurrencyLimit {limit}): "
        f"{elapsed:.2f} s wall ({elapsed / values * 1000:.3f} ms per value)"
    )


def main() -> None:
    worker = "--worker" in sys.argv
    args = [arg for arg in sys.argv[1:] if arg != "--worker"]
    values = int(args[0]) if args else 20_000
    limit = int(args[1]) if len(args) > 1 else 1
    run(values, limit, worker=worker)


if __name__ == "__main__":
    main()
