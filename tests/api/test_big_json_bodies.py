"""A big JSON body is parsed and checked on a worker thread, never on the event loop (where a
7.8 MB document held every other request for 0.43 s), and the route reuses that value."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from tests.api.conftest import Api, state_is

from perch.inputs import strictjson

OFF_LOOP_JSON = 64 * 1024
"""perch.api.bodies.OFF_LOOP_JSON (spelled out: the test runs on trees without it too)."""

FLOW = """\
id: big
namespace: company.bigjson
inputs:
  - id: j
    type: JSON
    required: false
tasks:
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.j | length }}"
"""


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(thread name, length of the text) of every strict JSON parse, in order."""
    seen: list[tuple[str, int]] = []
    real = strictjson.loads

    def loads(text: str | bytes) -> Any:
        seen.append((threading.current_thread().name, len(text)))
        return real(text)

    monkeypatch.setattr(strictjson, "loads", loads)
    return seen


def _big_body(bad: bool = False) -> bytes:
    value = json.dumps(["x" * 100] * (OFF_LOOP_JSON // 50))  # a JSON input is JSON text
    body = {"j": value, "pad": "y" * OFF_LOOP_JSON}
    text = json.dumps(body)
    return (text[:-1] + ', "bad": NaN}' if bad else text).encode()


def test_a_big_json_body_is_parsed_once_and_off_the_event_loop(
    sqlite_api: Api, parses: list[tuple[str, int]]
) -> None:
    sqlite_api.deploy(FLOW)
    body = _big_body()
    response = sqlite_api.client.post(
        "/api/v1/executions/company.bigjson/big",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text[:300]
    # The body is parsed once, by the middleware, on a worker thread; the route reuses it
    # (the input's own JSON text is parsed afterwards, as any input value is).
    whole = [thread for thread, length in parses if length == len(body)]
    assert len(whole) == 1, parses
    assert whole[0] != "perch-http"
    sqlite_api.wait(response.json()["id"], state_is("SUCCESS"))


def test_a_big_json_body_checked_off_the_loop_is_still_refused_when_invalid(
    sqlite_api: Api, parses: list[tuple[str, int]]
) -> None:
    sqlite_api.deploy(FLOW)
    response = sqlite_api.client.post(
        "/api/v1/executions/company.bigjson/big",
        content=_big_body(bad=True),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text[:300]
    assert "is not a JSON number at $.bad" in response.json()["message"]
    assert parses
    assert all(thread != "perch-http" for thread, _ in parses)
