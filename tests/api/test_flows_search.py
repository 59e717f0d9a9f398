"""Flow search, namespace listing and validation over HTTP."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

YAML = {"Content-Type": "application/x-yaml"}


def flow(flow_id: str, namespace: str, labels: dict[str, str] | None = None) -> str:
    text = f"id: {flow_id}\nnamespace: {namespace}\n"
    if labels:
        text += "labels:\n" + "".join(f"  {k}: {v}\n" for k, v in labels.items())
    return text + "tasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"


def seed(api: Api) -> None:
    for source in (
        flow("invoices", "company.team", {"team": "finance", "env": "prod"}),
        flow("payroll", "company.team", {"team": "finance", "env": "dev"}),
        flow("deploy", "company.team.ops", {"team": "ops"}),
        flow("report", "company.teamx"),
        flow("hello", "other"),
    ):
        api.deploy(source)


def ids(api: Api, params: Any) -> list[str]:
    response = api.client.get("/api/v1/flows/search", params=params)
    assert response.status_code == 200, response.text
    return [f"{f['namespace']}.{f['id']}" for f in response.json()["results"]]


def test_search_filters_pages_and_sorts(api: Api) -> None:
    seed(api)
    every = api.client.get("/api/v1/flows/search").json()
    assert every["total"] == 5
    assert {"id", "namespace", "revision", "tasks", "labels"} <= set(every["results"][0])
    assert ids(api, {"namespace": "company.team"}) == [
        "company.team.invoices",
        "company.team.payroll",
        "company.team.ops.deploy",
    ]
    assert ids(api, {"q": "PAY"}) == ["company.team.payroll"]
    assert ids(api, {"q": "teamx"}) == ["company.teamx.report"]
    assert ids(api, [("labels", "team:finance"), ("labels", "env:dev")]) == ["company.team.payroll"]
    page = api.client.get(
        "/api/v1/flows/search", params={"page": 2, "size": 2, "sort": "id:desc"}
    ).json()
    assert page["total"] == 5
    assert [f["id"] for f in page["results"]] == ["invoices", "hello"]
    assert ids(api, {"page": 9}) == []


def test_search_accepts_kestra_1x_filters(api: Api) -> None:
    seed(api)
    assert ids(api, {"filters[namespace][PREFIX]": "company.team"}) == [
        "company.team.invoices",
        "company.team.payroll",
        "company.team.ops.deploy",
    ]
    assert ids(api, {"filters[namespace][EQUALS]": "company.team"}) == [
        "company.team.invoices",
        "company.team.payroll",
    ]
    assert ids(api, {"filters[namespace][STARTS_WITH]": "company.team"}) == [
        "company.team.invoices",
        "company.team.payroll",
        "company.team.ops.deploy",
        "company.teamx.report",
    ]
    assert ids(api, {"filters[q][EQUALS]": "roll"}) == ["company.team.payroll"]
    assert ids(api, {"filters[flowId][CONTAINS]": "O"}) == [
        "company.team.invoices",
        "company.team.payroll",
        "company.team.ops.deploy",
        "company.teamx.report",
        "other.hello",
    ]
    assert ids(
        api,
        {"filters[labels][EQUALS][team]": "finance", "filters[labels][NOT_EQUALS][env]": "dev"},
    ) == ["company.team.invoices"]


def test_search_rejects_what_it_cannot_do(sqlite_api: Api) -> None:
    for params in (
        {"filters[state][EQUALS]": "x"},
        {"filters[namespace][LESS_THAN]": "x"},
        {"filters[labels][EQUALS]": "x"},
        {"filters[or][0][namespace][EQUALS]": "x"},
        {"sort": "color:asc"},
        {"sort": "id:sideways"},
        {"labels": "nocolon"},
        {"page": 0},
        {"size": 0},
    ):
        response = sqlite_api.client.get("/api/v1/flows/search", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["message"]


def test_namespace_listings(api: Api) -> None:
    seed(api)
    assert api.client.get("/api/v1/flows/distinct-namespaces").json() == [
        "company.team",
        "company.team.ops",
        "company.teamx",
        "other",
    ]
    assert api.client.get("/api/v1/flows/distinct-namespaces", params={"q": "OPS"}).json() == [
        "company.team.ops"
    ]
    listed = api.client.get("/api/v1/flows/company.team")
    assert listed.status_code == 200
    assert [f["id"] for f in listed.json()] == ["invoices", "payroll"]
    assert api.client.get("/api/v1/flows/nothing.here").json() == []


def test_validate_reports_each_document_with_absolute_lines(sqlite_api: Api) -> None:
    sqlite_api.deploy(flow("hello", "company.team"))
    body = (
        flow("good", "company.team")
        + "---\n"
        + "id: bad\nnamespace: company.team\ntasks:\n  - id: x\n    type: nope.Nope\n"
        + "---\n"
        + flow("hello", "company.team").replace("tasks:", "revision: 1\ntasks:")
    )
    response = sqlite_api.client.post("/api/v1/flows/validate", content=body, headers=YAML)
    assert response.status_code == 200, response.text
    good, bad, outdated = response.json()
    assert good == {
        "index": 0,
        "flow": "good",
        "namespace": "company.team",
        "constraints": None,
        "outdated": False,
        "deprecationPaths": [],
        "warnings": [],
        "infos": [],
        "problems": [],
        "warningProblems": [],
    }
    assert (bad["index"], bad["flow"], bad["namespace"]) == (1, "bad", "company.team")
    assert bad["constraints"]
    [problem] = bad["problems"]
    # The second document starts on line 8 of the body; its bad type is on its line 5.
    assert (problem["path"], problem["line"]) == ("tasks[0].type", 12)
    assert outdated["constraints"] is None
    assert outdated["outdated"] is True
    # Nothing was saved.
    assert sqlite_api.client.get("/api/v1/flows/company.team/good").status_code == 404


def test_validate_never_fails_on_garbage(sqlite_api: Api) -> None:
    for body in (b"", b"---\n---\n", b"{{{", b"id: [", b"\t\x00\x01", b"- 1\n- 2\n", b"42"):
        response = sqlite_api.client.post("/api/v1/flows/validate", content=body, headers=YAML)
        assert response.status_code == 200, (body, response.text)
        results = response.json()
        assert results
        assert all(r["constraints"] and r["problems"] for r in results), (body, results)
    not_text = sqlite_api.client.post("/api/v1/flows/validate", content=b"\xff\xfe", headers=YAML)
    assert not_text.status_code == 422
