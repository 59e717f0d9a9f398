"""What the core-type conformance tests share: one real server per backend for the whole
module (SQLite, and PostgreSQL when available), and helpers to deploy flows, run them over HTTP
and read what they did."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import Api, open_test_store, start_api, state_is, stop_api
from tests.api.hitl import form

NS = "conformance.core"
DONE = state_is("SUCCESS", "WARNING", "FAILED", "KILLED")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    running = start_api(open_test_store(request.param, tmp_path_factory.mktemp("core")))
    yield running
    stop_api(running)


def run(
    api: Api, flow_id: str, inputs: dict[str, str] | None = None, **params: Any
) -> dict[str, Any]:
    """Start an execution over HTTP and wait for it to end."""
    body = form(**inputs) if inputs else {}
    response = api.client.post(f"/api/v1/main/executions/{NS}/{flow_id}", params=params, **body)
    assert response.status_code == 200, response.text
    return api.wait(response.json()["id"], DONE)


def deploy(api: Api, source: str) -> None:
    """Create the flow, or update it when an earlier test created it already."""
    yaml = {"Content-Type": "application/x-yaml"}
    response = api.client.post("/api/v1/main/flows", content=source, headers=yaml)
    if response.status_code == 422 and "already exists" in response.text:
        head = dict(line.split(": ", 1) for line in source.splitlines()[:2])
        where = f"/api/v1/main/flows/{head['namespace']}/{head['id']}"
        response = api.client.put(where, content=source, headers=yaml)
    assert response.status_code == 200, response.text


def labels_of(execution: dict[str, Any]) -> dict[str, str]:
    return {label["key"]: label["value"] for label in execution["labels"]}


def errors_of(api: Api, execution_id: str) -> str:
    lines = api.client.get(f"/api/v1/main/logs/{execution_id}", params={"minLevel": "ERROR"})
    assert lines.status_code == 200, lines.text
    return "\n".join(line["message"] for line in lines.json())


def run_id(execution: dict[str, Any], task_id: str) -> str:
    return next(r["id"] for r in execution["taskRunList"] if r["taskId"] == task_id)


def paused(api: Api, namespace: str, flow_id: str) -> str:
    response = api.client.post(f"/api/v1/main/executions/{namespace}/{flow_id}")
    assert response.status_code == 200, response.text
    return api.wait(response.json()["id"], state_is("PAUSED"))["id"]


def schedule_disabled(api: Api) -> bool:
    found = api.client.get(
        "/api/v1/main/triggers/search", params={"namespace": NS, "flowId": "trigger-toggle"}
    )
    assert found.status_code == 200, found.text
    [item] = found.json()["results"]
    assert item["triggerContext"]["triggerId"] == "schedule"
    disabled: bool = item["triggerContext"]["disabled"]
    return disabled
