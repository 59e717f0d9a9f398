"""JSON that Perch refuses everywhere: NaN, infinities, lone surrogates, deep nesting (issue 8)."""

from __future__ import annotations

import re

import pytest
from tests.api.conftest import Api, state_is

FLOW = """\
id: typed
namespace: company.json
inputs:
  - id: j
    type: JSON
    required: false
tasks:
  - id: ask
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: answer
        type: JSON
        required: false
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.ask.onResume.answer }}"
"""

BAD_JSON = {
    "nan": '{"j": NaN}',
    "infinity": '{"j": Infinity}',
    "minus-infinity": '{"j": -Infinity}',
    "surrogate": '{"j": "\\ud800"}',
    "deep": '{"j": ' + "[" * 65 + "]" * 65 + "}",
}
"""Whole bodies, as a JSON document with an input ``j``."""

BAD_VALUES = {
    "nan": "NaN",
    "infinity": "Infinity",
    "minus-infinity": "-Infinity",
    "surrogate": '"\\ud800"',
    "deep": "[" * 65 + "]" * 65,
}
"""Values of a JSON-typed input sent as a multipart text part."""


def _json_routes(api: Api) -> list[tuple[str, str]]:
    """Every POST, PUT and PATCH route of the API (from its OpenAPI document)."""
    document = api.client.get("/api/v1/openapi.json").json()
    routes: list[tuple[str, str]] = []
    for path, operations in document["paths"].items():
        for method in sorted(set(operations) & {"post", "put", "patch"}):
            routes.append((method.upper(), re.sub(r"\{[^}]+\}", "main", path)))
    return routes


@pytest.mark.parametrize("case", sorted(BAD_JSON))
def test_every_route_taking_a_body_refuses_bad_json(sqlite_api: Api, case: str) -> None:
    routes = _json_routes(sqlite_api)
    assert len(routes) > 20
    for method, path in routes:
        response = sqlite_api.client.request(
            method, path, content=BAD_JSON[case], headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, (method, path, response.text)
        assert "$.j" in response.json()["message"], (method, path, response.text)


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_json_inputs_refuse_bad_values_at_create_and_resume(sqlite_api: Api, case: str) -> None:
    api = sqlite_api
    api.deploy(FLOW)
    refused = api.client.post(
        "/api/v1/main/executions/company.json/typed", files={"j": (None, BAD_VALUES[case])}
    )
    assert refused.status_code == 422, refused.text
    assert "j" in refused.text
    as_body = api.client.post(
        "/api/v1/main/executions/company.json/typed",
        content=BAD_JSON[case],
        headers={"Content-Type": "application/json"},
    )
    assert as_body.status_code == 422, as_body.text

    started = api.client.post("/api/v1/main/executions/company.json/typed")
    assert started.status_code == 200, started.text
    execution_id = started.json()["id"]
    api.wait(execution_id, state_is("PAUSED"))
    resumed = api.client.post(
        f"/api/v1/main/executions/{execution_id}/resume",
        files={"answer": (None, BAD_VALUES[case])},
    )
    assert resumed.status_code == 422, resumed.text
    assert "answer" in resumed.text
    assert api.wait(execution_id, state_is("PAUSED"))["state"]["current"] == "PAUSED"

    # Nothing invalid was committed: the default executions page still answers.
    page = api.client.get("/api/v1/main/executions/search")
    assert page.status_code == 200, page.text
    assert page.json()["total"] == 1
