"""Worker groups across processes on PostgreSQL: a default worker and a ``gpu`` worker share
one flow's tasks by ``workerGroup``; a task of a group without a live worker waits, shown on
the execution, until a worker of that group starts; the live workers are listed with their
group, filters and concurrency; bad worker options are refused naming the option."""

from __future__ import annotations

import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.scaleout.test_roles import (
    ADMIN,
    Process,
    environment,
    perch,
    spawn,
    wait_all,
    wait_ready,
)

pytestmark = pytest.mark.postgres

FLOW = """\
id: mixed
namespace: wg.scale
tasks:
  - id: plain
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo plain
  - id: gpu
    type: io.kestra.plugin.core.debug.Return
    format: on the gpu
    workerGroup:
      key: gpu
  - id: later
    type: io.kestra.plugin.core.debug.Return
    format: later
    workerGroup:
      key: later
"""


def test_groups_route_tasks_to_their_workers(tmp_path: Path) -> None:
    env = environment(f"groups_{uuid.uuid4().hex[:10]}")
    refused = perch(
        "server",
        "worker",
        "--worker-group",
        "no way",
        "--data-dir",
        str(tmp_path),
        env=env,
        cwd=tmp_path,
    )
    assert refused.returncode != 0
    assert "--worker-group 'no way'" in refused.stdout + refused.stderr
    upgraded = perch("db", "upgrade", "--data-dir", str(tmp_path / "d"), env=env, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    processes: list[Process] = [
        spawn("webserver", env, tmp_path, "--port", "0"),
        spawn("worker", env, tmp_path),
        spawn(
            "worker",
            env,
            tmp_path,
            "--worker-group",
            "gpu",
            "--task-types",
            "io.kestra.plugin.core.debug.*",
            "--namespaces",
            "wg",
            "--concurrency",
            "2",
        ),
    ]
    try:
        for process in processes:
            wait_ready(process)
        web = processes[0]
        with httpx.Client(base_url=web.url, auth=ADMIN, timeout=30) as client:
            listed = client.get("/api/v1/instance/services/search", params={"type": "WORKER"})
            assert listed.status_code == 200, listed.text
            props = sorted(
                (s["props"] for s in listed.json()["results"]),
                key=lambda p: p["workerGroup"] or "",
            )
            assert props[0]["workerGroup"] is None
            assert props[0]["concurrency"] == 4
            assert props[1]["workerGroup"] == "gpu"
            assert props[1]["taskTypes"] == ["io.kestra.plugin.core.debug.*"]
            assert props[1]["namespaces"] == ["wg"]
            assert props[1]["concurrency"] == 2
            shown = perch(
                "server", "workers", "--data-dir", str(tmp_path / "d"), env=env, cwd=tmp_path
            )
            assert shown.returncode == 0, shown.stderr
            assert "group 'gpu'; types io.kestra.plugin.core.debug.*; namespaces wg" in shown.stdout
            assert "no group; concurrency 4" in shown.stdout
            answer = client.post(
                "/api/v1/main/flows", content=FLOW, headers={"Content-Type": "application/x-yaml"}
            )
            assert answer.status_code == 200, answer.text
            created = client.post("/api/v1/main/executions/wg.scale/mixed")
            assert created.status_code == 200, created.text
            execution_id = created.json()["id"]

            def runs() -> dict[str, Any]:
                body = client.get(f"/api/v1/main/executions/{execution_id}").json()
                return {"": body} | {r["taskId"]: r for r in body["taskRunList"] or []}

            deadline = time.monotonic() + 60
            while "later" not in runs() and time.monotonic() < deadline:
                time.sleep(0.2)
            seen = runs()
            assert seen[""]["state"]["current"] == "RUNNING"
            assert seen["plain"]["state"]["current"] == "SUCCESS"
            assert seen["gpu"]["outputs"] == {"value": "on the gpu"}
            later = seen["later"]
            # A default and a gpu worker are alive, yet neither takes a task of group later.
            assert later["state"]["current"] == "CREATED"
            waiting = seen[""]["metadata"]["waitingForWorkerGroup"]
            assert waiting == {later["id"]: "later"}
            processes.append(spawn("worker", env, tmp_path, "--worker-group", "later"))
            wait_ready(processes[-1])
            ended = wait_all(client, [execution_id], {"SUCCESS", "FAILED", "WARNING"}, 30)
            assert ended[execution_id] == "SUCCESS"
            assert runs()["later"]["outputs"] == {"value": "later"}
        for process in processes:
            process.popen.send_signal(signal.SIGTERM)
        for process in processes:
            assert process.popen.wait(timeout=60) == 0, process.log.read_text()[-2000:]
    finally:
        for process in processes:
            if process.popen.poll() is None:
                process.popen.kill()
                process.popen.wait(timeout=10)
