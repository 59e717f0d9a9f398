"""Flows over HTTP: create, read (JSON, with source, raw YAML), update, delete, revisions and
roll back, tenants; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from sqlalchemy import select
from tests.api.conftest import Api

from perch.engine import service
from perch.engine.ports import StoredFlow
from perch.engine.principal import Principal
from perch.engine.states import StateType
from perch.store.schema import audit

YAML = {"Content-Type": "application/x-yaml"}

FLOW = """\
id: approve
namespace: company.team
description: Waits for a person.
labels:
  team: finance
  env: prod
inputs:
  - id: amount
    type: INT
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: "amount {{ inputs.amount }}"
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: last
    type: io.kestra.plugin.core.log.Log
    message: done
"""

# Comments, odd spacing, CRLF line ends, a tab, non-ASCII text, no final newline.
ODD = (
    "# leading comment\r\n"
    "id:    odd   # trailing comment\r\n"
    "namespace: company.team\r\n"
    "\r\n\r\n"
    "tasks:\r\n"
    "  - id: hello     \r\n"
    "    type: io.kestra.plugin.core.log.Log\r\n"
    '    message: "héllo ✓\t{{ flow.id }}"\r\n'
    "# the end"
)


def flow(flow_id: str = "hello", namespace: str = "company.team", message: str = "hi") -> str:
    return (
        f"id: {flow_id}\nnamespace: {namespace}\ntasks:\n  - id: log\n"
        f"    type: io.kestra.plugin.core.log.Log\n    message: {message}\n"
    )


def post(api: Api, source: str, tenant: str | None = None) -> httpx.Response:
    prefix = f"/api/v1/{tenant}" if tenant else "/api/v1"
    return api.client.post(f"{prefix}/flows", content=source.encode(), headers=YAML)


def put(api: Api, namespace: str, flow_id: str, source: str) -> httpx.Response:
    return api.client.put(f"/api/v1/flows/{namespace}/{flow_id}", content=source, headers=YAML)


def audit_actions(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    with api.store.transaction() as tx:
        rows = tx.connection.execute(select(audit).order_by(audit.c.seq))  # type: ignore[attr-defined]
        return [
            (row.action, row.principal_name, json.loads(row.detail))
            for row in rows
            if row.action.startswith("FLOW_")
        ]


def test_create_returns_kestras_flow_with_source(api: Api) -> None:
    response = post(api, FLOW)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "approve"
    assert body["namespace"] == "company.team"
    assert body["revision"] == 1
    assert body["tenantId"] == "main"
    assert body["description"] == "Waits for a person."
    assert body["labels"] == [
        {"key": "team", "value": "finance"},
        {"key": "env", "value": "prod"},
    ]
    assert [(i["id"], i["type"]) for i in body["inputs"]] == [("amount", "INT")]
    assert [(t["id"], t["type"]) for t in body["tasks"]] == [
        ("first", "io.kestra.plugin.core.log.Log"),
        ("wait", "io.kestra.plugin.core.flow.Pause"),
        ("last", "io.kestra.plugin.core.log.Log"),
    ]
    assert body["tasks"][0]["message"] == "amount {{ inputs.amount }}"
    assert body["disabled"] is False
    assert body["deleted"] is False
    assert body["source"] == FLOW

    got = api.client.get("/api/v1/flows/company.team/approve")
    assert got.status_code == 200
    shown = got.json()
    assert "source" not in shown
    assert {k: v for k, v in body.items() if k != "source"} == shown
    assert audit_actions(api) == [
        (
            "FLOW_CREATED",
            "admin",
            {"tenant": "main", "namespace": "company.team", "flowId": "approve", "revision": 1},
        )
    ]


def test_source_comes_back_byte_for_byte(api: Api) -> None:
    assert post(api, ODD).status_code == 200
    with_source = api.client.get("/api/v1/flows/company.team/odd", params={"source": "true"})
    assert with_source.json()["source"] == ODD
    raw = api.client.get("/api/v1/flows/company.team/odd", headers={"Accept": "application/x-yaml"})
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/x-yaml")
    assert raw.content == ODD.encode("utf-8")
    revisions = api.client.get("/api/v1/flows/company.team/odd/revisions").json()
    assert [r["source"] for r in revisions] == [ODD]


def test_invalid_flow_is_422_with_every_problem_located(api: Api) -> None:
    source = (
        "id: broken\n"
        "namespace: company.team\n"
        "tasks:\n"
        "  - id: one\n"
        "    type: io.kestra.plugin.core.log.Log\n"
        "    mesage: typo\n"
        "  - id: two\n"
        "    type: io.kestra.plugin.core.NoSuchTask\n"
    )
    response = post(api, source)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["message"].startswith("Invalid entity: ")
    errors = body["_embedded"]["errors"]
    by_line = {e["line"]: e for e in errors}
    assert set(by_line) >= {6, 8}, errors
    assert by_line[6]["path"].startswith("tasks[0]")
    assert by_line[8]["path"].startswith("tasks[1]")
    assert all(isinstance(e["column"], int) and e["message"] for e in errors)
    assert api.client.get("/api/v1/flows/company.team/broken").status_code == 404


def test_garbage_bodies_are_422_never_5xx(sqlite_api: Api) -> None:
    for body in (b"", b"\xff\xfe\x00garbage", b"[unclosed", b"- just\n- a list\n", b"\x00"):
        response = sqlite_api.client.post("/api/v1/flows", content=body, headers=YAML)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["message"]


def test_creating_an_existing_flow_is_refused_and_points_to_put(api: Api) -> None:
    assert post(api, flow()).status_code == 200
    again = post(api, flow(message="changed"))
    assert again.status_code == 422
    body = again.json()
    assert "Flow id already exists" in body["message"]
    [error] = body["_embedded"]["errors"]
    assert error["path"] == "id"
    assert error["line"] == 1
    assert "PUT" in error["message"]
    assert api.client.get("/api/v1/flows/company.team/hello").json()["revision"] == 1


def test_update_saves_a_revision_only_when_the_source_changes(api: Api) -> None:
    post(api, flow())
    same = put(api, "company.team", "hello", flow())
    assert same.status_code == 200
    assert same.json()["revision"] == 1
    changed = put(api, "company.team", "hello", flow(message="bye"))
    assert changed.status_code == 200
    assert changed.json()["revision"] == 2
    assert changed.json()["source"] == flow(message="bye")
    assert changed.json()["tasks"][0]["message"] == "bye"
    latest = api.client.get("/api/v1/flows/company.team/hello").json()
    assert latest["revision"] == 2
    actions = [(a, who, d["revision"]) for a, who, d in audit_actions(api)]
    assert actions[-1] == ("FLOW_UPDATED", "admin", 2)


def test_update_errors(api: Api) -> None:
    missing = put(api, "company.team", "nope", flow("nope"))
    assert missing.status_code == 404
    assert missing.json()["message"].startswith("Not Found: ")
    post(api, flow())
    moved = put(api, "company.team", "hello", flow("other", "company.other"))
    assert moved.status_code == 422
    errors = {e["path"]: e for e in moved.json()["_embedded"]["errors"]}
    assert set(errors) == {"id", "namespace"}
    assert errors["id"]["line"] == 1
    assert errors["namespace"]["line"] == 2
    invalid = put(api, "company.team", "hello", "id: hello\nnamespace: company.team\n")
    assert invalid.status_code == 422
    assert invalid.json()["_embedded"]["errors"]
    assert api.client.get("/api/v1/flows/company.team/hello").json()["revision"] == 1


def test_revisions_get_one_and_roll_back(api: Api) -> None:
    post(api, flow(message="one"))
    put(api, "company.team", "hello", flow(message="two"))
    put(api, "company.team", "hello", flow(message="three"))
    listed = api.client.get("/api/v1/flows/company.team/hello/revisions")
    assert listed.status_code == 200
    assert [(r["revision"], r["tasks"][0]["message"]) for r in listed.json()] == [
        (1, "one"),
        (2, "two"),
        (3, "three"),
    ]
    assert [r["source"] for r in listed.json()] == [
        flow(message=m) for m in ("one", "two", "three")
    ]
    second = api.client.get("/api/v1/flows/company.team/hello", params={"revision": 2})
    assert second.json()["revision"] == 2
    assert second.json()["tasks"][0]["message"] == "two"
    assert (
        api.client.get("/api/v1/flows/company.team/hello", params={"revision": 9}).status_code
        == 404
    )

    restored = api.client.post("/api/v1/flows/company.team/hello/revisions/1/restore")
    assert restored.status_code == 200, restored.text
    assert restored.json()["revision"] == 4
    assert restored.json()["source"] == flow(message="one")
    assert api.client.get("/api/v1/flows/company.team/hello").json()["revision"] == 4
    assert audit_actions(api)[-1][0::2] == (
        "FLOW_RESTORED",
        {
            "tenant": "main",
            "namespace": "company.team",
            "flowId": "hello",
            "revision": 4,
            "fromRevision": 1,
        },
    )
    assert (
        api.client.post("/api/v1/flows/company.team/hello/revisions/99/restore").status_code == 404
    )
    assert api.client.get("/api/v1/flows/company.team/nope/revisions").status_code == 404


def wait_state(api: Api, execution_id: str, state: StateType) -> None:
    deadline = time.monotonic() + 15
    while True:
        execution = service.get_execution(api.store, execution_id)
        assert execution is not None
        if execution.state.current is state:
            return
        assert time.monotonic() < deadline, f"still {execution.state.current}"
        time.sleep(0.02)


def test_delete_hides_the_flow_but_a_paused_execution_still_resumes(api: Api) -> None:
    post(api, FLOW)
    someone = Principal("someone")
    execution = service.create_execution(
        api.store, "main", "company.team", "approve", {"amount": 3}, someone
    )
    wait_state(api, execution.id, StateType.PAUSED)

    deleted = api.client.delete("/api/v1/flows/company.team/approve")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert api.client.get("/api/v1/flows/company.team/approve").status_code == 404
    assert api.client.delete("/api/v1/flows/company.team/approve").status_code == 404
    assert api.client.get("/api/v1/flows/search").json()["total"] == 0
    assert audit_actions(api)[-1][:2] == ("FLOW_DELETED", "admin")
    # Kestra's allowDeleted shows the deleted flow, marked so.
    shown = api.client.get(
        "/api/v1/flows/company.team/approve", params={"allowDeleted": "true"}
    ).json()
    assert (shown["deleted"], shown["revision"]) == (True, 2)

    service.resume(api.store, execution.id, {}, someone)
    wait_state(api, execution.id, StateType.SUCCESS)

    # The revisions stay listed, and restoring one brings the flow back.
    assert [
        r["revision"] for r in api.client.get("/api/v1/flows/company.team/approve/revisions").json()
    ] == [1]
    back = api.client.post("/api/v1/flows/company.team/approve/revisions/1/restore")
    assert back.json()["revision"] == 3
    assert api.client.get("/api/v1/flows/company.team/approve").json()["deleted"] is False


def test_flows_belong_to_their_tenant(api: Api) -> None:
    api.add_tenant("demo")
    assert post(api, flow(message="demo"), tenant="demo").status_code == 200
    assert api.client.get("/api/v1/flows/company.team/hello").status_code == 404
    assert api.client.get("/api/v1/main/flows/company.team/hello").status_code == 404
    assert api.client.get("/api/v1/flows/search").json()["total"] == 0
    assert api.client.get("/api/v1/flows/distinct-namespaces").json() == []
    # The same flow id in `main` is another flow, with its own revisions.
    created = post(api, flow(message="main"))
    assert created.status_code == 200
    assert created.json()["tenantId"] == "main"
    put(api, "company.team", "hello", flow(message="main 2"))
    demo = api.client.get("/api/v1/demo/flows/company.team/hello").json()
    assert (demo["tenantId"], demo["revision"], demo["tasks"][0]["message"]) == (
        "demo",
        1,
        "demo",
    )
    assert api.client.delete("/api/v1/demo/flows/company.team/hello").status_code == 204
    assert api.client.get("/api/v1/flows/company.team/hello").json()["revision"] == 2


def test_flows_need_credentials(sqlite_api: Api) -> None:
    with sqlite_api.anonymous() as anonymous:
        assert anonymous.get("/api/v1/flows/search").status_code == 401
        response = anonymous.post("/api/v1/flows", content=flow(), headers=YAML)
        assert response.status_code == 401
    assert sqlite_api.client.get("/api/v1/flows/company.team/hello").status_code == 404


def test_a_revision_that_no_longer_validates_is_still_shown(api: Api) -> None:
    # Written by an older, more lenient Perch: today's validator rejects the task type.
    legacy = (
        "id: legacy\nnamespace: company.team\nlabels:\n  team: old\n"
        "tasks:\n  - id: x\n    type: io.kestra.plugin.core.Gone\n    value: 1\n"
    )
    with api.store.transaction() as tx:
        tx.save_flow(StoredFlow("main", "company.team", "legacy", 0, legacy))
    got = api.client.get("/api/v1/flows/company.team/legacy", params={"source": "true"})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["tasks"] == [{"id": "x", "type": "io.kestra.plugin.core.Gone", "value": 1}]
    assert body["labels"] == [{"key": "team", "value": "old"}]
    assert body["source"] == legacy
    found = api.client.get("/api/v1/flows/search", params={"labels": "team:old"}).json()
    assert [f["id"] for f in found["results"]] == ["legacy"]
    fixed = put(api, "company.team", "legacy", flow("legacy"))
    assert fixed.status_code == 200
    assert fixed.json()["revision"] == 2
    # Restoring the old source runs today's validation.
    refused = api.client.post("/api/v1/flows/company.team/legacy/revisions/1/restore")
    assert refused.status_code == 422
    assert refused.json()["_embedded"]["errors"][0]["line"] == 7
