"""Live following over real HTTP (server-sent events), on SQLite and PostgreSQL:
``/logs/{id}/follow`` and ``/executions/{id}/follow`` through a Pause and its resume, the end
of the stream, heartbeats, and no watcher left behind by a client that leaves."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from tests.api.conftest import Api

from perch.api.routes import follow
from perch.engine import service, watch
from perch.engine.model import Execution
from perch.engine.principal import Principal
from perch.engine.states import StateType
from perch.engine.watch import wait_for, watcher_for

ADMIN = Principal("admin")
SECRET_VALUE = "hunter2-very-secret"

FLOW = """
id: followed
namespace: company.team
inputs:
  - id: token
    type: SECRET
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: "before the pause, {{ inputs.token }}"
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "after the pause"
"""


@dataclass
class Event:
    id: str | None = None
    data: Any = None
    comment: str | None = None


def sse(response: httpx.Response) -> Iterator[Event]:
    """The events of an SSE response, comments included, until the server closes it."""
    event_id: str | None = None
    data: list[str] = []
    for line in response.iter_lines():
        if line.startswith(":"):
            yield Event(comment=line[1:].strip())
        elif line.startswith("id:"):
            event_id = line[3:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            yield Event(id=event_id, data=json.loads("\n".join(data)))
            event_id, data = None, []


def start(api: Api) -> Execution:
    """Deploy the flow and start an execution (it runs to its Pause on its own)."""
    flow = service.deploy_flow(api.store, FLOW, ADMIN)
    return service.create_execution(
        api.store, "main", flow.namespace, flow.id, {"token": SECRET_VALUE}, ADMIN
    )


def paused(api: Api) -> Execution:
    created = start(api)
    execution = wait_for(api.store, created.id, lambda e: e.state.current.is_paused, 15.0)
    assert execution.state.current is StateType.PAUSED
    return execution


def resume(api: Api, execution_id: str) -> None:
    service.resume(api.store, execution_id, {}, ADMIN)


def watched(api: Api) -> int:
    """How many executions the server's watcher tracks (the server runs in this process)."""
    return watcher_for(api.store).watched


def wait_until_unwatched(api: Api, timeout: float = 10.0) -> int:
    """How many executions are still watched once the server noticed its clients left."""
    deadline = time.monotonic() + timeout
    while watched(api) and time.monotonic() < deadline:
        time.sleep(0.01)
    return watched(api)


def test_log_lines_arrive_live_through_a_pause_and_the_stream_ends(api: Api) -> None:
    execution = paused(api)

    with api.client.stream("GET", f"/api/v1/logs/{execution.id}/follow") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        events = (event for event in sse(response) if event.comment is None)
        first = next(events)
        assert first.id == "progress"
        assert first.data["taskId"] == "before"
        assert first.data["executionId"] == execution.id
        assert SECRET_VALUE not in first.data["message"]
        # A line rendered from a SECRET input is masked whole.
        assert first.data["message"] == "******"

        resume(api, execution.id)
        rest = list(events)  # ends only when the server closes the stream

    # The engine's own lines (no task) come too, e.g. about the resume.
    assert {e.id for e in rest} == {"progress"}
    assert [(e.data["taskId"], e.data["message"]) for e in rest if e.data.get("taskId")] == [
        ("after", "after the pause")
    ]
    final = service.get_execution(api.store, execution.id)
    assert final.state.current is StateType.SUCCESS
    assert wait_until_unwatched(api) == 0


def test_log_follow_applies_the_filters(api: Api) -> None:
    execution = paused(api)

    with api.client.stream(
        "GET", f"/api/v1/logs/{execution.id}/follow", params={"taskId": "after"}
    ) as response:
        assert response.status_code == 200
        resume(api, execution.id)
        events = [e for e in sse(response) if e.comment is None]

    assert [e.data["message"] for e in events] == ["after the pause"]


def test_the_execution_stream_goes_from_start_through_paused_to_end(api: Api) -> None:
    created = start(api)

    with api.client.stream("GET", f"/api/v1/executions/{created.id}/follow") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = (event for event in sse(response) if event.comment is None)
        seen = [next(events)]
        while seen[-1].data["state"]["current"] != "PAUSED":
            seen.append(next(events))
        resume(api, created.id)
        seen.extend(events)

    ids = [event.id for event in seen]
    assert ids[0] == "start"
    assert ids[-1] == "end"
    assert set(ids[1:-1]) <= {"progress"}
    assert seen[-1].data["state"]["current"] == "SUCCESS"
    assert seen[-1].data["id"] == created.id
    assert any(event.data["state"]["current"] == "PAUSED" for event in seen)
    assert SECRET_VALUE not in json.dumps([event.data for event in seen])
    assert wait_until_unwatched(api) == 0


def test_following_a_finished_execution_ends_at_once(api: Api) -> None:
    execution = paused(api)
    resume(api, execution.id)
    wait_for(api.store, execution.id, lambda e: e.state.current.is_terminated, 15.0)

    with api.client.stream("GET", f"/api/v1/executions/{execution.id}/follow") as response:
        events = list(sse(response))
    assert [event.id for event in events] == ["start", "end"]
    assert events[-1].data["state"]["current"] == "SUCCESS"

    with api.client.stream("GET", f"/api/v1/logs/{execution.id}/follow") as response:
        lines = [event.data["taskId"] for event in sse(response) if event.data.get("taskId")]
    assert lines == ["before", "after"]

    # A browser reconnecting after the end is told to stop (204 ends an EventSource).
    again = api.client.get(
        f"/api/v1/executions/{execution.id}/follow", headers={"Last-Event-ID": "end"}
    )
    assert again.status_code == 204


@pytest.mark.parametrize("kind", ["executions", "logs"])
def test_a_client_that_leaves_leaves_no_watcher(api: Api, kind: str) -> None:
    execution = paused(api)

    with api.client.stream("GET", f"/api/v1/{kind}/{execution.id}/follow") as response:
        assert response.status_code == 200
        # Keep the iterator: a discarded one is closed at once, and that closes the connection.
        events = sse(response)
        next(events)
        assert watched(api) == 1
    # The response is closed unread: the connection drops, the server cancels the stream.
    assert wait_until_unwatched(api) == 0
    assert service.get_execution(api.store, execution.id).state.current is StateType.PAUSED


def test_a_quiet_stream_sends_heartbeats(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(follow, "HEARTBEAT_SECONDS", 0.1)
    monkeypatch.setattr(watch, "FALLBACK_SECONDS", 0.05)
    execution = paused(api)

    with api.client.stream("GET", f"/api/v1/executions/{execution.id}/follow") as response:
        events = sse(response)
        assert next(events).id == "start"
        assert next(events).comment == "keep-alive"
        assert next(events).comment == "keep-alive"


def test_follow_of_an_unknown_or_foreign_execution_is_404(api: Api) -> None:
    api.add_tenant("other")
    execution = paused(api)
    for path in (
        "/api/v1/executions/no-such-execution/follow",
        "/api/v1/logs/no-such-execution/follow",
        f"/api/v1/other/executions/{execution.id}/follow",
        f"/api/v1/other/logs/{execution.id}/follow",
    ):
        response = api.client.get(path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["message"].startswith("Not Found")
    with api.anonymous() as anonymous:
        assert anonymous.get(f"/api/v1/executions/{execution.id}/follow").status_code == 401
        assert anonymous.get(f"/api/v1/logs/{execution.id}/follow").status_code == 401
    bad = api.client.get(f"/api/v1/logs/{execution.id}/follow", params={"minLevel": "LOUD"})
    assert bad.status_code == 422
