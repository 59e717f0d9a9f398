"""Three ``perch server executor`` processes on one PostgreSQL schema share the events of the
same executions without colliding: parents whose subflows (a Parallel branch, a ForEach with
no concurrency limit) end in bursts, as many resumes arrive at once, each receive their
children's endings through the outbox. Every execution ends SUCCESS with its children's
outputs; no executor had to roll back and retry a batch (``perch_executor_conflicts_total`` at
each executor's ``/metrics``), and PostgreSQL never showed an executor waiting for a lock
another executor held (sampled from ``pg_locks`` all along). Before executors locked per
execution they rarely had to retry (the row lock of each execution they loaded made them wait
instead: a deadlock in one run of five), but they waited for each other's execution rows in
about half the samples."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.scaleout.cluster import ADMIN, Cluster, spawn
from tests.scaleout.driver import wait_until

pytestmark = pytest.mark.postgres

NAMESPACE = "scale.bursts"
PARENTS = 8
ITEMS = 8
CHILDREN = ITEMS + 1  # the ForEach's and the Parallel's solo subflow

LEAF = f"""\
id: leaf
namespace: {NAMESPACE}
inputs:
  - id: n
    type: STRING
tasks:
  - id: gate
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: answer
        type: STRING
  - id: echo
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ inputs.n }}}}:{{{{ outputs.gate.onResume.answer }}}}"
outputs:
  - id: got
    type: STRING
    value: "{{{{ outputs.echo.value }}}}"
"""

_ITEMS = ", ".join(f'"i{i}"' for i in range(ITEMS))
BURST = f"""\
id: burst
namespace: {NAMESPACE}
tasks:
  - id: fan
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: each
        type: io.kestra.plugin.core.flow.ForEach
        values: [{_ITEMS}]
        concurrencyLimit: 0
        tasks:
          - id: child
            type: io.kestra.plugin.core.flow.Subflow
            namespace: {NAMESPACE}
            flowId: leaf
            inputs:
              n: "{{{{ taskrun.value }}}}"
      - id: solo
        type: io.kestra.plugin.core.flow.Subflow
        namespace: {NAMESPACE}
        flowId: leaf
        inputs:
          n: solo
  - id: done
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ outputs.solo.outputs.got }}}}"
"""

CONFLICTS = re.compile(r'^perch_executor_conflicts_total\{reason="(\w+)"\} ([0-9.e+]+)$', re.M)


_WAITS = """
SELECT waiting.locktype
FROM pg_locks AS waiting JOIN pg_stat_activity AS session ON session.pid = waiting.pid
WHERE NOT waiting.granted AND session.application_name = %(name)s AND EXISTS (
    SELECT 1 FROM unnest(pg_blocking_pids(waiting.pid)) AS blocker
    JOIN pg_stat_activity AS other ON other.pid = blocker
    WHERE other.application_name = %(name)s
)
"""
"""The locks an executor is waiting for that another executor holds."""


class ExecutorWaits:
    """Samples PostgreSQL's lock table while the test runs: each time an executor's session
    waits for a lock another executor's session holds, by lock type."""

    def __init__(self, url: str, application_name: str) -> None:
        self.url = url
        self.name = application_name
        self.samples = 0
        self.seen: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ExecutorWaits:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.wait(0.005):
                rows = conn.execute(_WAITS, {"name": self.name}).fetchall()
                self.samples += 1
                self.seen.update(str(row[0]) for row in rows)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A web server and three executors (every task here runs in them); the executors'
    database sessions are named (``application_name`` in their database URL) so that the test
    can tell them apart."""
    started = Cluster.create(tmp_path)
    url = started.env["PERCH_DATABASE_URL"]
    named = dict(started.env, PERCH_DATABASE_URL=f"{url}?application_name={_name(started)}")
    try:
        port = ("--port", str(started.web_port))
        started.slots = [spawn("webserver", started.env, tmp_path, *port)]
        started.slots += [spawn("executor", named, tmp_path) for _ in range(3)]
        started.wait_all_ready()
        yield started
    finally:
        started.close()


def _name(cluster: Cluster) -> str:
    return f"perch-executor-{cluster.env['PERCH_DATABASE_SCHEMA']}"


def _search(client: httpx.Client, flow_id: str, state: str | None = None) -> dict[str, Any]:
    params = {"namespace": NAMESPACE, "flowId": flow_id, "size": 1000}
    if state is not None:
        params["state"] = state
    answer = client.get("/api/v1/main/executions/search", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _conflicts(cluster: Cluster) -> dict[str, float]:
    """Each executor's conflicts, by pid and reason."""
    found: dict[str, float] = {}
    for process in cluster.slots:
        if process.role != "executor":
            continue
        text = httpx.get(f"{process.url}/metrics", timeout=10).text
        pairs = CONFLICTS.findall(text)
        assert pairs, f"no perch_executor_conflicts_total at {process.url}/metrics:\n{text}"
        for reason, value in pairs:
            found[f"{process.popen.pid}/{reason}"] = float(value)
    return found


def test_three_executors_apply_bursts_of_subflow_endings_without_colliding(
    cluster: Cluster,
) -> None:
    with httpx.Client(base_url=cluster.url, auth=ADMIN, timeout=60) as client:
        for source in (LEAF, BURST):
            deployed = client.post(
                "/api/v1/main/flows", content=source, headers={"Content-Type": "application/x-yaml"}
            )
            assert deployed.status_code == 200, deployed.text
        assert set(_conflicts(cluster).values()) == {0.0}
        waits = ExecutorWaits(cluster.env["PERCH_DATABASE_URL"], _name(cluster))
        with waits:
            problems = _run_bursts(client)
    assert not problems, "\n".join(problems) + "\n" + cluster.tails()
    conflicts = _conflicts(cluster)
    assert sum(conflicts.values()) == 0, conflicts
    assert waits.samples > 0
    assert not waits.seen, f"executors waited for each other: {waits.seen} in {waits.samples}"


def _run_bursts(client: httpx.Client) -> list[str]:
    """Start the parents, then resume all their children at once: what is wrong at the end."""
    parents = []
    for _ in range(PARENTS):
        created = client.post(f"/api/v1/main/executions/{NAMESPACE}/burst")
        assert created.status_code == 200, created.text
        parents.append(created.json()["id"])
    total = PARENTS * CHILDREN
    wait_until(
        f"{total} children paused",
        lambda: _search(client, "leaf", "PAUSED")["total"] == total,
        timeout=60,
        poll=0.1,
    )
    by_parent: dict[str, list[str]] = {}
    for child in _search(client, "leaf")["results"]:
        by_parent.setdefault(child["trigger"]["variables"]["executionId"], []).append(child["id"])
    assert sorted(by_parent) == sorted(parents)

    def resume(child_id: str) -> int:
        answer = client.post(
            f"/api/v1/main/executions/{child_id}/resume", json={"answer": f"ok-{child_id}"}
        )
        return answer.status_code

    # All parents' children at once, interleaved: each parent's endings arrive in a burst,
    # mixed with the other parents' ones.
    interleaved = [ids[k] for k in range(CHILDREN) for ids in by_parent.values()]
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(resume, interleaved))
    assert statuses == [204] * total
    wait_until(
        f"{PARENTS} parents succeeded",
        lambda: _search(client, "burst", "SUCCESS")["total"] == PARENTS,
        timeout=60,
        poll=0.1,
    )
    return _check(_search(client, "leaf")["results"], _search(client, "burst")["results"])


def _check(leaves: list[dict[str, Any]], parents: list[dict[str, Any]]) -> list[str]:
    problems = []
    for child in leaves:
        expected = {"got": f"{child['inputs']['n']}:ok-{child['id']}"}
        if child["state"]["current"] != "SUCCESS" or child.get("outputs") != expected:
            problems.append(
                f"child {child['id']}: {child['state']['current']} {child.get('outputs')}"
            )
    for parent in parents:
        runs = parent["taskRunList"]
        states = [(r["taskId"], r.get("value"), r["state"]["current"]) for r in runs]
        if any(state != "SUCCESS" for _, _, state in states):
            problems.append(f"parent {parent['id']}: {states}")
        items = sorted(r["value"] for r in runs if r["taskId"] == "child")
        if items != sorted(f"i{i}" for i in range(ITEMS)):
            problems.append(f"parent {parent['id']}: ForEach ran {items}")
        for run in runs:
            if run["taskId"] == "child":
                got = run["outputs"]["outputs"]["got"]
                if not got.startswith(f"{run['value']}:ok-"):
                    problems.append(f"parent {parent['id']}: {run['value']} got {got}")
        done = next(r for r in runs if r["taskId"] == "done")
        if not done["outputs"]["value"].startswith("solo:ok-"):
            problems.append(f"parent {parent['id']}: done says {done['outputs']}")
    return problems
