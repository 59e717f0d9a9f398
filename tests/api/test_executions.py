"""Creating executions over HTTP (multipart inputs, labels, ``wait``, revisions), validating
creation inputs, reading one, and the Execution JSON shape."""

from __future__ import annotations

import json
from typing import Any

from tests.api.conftest import Api, state_is

TYPED = """\
id: typed
namespace: company.team
inputs:
  - id: count
    type: INT
    min: 1
  - id: ratio
    type: FLOAT
    required: false
  - id: flag
    type: BOOLEAN
  - id: colour
    type: SELECT
    values: [red, green]
  - id: tags
    type: MULTISELECT
    values: [a, b, c]
  - id: payload
    type: JSON
  - id: day
    type: DATE
  - id: at
    type: DATETIME
    required: false
  - id: note
    type: STRING
    defaults: nothing
  - id: password
    type: SECRET
    required: false
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.count }} {{ inputs.colour }}"
"""

QUICK = """\
id: quick
namespace: company.team
labels:
  team: blue
tasks:
  - id: only
    type: io.kestra.plugin.core.log.Log
    message: done
"""

PAUSING = """\
id: pausing
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: resumed
"""

GOOD = {
    "count": "3",
    "flag": "true",
    "colour": "green",
    "tags": ["a", "c"],
    "payload": '{"k": [1, 2]}',
    "day": "2026-02-03",
    "at": "2026-02-03T04:05:06+01:00",
    "password": "hunter2-secret",
}


def form(values: dict[str, str | list[str]]) -> dict[str, Any]:
    """Multipart fields as ``curl -F`` sends them (a list is the field repeated)."""
    parts: list[tuple[str, tuple[None, str]]] = []
    for name, value in values.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append((name, (None, item)))
    return {"files": parts}


def total(api: Api, query: str = "") -> int:
    response = api.client.get(f"/api/v1/executions/search?{query}")
    assert response.status_code == 200, response.text
    found: int = response.json()["total"]
    return found


def test_create_with_typed_multipart_inputs(api: Api) -> None:
    api.deploy(TYPED)
    response = api.client.post("/api/v1/executions/company.team/typed", **form(GOOD))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["namespace"] == "company.team"
    assert body["flowId"] == "typed"
    assert body["flowRevision"] == 1
    assert body["inputs"] == {
        "count": 3,
        "ratio": None,
        "flag": True,
        "colour": "green",
        "tags": ["a", "c"],
        "payload": {"k": [1, 2]},
        "day": "2026-02-03",
        "at": "2026-02-03T03:05:06Z",
        "note": "nothing",
        "password": "******",
    }
    assert "hunter2-secret" not in response.text
    done = api.wait(body["id"], state_is("SUCCESS", "FAILED"))
    assert done["state"]["current"] == "SUCCESS"
    assert done["inputs"]["password"] == "******"
    assert "hunter2-secret" not in json.dumps(done)


def test_urlencoded_and_json_bodies_are_read_too(api: Api) -> None:
    api.deploy(TYPED)
    fields = {k: v for k, v in GOOD.items() if k not in ("tags", "password")}
    urlencoded = api.client.post(
        "/api/v1/executions/company.team/typed", data={**fields, "tags": '["b"]'}
    )
    assert urlencoded.status_code == 200, urlencoded.text
    assert urlencoded.json()["inputs"]["tags"] == ["b"]
    as_json = api.client.post(
        "/api/v1/executions/company.team/typed",
        json={**fields, "count": 7, "tags": ["a"], "payload": {"x": None}},
    )
    assert as_json.status_code == 200, as_json.text
    assert as_json.json()["inputs"]["count"] == 7
    assert as_json.json()["inputs"]["payload"] == {"x": None}


def test_bad_inputs_are_all_named_and_nothing_is_created(api: Api) -> None:
    api.deploy(TYPED)
    bad = {**GOOD, "count": "0", "flag": "maybe", "colour": "blue", "tags": ["a", "z"]}
    del bad["day"]
    response = api.client.post("/api/v1/executions/company.team/typed", **form(bad))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"].startswith("Invalid entity: ")
    named = {e["path"] for e in body["_embedded"]["errors"]}
    assert named == {"count", "flag", "colour", "tags", "day"}
    by_input = {e["path"]: e["message"] for e in body["_embedded"]["errors"]}
    assert "Missing required input: day" in by_input["day"]
    assert total(api) == 0


def test_unknown_flow_is_404_and_a_disabled_flow_409(api: Api) -> None:
    missing = api.client.post("/api/v1/executions/company.team/nope")
    assert missing.status_code == 404, missing.text
    assert missing.json()["message"].startswith("Not Found: ")
    api.deploy(QUICK.replace("labels:", "disabled: true\nlabels:"))
    disabled = api.client.post("/api/v1/executions/company.team/quick")
    assert disabled.status_code == 409, disabled.text
    assert disabled.json()["message"] == "Illegal state: Cannot execute a disabled flow"
    assert total(api) == 0


def test_labels_url_and_the_principal(api: Api) -> None:
    api.deploy(QUICK)
    response = api.client.post(
        "/api/v1/executions/company.team/quick",
        params=[
            ("labels", "env:prod"),
            ("labels", "ticket:A-1:b"),
            ("labels", "system.correlationId:c-9"),
        ],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    labels = {label["key"]: label["value"] for label in body["labels"]}
    assert labels == {
        "team": "blue",
        "env": "prod",
        "ticket": "A-1:b",
        "system.username": "admin",
        "system.correlationId": "c-9",
    }
    assert body["url"] == (f"{api.url}/ui/main/executions/company.team/quick/{body['id']}")
    reserved = api.client.post(
        "/api/v1/executions/company.team/quick", params={"labels": "system.username:mallory"}
    )
    assert reserved.status_code == 422, reserved.text
    assert "system.username" in reserved.json()["message"]
    malformed = api.client.post("/api/v1/executions/company.team/quick", params={"labels": "x"})
    assert malformed.status_code == 422, malformed.text
    assert total(api) == 1


def test_wait_answers_when_terminated_or_paused(api: Api) -> None:
    api.deploy(QUICK)
    api.deploy(PAUSING)
    done = api.client.post("/api/v1/executions/company.team/quick", params={"wait": "true"})
    assert done.status_code == 200, done.text
    assert done.json()["state"]["current"] == "SUCCESS"
    assert done.json()["url"].endswith(done.json()["id"])
    paused = api.client.post("/api/v1/executions/company.team/pausing?wait=true")
    assert paused.status_code == 200, paused.text
    assert paused.json()["state"]["current"] == "PAUSED"


def test_revision_runs_an_older_flow(api: Api) -> None:
    api.deploy(QUICK)
    updated = api.client.put(
        "/api/v1/flows/company.team/quick",
        content=QUICK.replace("message: done", "message: done again"),
        headers={"Content-Type": "application/x-yaml"},
    )
    assert updated.status_code == 200, updated.text
    latest = api.client.post("/api/v1/executions/company.team/quick")
    assert latest.json()["flowRevision"] == 2
    older = api.client.post("/api/v1/executions/company.team/quick", params={"revision": 1})
    assert older.status_code == 200, older.text
    assert older.json()["flowRevision"] == 1
    missing = api.client.post("/api/v1/executions/company.team/quick", params={"revision": 9})
    assert missing.status_code == 404, missing.text


def test_validate_reports_each_input_and_creates_nothing(api: Api) -> None:
    api.deploy(TYPED)
    bad = {**GOOD, "count": "zero"}
    response = api.client.post("/api/v1/executions/company.team/typed/validate", **form(bad))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["namespace"], body["checks"]) == ("typed", "company.team", [])
    by_id = {item["input"]["id"]: item for item in body["inputs"]}
    assert list(by_id) == [
        "count",
        "ratio",
        "flag",
        "colour",
        "tags",
        "payload",
        "day",
        "at",
        "note",
        "password",
    ]
    [count_error] = by_id["count"]["errors"]
    assert "`count`" in count_error["message"]
    assert by_id["count"]["input"]["type"] == "INT"
    assert by_id["flag"] == {
        "input": {"id": "flag", "type": "BOOLEAN", "required": True},
        "value": True,
        "enabled": True,
        "isDefault": False,
        "errors": [],
    }
    assert by_id["note"]["isDefault"] is True
    assert by_id["note"]["value"] == "nothing"
    assert by_id["password"]["value"] == "******"
    assert "hunter2-secret" not in response.text
    assert total(api) == 0
    unknown = api.client.post("/api/v1/executions/company.team/nope/validate")
    assert unknown.status_code == 404


def test_get_one_execution_has_kestras_shape(api: Api) -> None:
    api.deploy(QUICK)
    created = api.client.post("/api/v1/executions/company.team/quick?wait=true").json()
    response = api.client.get(f"/api/v1/executions/{created['id']}")
    assert response.status_code == 200, response.text
    body = response.json()
    for key in ("id", "namespace", "flowId", "flowRevision", "state", "taskRunList", "labels"):
        assert key in body
    # As Kestra's server: no inputs, no outputs, no end yet… are left out, never null.
    assert "inputs" not in body
    assert "outputs" not in body
    assert None not in body.values()
    assert body["state"]["current"] == "SUCCESS"
    assert [h["state"] for h in body["state"]["histories"]][-1] == "SUCCESS"
    assert all(h["date"].endswith("Z") for h in body["state"]["histories"])
    [run] = body["taskRunList"]
    assert run["taskId"] == "only"
    assert run["state"]["current"] == "SUCCESS"
    assert "outputs" not in run  # a Log has none: left out, as Kestra
    assert {"key": "system.username", "value": "admin"} in body["labels"]
    assert api.client.get("/api/v1/main/executions/" + created["id"]).json() == body


def test_unknown_execution_and_other_tenants_are_404(api: Api) -> None:
    api.add_tenant("demo")
    api.deploy(QUICK, tenant="demo")
    created = api.client.post("/api/v1/demo/executions/company.team/quick")
    assert created.status_code == 200, created.text
    execution_id = created.json()["id"]
    assert created.json()["url"].endswith(f"/ui/demo/executions/company.team/quick/{execution_id}")
    assert api.client.get(f"/api/v1/demo/executions/{execution_id}").status_code == 200
    assert api.client.get(f"/api/v1/executions/{execution_id}").status_code == 404
    assert api.client.get(f"/api/v1/main/executions/{execution_id}").status_code == 404
    missing = api.client.get("/api/v1/executions/nope")
    assert missing.status_code == 404
    assert missing.json()["message"] == "Not Found: Execution 'nope' not found."
    # The flow exists in `demo` only.
    assert api.client.post("/api/v1/executions/company.team/quick").status_code == 404


def test_without_credentials_nothing_answers(api: Api) -> None:
    api.deploy(QUICK)
    with api.anonymous() as anonymous:
        assert anonymous.post("/api/v1/executions/company.team/quick").status_code == 401
        assert anonymous.get("/api/v1/executions/search").status_code == 401
    assert total(api) == 0
