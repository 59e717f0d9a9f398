"""``workerGroup`` on a task, through a real server on SQLite (PostgreSQL with worker
processes: ``test_worker_groups``): with no live
worker in the group the task waits (the default), fails or is cancelled as ``fallback`` says,
and the execution shows why; a worker of the group that starts later runs the waiting task.
Tasks without a group keep running on the default worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from perch.engine.jobfilter import JobFilter
from perch.engine.worker import WorkerPool
from perch.server import run_task_in_worker
from tests.api.conftest import Api, open_test_store, start_api, state_is, stop_api

FLOW = """\
id: {flow_id}
namespace: wg.test
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: no group needed
  - id: gpu
    type: io.kestra.plugin.core.debug.Return
    format: "ran on {{{{ taskrun.id }}}}"
    workerGroup:
      key: gpu
{fallback}"""


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    running = start_api(open_test_store("sqlite", tmp_path))
    yield running
    stop_api(running)


def _run(api: Api, flow_id: str, fallback: str | None) -> str:
    line = f"      fallback: {fallback}\n" if fallback else ""
    api.deploy(FLOW.format(flow_id=flow_id, fallback=line))
    created = api.client.post(f"/api/v1/main/executions/wg.test/{flow_id}")
    assert created.status_code == 200, created.text
    return str(created.json()["id"])


def _run_of(body: dict[str, Any], task_id: str) -> dict[str, Any]:
    runs = [r for r in body["taskRunList"] if r["taskId"] == task_id]
    assert len(runs) == 1, body["taskRunList"]
    return runs[0]


def _messages(api: Api, execution_id: str) -> list[str]:
    lines = api.client.get(f"/api/v1/main/logs/{execution_id}").json()
    return [line["message"] for line in lines]


def test_a_task_waits_for_a_worker_of_its_group(api: Api) -> None:
    execution_id = _run(api, "waits", None)
    body = api.wait(execution_id, lambda b: "waitingForWorkerGroup" in (b["metadata"] or {}))
    assert body["state"]["current"] == "RUNNING"
    gpu = _run_of(body, "gpu")
    assert gpu["state"]["current"] == "CREATED"
    assert body["metadata"]["waitingForWorkerGroup"] == {gpu["id"]: "gpu"}
    assert _run_of(body, "before")["state"]["current"] == "SUCCESS"
    assert (
        "No workers are available for worker group 'gpu', waiting for one to be available."
        in _messages(api, execution_id)
    )
    pool = WorkerPool(api.store, run_task_in_worker, threads=1, job_filter=JobFilter.of("gpu"))
    pool.start()
    try:
        listed = api.client.get("/api/v1/instance/services/search", params={"type": "WORKER"})
        assert listed.status_code == 200, listed.text
        groups = {s["id"]: s["props"]["workerGroup"] for s in listed.json()["results"]}
        assert groups[pool.name] == "gpu"
        assert None in groups.values()  # the server's own default worker
        done = api.wait(execution_id, state_is("SUCCESS", "FAILED", "WARNING"))
    finally:
        pool.stop()
    assert done["state"]["current"] == "SUCCESS"
    assert "waitingForWorkerGroup" not in (done["metadata"] or {})
    assert _run_of(done, "gpu")["outputs"] == {"value": f"ran on {gpu['id']}"}
    after = api.client.get("/api/v1/instance/services/search").json()
    assert pool.name not in {s["id"] for s in after["results"]}


def test_fallback_fail_or_cancel_ends_the_task(api: Api) -> None:
    failing = _run(api, "fails", "FAIL")
    cancelling = _run(api, "cancels", "CANCEL")
    body = api.wait(failing, state_is("FAILED", "SUCCESS", "WARNING"))
    assert body["state"]["current"] == "FAILED"
    assert _run_of(body, "gpu")["state"]["current"] == "FAILED"
    assert "No workers are available for worker group 'gpu', failing the task." in _messages(
        api, failing
    )
    body = api.wait(cancelling, lambda b: _run_of(b, "gpu")["state"]["current"] != "CREATED")
    assert _run_of(body, "gpu")["state"]["current"] == "CANCELLED"
    assert "No workers are available for worker group 'gpu', canceling the task." in _messages(
        api, cancelling
    )
    source = FLOW.format(flow_id="bad", fallback="").replace("key: gpu", "key: -gpu")
    answer = api.client.post(
        "/api/v1/main/flows", content=source, headers={"Content-Type": "application/x-yaml"}
    )
    assert answer.status_code == 422, answer.text
    assert "workerGroup" in answer.text
