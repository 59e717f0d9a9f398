"""``GET /auditlogs/search`` and ``/auditlogs/export`` over real HTTP, on SQLite and PostgreSQL:
filters, newest first, pages, tenants kept apart, exports in JSON lines and CSV, SECRET values
masked, and records that outlive what they were about."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.api.conftest import Api, state_is
from tests.api.hitl import APPROVAL, create, form

from perch import identity
from perch.engine.effects import Audit
from perch.engine.principal import SYSTEM, Principal, PrincipalKind

T0 = datetime(2020, 3, 1, 12, 0, tzinfo=UTC)
ANA = Principal("ana", PrincipalKind.USER)
BOT = Principal("bot", PrincipalKind.SERVICE_ACCOUNT)


@pytest.fixture
def seeded(api: Api) -> Api:
    """Six records of tenant main, one of tenant other, an hour apart, oldest first."""
    records = [
        ("ex1", Audit("RESUME", ANA, {"inputs": {"ok": True}}, namespace="company.team")),
        ("ex1", Audit("KILL", BOT, {}, namespace="company.team")),
        ("ex2", Audit("RESUME", ANA, {}, namespace="company")),
        ("ex3", Audit("RESUME_DENIED", BOT, {}, namespace="companyx")),
        (None, Audit("USER_CREATED", ANA, {"userId": "u1"})),
        (None, Audit("FLOW_CREATED", SYSTEM, {"namespace": "company.team", "flowId": "f"})),
        (None, Audit("GROUP_CREATED", ANA, {"tenant": "other", "groupId": "g1"})),
    ]
    with api.store.transaction() as tx:
        for n, (execution_id, record) in enumerate(records):
            tx.add_audit(execution_id, record, T0 + timedelta(hours=n))
    return api


def search(api: Api, tenant: str = "main", **params: Any) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/{tenant}/auditlogs/search", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def actions(body: dict[str, Any]) -> list[str]:
    return [record["action"] for record in body["results"]]


def seeded_only(body: dict[str, Any]) -> dict[str, Any]:
    """The seeded records (2020), without those the API itself wrote (the admin's creation)."""
    kept = [r for r in body["results"] if r["date"].startswith("2020")]
    return {"results": kept, "total": len(kept)}


def test_search_filters_newest_first(seeded: Api) -> None:
    api = seeded
    every = seeded_only(search(api, size=100))
    assert actions(every) == [
        "FLOW_CREATED",
        "USER_CREATED",
        "RESUME_DENIED",
        "RESUME",
        "KILL",
        "RESUME",
    ]
    assert actions(search(api, principal="ana", startDate="2020-01-01T00:00:00Z")) == [
        "USER_CREATED",
        "RESUME",
        "RESUME",
    ]
    assert actions(search(api, action="KILL")) == ["KILL"]
    by_execution = search(api, executionId="ex1")
    assert actions(by_execution) == ["KILL", "RESUME"]
    assert by_execution["total"] == 2
    # A namespace covers its children, not its look-alikes.
    assert actions(search(api, namespace="company")) == ["FLOW_CREATED", "RESUME", "KILL", "RESUME"]
    assert actions(search(api, resourceType="USER", endDate="2021-01-01T00:00:00Z")) == [
        "USER_CREATED"
    ]
    assert actions(search(api, resourceType="FLOW", resourceId="f")) == ["FLOW_CREATED"]
    window = search(api, startDate="2020-03-01T13:00:00Z", endDate="2020-03-01T15:00:00")
    assert actions(window) == ["RESUME", "KILL"]
    first = search(api, startDate="2020-01-01T00:00:00Z", endDate="2021-01-01T00:00:00Z", size=4)
    second = search(
        api, startDate="2020-01-01T00:00:00Z", endDate="2021-01-01T00:00:00Z", size=4, page=2
    )
    assert first["total"] == second["total"] == 6
    assert actions(first) + actions(second) == actions(every)


def test_a_record_has_every_field(seeded: Api) -> None:
    (record,) = search(seeded, action="KILL")["results"]
    assert record == {
        "id": record["id"],
        "tenant": "main",
        "date": "2020-03-01T13:00:00Z",
        "principal": {"name": "bot", "kind": "SERVICE_ACCOUNT"},
        "action": "KILL",
        "resourceType": "EXECUTION",
        "resourceId": "ex1",
        "namespace": "company.team",
        "executionId": "ex1",
        "channel": "API",
        "address": None,
        "userAgent": None,
        "outcome": "SUCCESS",
        "detail": {},
        "before": None,
        "after": None,
    }
    (denied,) = search(seeded, action="RESUME_DENIED")["results"]
    assert denied["outcome"] == "DENIED"
    (system,) = search(seeded, action="FLOW_CREATED")["results"]
    assert system["channel"] == "SYSTEM"


def test_tenants_are_kept_apart(seeded: Api) -> None:
    seeded.add_tenant("other")
    assert actions(search(seeded, "other")) == ["TENANT_CREATED", "GROUP_CREATED"]
    assert "GROUP_CREATED" not in actions(search(seeded, size=100))
    # A transition's records go to its execution's tenant and namespace.
    seeded.deploy(APPROVAL, tenant="other")
    execution_id = create(seeded, "company.team", "approval", tenant="other")
    seeded.wait(execution_id, state_is("PAUSED"), tenant="other")
    (created,) = search(seeded, "other", executionId=execution_id)["results"]
    assert (created["action"], created["namespace"]) == ("CREATE", "company.team")
    assert search(seeded, executionId=execution_id)["results"] == []


def test_export_jsonl_and_csv(seeded: Api) -> None:
    params = {"namespace": "company"}
    with seeded.client.stream(
        "GET", "/api/v1/main/auditlogs/export", params={**params, "format": "jsonl"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert [line["action"] for line in lines] == ["FLOW_CREATED", "RESUME", "KILL", "RESUME"]
    assert lines[-1]["detail"] == {"inputs": {"ok": True}}

    response = seeded.client.get(
        "/api/v1/main/auditlogs/export", params={**params, "format": "csv"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "auditlogs.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["action"] for row in rows] == ["FLOW_CREATED", "RESUME", "KILL", "RESUME"]
    assert rows[-1]["principalName"] == "ana"
    assert json.loads(rows[-1]["detail"]) == {"inputs": {"ok": True}}
    assert rows[0]["date"] == "2020-03-01T17:00:00Z"

    bad = seeded.client.get("/api/v1/main/auditlogs/export", params={"format": "xml"})
    assert bad.status_code == 422


def test_records_outlive_what_they_recorded_and_keep_secrets_masked(api: Api) -> None:
    api.deploy(APPROVAL)
    execution_id = create(api, "company.team", "approval")
    api.wait(execution_id, state_is("PAUSED"))
    resumed = api.client.post(
        f"/api/v1/executions/{execution_id}/resume",
        **form(approved="true", reason="fine", pin="canary-pin-7731"),
    )
    assert resumed.status_code == 204, resumed.text
    api.wait(execution_id, state_is("SUCCESS"))
    assert api.client.delete(f"/api/v1/executions/{execution_id}").status_code == 204
    assert api.client.delete("/api/v1/flows/company.team/approval").status_code == 204
    user = identity.create_user(api.store, "leaver", "correct horse battery")
    identity.delete_user(api.store, user.id)

    trail = search(api, executionId=execution_id)
    assert {"CREATE", "RESUME", "EXECUTION_DELETED"} <= set(actions(trail))
    assert actions(trail)[0] == "EXECUTION_DELETED"
    assert "canary-pin-7731" not in json.dumps(trail)
    flow = search(api, resourceType="FLOW", resourceId="approval")
    assert set(actions(flow)) >= {"FLOW_CREATED", "FLOW_DELETED"}
    person = search(api, resourceType="USER", resourceId=user.id)
    assert actions(person) == ["USER_DELETED", "USER_CREATED"]
    assert api.store.verify_audit_chain().ok  # type: ignore[attr-defined]
