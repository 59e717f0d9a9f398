"""A worker that used up its inline budget claims again at once: the jobs left over must not
wait for the next notification (or the lease timeout) when none comes."""

from __future__ import annotations

from tests.runtime.conftest import ALICE, deploy, ended, wait_until

from perch.engine import service
from perch.engine.ports import Store
from perch.server import LocalRuntime

BRANCHES = "\n".join(
    f"""      - id: log{i}
        type: io.kestra.plugin.core.log.Log
        message: branch {i}"""
    for i in range(12)
)
FLOW = f"""
id: wide
namespace: perch.inline
tasks:
  - id: all
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
{BRANCHES}
"""


def test_inline_jobs_beyond_the_budget_run_without_a_new_notification(store: Store) -> None:
    runtime = LocalRuntime(store, workers=1, lease_seconds=120)
    # The worker's own inline runs are under test: the executor leaves every dispatch a job.
    runtime.context.inline = None
    # A budget of exactly one claim batch: the claim ends with nothing left to hand over.
    runtime.workers._inline_limit = 8
    runtime.start()
    try:
        deploy(store, FLOW)
        execution = service.create_execution(store, "main", "perch.inline", "wide", {}, ALICE)
        # Without the immediate re-claim the worker would sleep for the 120 s lease here.
        done = wait_until(store, execution.id, ended, timeout=20)
        assert done.state.current.value == "SUCCESS"
        assert len(done.task_runs) == 13
    finally:
        runtime.stop()
