"""Searching executions over HTTP (every filter in Kestra's 1.x form and the legacy one,
pagination, sort), the per-flow listing, and deleting executions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from tests.api.conftest import Api

from perch.store.schema import audit

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

FAILING = """\
id: failing
namespace: company.team.sub
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: boom
"""

PAUSING = """\
id: pausing
namespace: company.teamx
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
"""


@dataclass
class Seeded:
    """Four settled executions, oldest first: prod (SUCCESS), dev (SUCCESS), failed, paused."""

    prod: dict[str, Any]
    dev: dict[str, Any]
    failed: dict[str, Any]
    paused: dict[str, Any]


def _run(api: Api, path: str, labels: list[str] = (), tenant: str = "main") -> dict[str, Any]:  # type: ignore[assignment]
    params = [("wait", "true"), *(("labels", label) for label in labels)]
    response = api.client.post(f"/api/v1/{tenant}/executions/{path}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["state"]["current"] in ("SUCCESS", "FAILED", "PAUSED"), body["state"]
    return body


def seed(api: Api) -> Seeded:
    for source in (QUICK, FAILING, PAUSING):
        api.deploy(source)
    return Seeded(
        prod=_run(api, "company.team/quick", ["env:prod"]),
        dev=_run(api, "company.team/quick", ["env:dev"]),
        failed=_run(api, "company.team.sub/failing"),
        paused=_run(api, "company.teamx/pausing"),
    )


def ids(api: Api, params: Any, path: str = "/api/v1/executions/search") -> list[str]:
    response = api.client.get(path, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] >= len(body["results"])
    return [e["id"] for e in body["results"]]


def names(seeded: Seeded, *which: str) -> list[str]:
    return [getattr(seeded, w)["id"] for w in which]


def test_filters_in_both_forms(api: Api) -> None:
    s = seed(api)
    newest_first = names(s, "paused", "failed", "dev", "prod")
    assert ids(api, {}) == newest_first

    assert ids(api, {"filters[state][EQUALS]": "PAUSED"}) == names(s, "paused")
    assert ids(api, [("state", "FAILED"), ("state", "PAUSED")]) == names(s, "paused", "failed")
    assert ids(api, {"filters[state][IN]": "SUCCESS,FAILED"}) == names(s, "failed", "dev", "prod")
    assert ids(api, {"filters[state][NOT_IN]": "SUCCESS"}) == names(s, "paused", "failed")

    family = names(s, "failed", "dev", "prod")
    assert ids(api, {"namespace": "company.team"}) == family
    assert ids(api, {"filters[namespace][PREFIX]": "company.team"}) == family
    assert ids(api, {"filters[namespace][EQUALS]": "company.team"}) == names(s, "dev", "prod")
    assert ids(api, {"filters[namespace][STARTS_WITH]": "company.team"}) == newest_first
    assert ids(api, {"filters[namespace][CONTAINS]": "teamx"}) == names(s, "paused")
    assert ids(api, {"filters[namespace][NOT_EQUALS]": "company.team"}) == names(
        s, "paused", "failed"
    )

    assert ids(api, {"flowId": "failing"}) == names(s, "failed")
    assert ids(api, {"filters[flowId][EQUALS]": "quick"}) == names(s, "dev", "prod")

    assert ids(api, {"labels": "env:prod"}) == names(s, "prod")
    assert ids(api, {"filters[labels][EQUALS][env]": "dev"}) == names(s, "dev")
    assert ids(api, {"filters[labels][EQUALS]": "team:blue"}) == names(s, "dev", "prod")
    assert ids(api, [("labels", "team:blue"), ("labels", "env:prod")]) == names(s, "prod")
    assert ids(api, {"filters[labels][EQUALS][system.username]": "admin"}) == newest_first

    assert ids(api, {"q": s.prod["id"]}) == names(s, "prod")
    assert ids(api, {"filters[q][EQUALS]": "TEAMX"}) == names(s, "paused")


def test_date_filters(api: Api) -> None:
    s = seed(api)
    dev_start = s.dev["state"]["startDate"]
    later = names(s, "paused", "failed", "dev")
    assert ids(api, {"filters[startDate][GREATER_THAN_OR_EQUAL_TO]": dev_start}) == later
    assert ids(api, {"startDate": dev_start}) == later
    assert ids(api, {"filters[startDate][GREATER_THAN]": dev_start}) == names(s, "paused", "failed")
    assert ids(api, {"filters[startDate][LESS_THAN]": dev_start}) == names(s, "prod")
    assert ids(api, {"filters[startDate][LESS_THAN_OR_EQUAL_TO]": dev_start}) == names(
        s, "dev", "prod"
    )
    dev_end = s.dev["state"]["endDate"]
    assert ids(api, {"endDate": dev_end}) == names(s, "dev", "prod")
    assert ids(api, {"filters[endDate][LESS_THAN]": dev_end}) == names(s, "prod")
    assert ids(api, {"filters[endDate][GREATER_THAN]": dev_end}) == names(s, "paused", "failed")
    assert ids(api, {"timeRange": "PT1H"}) == names(s, "paused", "failed", "dev", "prod")
    assert ids(api, {"filters[timeRange][EQUALS]": "PT1H"}) == ids(api, {"timeRange": "PT1H"})
    assert ids(api, {"filters[startDate][LESS_THAN]": "2000-01-01T00:00:00Z"}) == []


def test_pages_sorts_and_refusals(api: Api) -> None:
    s = seed(api)
    pages = [ids(api, {"size": 3, "page": n, "sort": "state.startDate:asc"}) for n in (1, 2, 3)]
    assert pages == [names(s, "prod", "dev", "failed"), names(s, "paused"), []]
    response = api.client.get("/api/v1/executions/search", params={"size": 1})
    assert response.json()["total"] == 4
    assert len(response.json()["results"]) == 1
    by_flow = ids(api, {"sort": "flowId:asc", "filters[state][NOT_EQUALS]": "SUCCESS"})
    assert by_flow == names(s, "failed", "paused")
    by_state = ids(api, {"sort": "state.current:desc", "filters[flowId][NOT_EQUALS]": "quick"})
    assert by_state == names(s, "paused", "failed")
    for bad in (
        {"filters[colour][EQUALS]": "red"},
        {"filters[state][LIKE]": "PAUSED"},
        {"filters[state][EQUALS]": "ASLEEP"},
        {"sort": "colour:asc"},
        {"size": 1001},
        {"page": 0},
        {"state": "ASLEEP"},
        {"startDate": "yesterday"},
        {"timeRange": "a while"},
    ):
        response = api.client.get("/api/v1/executions/search", params=bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["message"]


def test_listing_of_one_flow(api: Api) -> None:
    s = seed(api)
    path = "/api/v1/executions"
    assert ids(api, {"namespace": "company.team", "flowId": "quick"}, path) == names(
        s, "dev", "prod"
    )
    # The namespace is the flow's, exactly: not a prefix here.
    assert ids(api, {"namespace": "company", "flowId": "quick"}, path) == []
    assert ids(api, {"namespace": "company.team", "flowId": "quick", "size": 1}, path) == names(
        s, "dev"
    )
    assert api.client.get(path, params={"namespace": "company.team"}).status_code == 422


def test_search_stays_in_its_tenant(api: Api) -> None:
    api.add_tenant("demo")
    api.deploy(QUICK, tenant="demo")
    theirs = _run(api, "company.team/quick", tenant="demo")
    assert ids(api, {}) == []
    assert ids(api, {}, "/api/v1/demo/executions/search") == [theirs["id"]]
    assert ids(api, {"q": theirs["id"]}) == []


def _audit_rows(api: Api, execution_id: str) -> int:
    with api.store.transaction() as tx:  # type: ignore[attr-defined]
        query = select(func.count()).select_from(audit).where(audit.c.execution_id == execution_id)
        return int(tx.connection.execute(query).scalar_one())


def test_delete_a_terminated_execution(api: Api) -> None:
    s = seed(api)
    execution_id = s.prod["id"]
    assert _audit_rows(api, execution_id) > 0
    with api.store.transaction() as tx:
        assert tx.get_logs(execution_id) != []

    response = api.client.delete(f"/api/v1/executions/{execution_id}")

    assert response.status_code == 204, response.text
    assert response.content == b""
    assert api.client.get(f"/api/v1/executions/{execution_id}").status_code == 404
    assert execution_id not in ids(api, {})
    with api.store.transaction() as tx:
        assert tx.get_logs(execution_id) == []
    # The audit trail keeps what happened, and records the deletion.
    rows_after = _audit_rows(api, execution_id)
    assert rows_after > 1
    assert api.store.verify_audit_chain().ok  # type: ignore[attr-defined]
    again = api.client.delete(f"/api/v1/executions/{execution_id}")
    assert again.status_code == 404


def test_delete_refuses_a_live_execution_and_other_tenants(api: Api) -> None:
    api.add_tenant("demo")
    s = seed(api)
    paused = s.paused["id"]
    response = api.client.delete(f"/api/v1/executions/{paused}")
    assert response.status_code == 409, response.text
    assert response.json()["message"] == (
        f"Illegal state: Execution '{paused}' is not finished, kill it first"
    )
    assert api.client.get(f"/api/v1/executions/{paused}").status_code == 200
    assert api.client.delete(f"/api/v1/demo/executions/{s.prod['id']}").status_code == 404
    assert api.client.get(f"/api/v1/executions/{s.prod['id']}").status_code == 200


def test_delete_by_ids_is_all_or_nothing(api: Api) -> None:
    s = seed(api)
    refused = api.client.request(
        "DELETE",
        "/api/v1/executions/by-ids",
        json=[s.prod["id"], s.paused["id"], "nope"],
    )
    assert refused.status_code == 400, refused.text
    body = refused.json()
    assert body["message"] == "invalid bulk delete"
    reasons = {i["invalidValue"]: i["message"] for i in body["invalids"]}
    assert reasons == {
        s.paused["id"]: "execution not finished, kill it first",
        "nope": "execution not found",
    }
    assert len(ids(api, {})) == 4

    done = api.client.request(
        "DELETE", "/api/v1/executions/by-ids", json=[s.prod["id"], s.failed["id"], s.prod["id"]]
    )
    assert done.status_code == 200, done.text
    assert done.json() == {"count": 2, "invalids": []}
    assert ids(api, {}) == names(s, "paused", "dev")
