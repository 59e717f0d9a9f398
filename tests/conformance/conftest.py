"""Kestra conformance: Kestra's engine tests replayed through Perch's real API over HTTP.

One server per backend for a whole module (each test deploys flows under its own namespace),
so that many small executions stay cheap; SQLite always, PostgreSQL when it is available.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import Api, open_test_store, start_api, state_is, stop_api

ENDED = ("SUCCESS", "FAILED", "WARNING", "KILLED", "CANCELLED")


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def kapi(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """A running API on one backend, shared by the tests of a module (a test marked postgres
    is skipped, or failed in CI, before this runs when PostgreSQL is missing)."""
    running = start_api(open_test_store(request.param, tmp_path_factory.mktemp("conformance")))
    yield running
    stop_api(running)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """The same as :func:`kapi` (the name the core-type and flowable tests use)."""
    running = start_api(open_test_store(request.param, tmp_path_factory.mktemp("conformance")))
    yield running
    stop_api(running)


def start(
    api: Api,
    namespace: str,
    flow_id: str,
    inputs: dict[str, str] | None = None,
    *,
    labels: list[str] | None = None,
) -> str:
    """Start an execution over HTTP; its id."""
    answer = api.client.post(
        f"/api/v1/main/executions/{namespace}/{flow_id}",
        data=inputs or {},
        params={"labels": labels} if labels else None,
    )
    assert answer.status_code == 200, answer.text
    execution_id: str = answer.json()["id"]
    return execution_id


def run(
    api: Api,
    namespace: str,
    flow_id: str,
    inputs: dict[str, str] | None = None,
    *,
    labels: list[str] | None = None,
) -> dict[str, Any]:
    """Start an execution and wait until it ends; its JSON."""
    return api.wait(start(api, namespace, flow_id, inputs, labels=labels), state_is(*ENDED))


def runs_of(execution: dict[str, Any], task_id: str) -> list[dict[str, Any]]:
    return [run for run in execution["taskRunList"] or [] if run["taskId"] == task_id]


def only_run(execution: dict[str, Any], task_id: str) -> dict[str, Any]:
    [found] = runs_of(execution, task_id)
    return found


def history(task_run: dict[str, Any]) -> list[str]:
    return [entry["state"] for entry in task_run["state"]["histories"]]


def logs(api: Api, execution_id: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = api.client.get(f"/api/v1/main/logs/{execution_id}").json()
    return lines


def messages(api: Api, execution_id: str, task_id: str | None = None) -> list[str]:
    return [
        line["message"]
        for line in logs(api, execution_id)
        if task_id is None or line.get("taskId") == task_id
    ]
