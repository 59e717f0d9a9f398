"""Eight Perch processes on one PostgreSQL schema — a web server, two executors, three
workers, two schedulers — run 300 mixed executions created over HTTP: sequential steps,
Parallel branches, ForEach iterations, Subflows, pauses resumed over HTTP and timed pauses.
Each ends SUCCESS with its expected task runs and outputs, and each task did its side effect
(a POST to a loopback ledger) exactly once."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.scaleout.cluster import ADMIN, Cluster
from tests.scaleout.driver import (
    Resumer,
    count,
    create,
    deploy,
    everything,
    mixed_plan,
    wait_until,
)
from tests.scaleout.ledger import Ledger
from tests.scaleout.mixed import check_execution, check_subflows, stray_posts

pytestmark = pytest.mark.postgres

ROLES = (
    "webserver",
    "executor",
    "executor",
    "worker",
    "worker",
    "worker",
    "scheduler",
    "scheduler",
)
EXECUTIONS = 300


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    running = Ledger().start()
    yield running
    running.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    started = Cluster.create(tmp_path)
    try:
        started.start(ROLES)
        yield started
    finally:
        started.close()


def test_eight_processes_run_300_mixed_executions(cluster: Cluster, ledger: Ledger) -> None:
    with httpx.Client(base_url=cluster.url, auth=ADMIN, timeout=60) as client:
        deploy(client, ledger.url)
        started = create(client, mixed_plan(EXECUTIONS, lambda: random.uniform(0.5, 3.0)))
        gates = [i for i, flow_id in started.items() if flow_id == "gate"]
        resumer = Resumer(client)
        pending = set(gates)

        def resume_paused() -> bool:
            for execution_id in sorted(pending):
                state = client.get(f"/api/v1/main/executions/{execution_id}").json()["state"]
                if state["current"] == "PAUSED" and resumer.resume(execution_id):
                    pending.discard(execution_id)
            return not pending

        wait_until("every gate paused and resumed", resume_paused, timeout=180, poll=0.2)
        total = EXECUTIONS + sum(1 for f in started.values() if f == "parent")
        wait_until(
            f"{total} executions succeeded",
            lambda: count(client, "SUCCESS") == total,
            timeout=240,
        )
        executions = everything(client)
    assert len(executions) == total
    assert set(resumer.acknowledged) == set(gates)
    posts = ledger.posts()
    by_run = ledger.by_task_run()
    problems = stray_posts(posts, executions) + check_subflows(executions, by_run) + ledger.refused
    for execution_id, execution in executions.items():
        problems += check_execution(
            execution, by_run, decision=resumer.acknowledged.get(execution_id)
        )
        for run in execution.get("taskRunList") or []:
            made = [p.attempt for p in by_run.get(run["id"], [])]
            if made not in ([], [0]):
                problems.append(f"{execution_id} {run['taskId']}: posted in attempts {made}")
    assert not problems, "\n".join(problems[:40]) + "\n" + cluster.tails()
