"""The execution page's logs follow live: the page of a running or paused execution names its
log stream, the stream (server-sent events, behind the session) sends each line as text once
and ends with the execution."""

from __future__ import annotations

import json
from typing import Any

import httpx
from tests.api.conftest import ADMIN, Api, api, backend, state_is
from tests.ui.test_pages import browser, sign_in

__all__ = ["api", "backend"]

GATED = """\
id: gated
namespace: company.team
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: "<b>before</b> {{ '{{ 7*7 }}' }}"
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: after the pause
"""


def events(client: httpx.Client, path: str) -> list[tuple[str, dict[str, Any]]]:
    """Read the stream to its end; the (event, data) pairs."""
    found: list[tuple[str, dict[str, Any]]] = []
    with client.stream("GET", path, timeout=20) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        name = ""
        for line in answer.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                found.append((name, json.loads(line[len("data: ") :])))
                if name == "end":
                    break
    return found


def test_the_log_stream_follows_a_paused_execution_to_its_end(api: Api) -> None:
    api.deploy(GATED)
    started = api.client.post("/api/v1/main/executions/company.team/gated").json()
    api.wait(started["id"], state_is("PAUSED"))
    page_path = f"/ui/executions/company.team/gated/{started['id']}"
    with browser(api) as client:
        assert sign_in(client, *ADMIN).status_code == 303
        html = client.get(page_path).text
        assert f'data-follow="{page_path}/logs/follow"' in html
        # The stream stays open while the execution is paused; resume it meanwhile.
        resumed = api.client.post(f"/api/v1/main/executions/{started['id']}/resume")
        assert resumed.status_code == 204
        received = events(client, page_path + "/logs/follow")
        warn_only = events(client, page_path + "/logs/follow?level=WARN")
        ended = client.get(page_path).text
    lines = [data for name, data in received if name == "line"]
    messages = [line["message"] for line in lines]
    assert "<b>before</b> {{ 7*7 }}" in messages
    assert "after the pause" in messages
    assert len(messages) == len(set(messages))
    assert received[-1] == ("end", {"state": "SUCCESS"})
    assert [d["message"] for n, d in warn_only if n == "line"] == ["after the pause"]
    assert "data-follow" not in ended  # nothing to follow once it ended


def test_the_stream_needs_a_session(api: Api) -> None:
    api.deploy(GATED)
    started = api.client.post("/api/v1/main/executions/company.team/gated").json()
    path = f"/ui/executions/company.team/gated/{started['id']}/logs/follow"
    with browser(api) as client:
        answer = client.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/ui/login")
    assert api.client.delete(f"/api/v1/main/executions/{started['id']}/kill").status_code == 202
