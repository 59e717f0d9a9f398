"""The total of an execution search over HTTP: exact up to the server's exact-count limit, an
estimate flagged by ``totalEstimated`` and ``X-Total-Estimated`` beyond it, the page itself
right either way; on SQLite and PostgreSQL, with a limit of 3 so that a few executions cross it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tests.api.conftest import Api, open_test_store, start_api, stop_api
from tests.api.test_executions_search import FAILING, PAUSING, QUICK
from tests.conftest import KESTRAPY_VERSIONS, sdk_dir

from perch.api import ApiSettings

LIMIT = 3
SEARCH = "/api/v1/main/executions/search"


@dataclass
class Seeded:
    api: Api
    backend: str
    quick: list[str]
    """Five SUCCESS executions in company.team, labelled ``team:blue``."""
    failed: list[str]
    """Two FAILED ones in company.team.sub."""
    paused: str
    """One PAUSED one in company.teamx (not a child of company.team)."""


def _run(api: Api, path: str, *labels: str) -> str:
    params = [("wait", "true"), *(("labels", label) for label in labels)]
    response = api.client.post(f"/api/v1/main/executions/{path}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["state"]["current"] in ("SUCCESS", "FAILED", "PAUSED"), body["state"]
    return str(body["id"])


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Seeded]:
    """One server per backend for the module (the test that changes executions comes last)."""
    backend: str = request.param
    folder = tmp_path_factory.mktemp("totals")
    api = start_api(open_test_store(backend, folder), settings=ApiSettings(exact_count_limit=LIMIT))
    try:
        for source in (QUICK, FAILING, PAUSING):
            api.deploy(source)
        quick = [_run(api, "company.team/quick", "team:blue") for _ in range(5)]
        failed = [_run(api, "company.team.sub/failing") for _ in range(2)]
        paused = _run(api, "company.teamx/pausing")
        yield Seeded(api, backend, quick, failed, paused)
    finally:
        stop_api(api)


def _search(api: Api, params: list[tuple[str, str]]) -> tuple[dict[str, Any], str]:
    response = api.client.get(SEARCH, params=[*params, ("size", "25")])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body, response.headers["X-Total-Estimated"]


def _ids(body: dict[str, Any]) -> set[str]:
    return {r["id"] for r in body["results"]}


def test_totals_up_to_the_limit_are_exact(seeded: Seeded) -> None:
    body, header = _search(seeded.api, [("state", "FAILED")])
    assert (body["total"], header, _ids(body)) == (2, "false", set(seeded.failed))
    assert "totalEstimated" not in body
    # Exactly the limit, with a filter the counts per flow and state cannot answer (a date).
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    params = [("state", "FAILED"), ("state", "PAUSED"), ("startDate", since)]
    body, header = _search(seeded.api, params)
    assert (body["total"], header) == (LIMIT, "false")
    assert _ids(body) == {*seeded.failed, seeded.paused}


def test_beyond_the_limit_the_total_is_an_estimate_and_says_so(seeded: Seeded) -> None:
    # A label is not among the columns counted per flow and state: estimated on both backends.
    body, header = _search(seeded.api, [("labels", "team:blue")])
    assert (body.get("totalEstimated"), header) == (True, "true")
    assert _ids(body) == set(seeded.quick)  # the page itself is exact
    assert body["total"] > LIMIT
    if seeded.backend == "sqlite":
        # The executions of the same states, namespaces and flows: an upper bound (all 8 here).
        assert 5 <= body["total"] <= 8
    # filters[...] form, a namespace and its children: 7 matches, company.teamx left out.
    body, header = _search(seeded.api, [("filters[namespace][PREFIX]", "company.team")])
    assert _ids(body) == {*seeded.quick, *seeded.failed}
    if seeded.backend == "sqlite":
        # Counted per (tenant, namespace, flow, state) by triggers: exact at any size.
        assert (body["total"], header, "totalEstimated" in body) == (7, "false", False)
    else:
        # PostgreSQL's planner estimate, never below what was counted.
        assert (body["totalEstimated"], header) == (True, "true")
        assert body["total"] > LIMIT


def test_the_flows_listing_flags_its_estimate_too(seeded: Seeded) -> None:
    params = {"namespace": "company.team", "flowId": "quick", "size": "2"}
    response = seeded.api.client.get("/api/v1/main/executions", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["results"]) == 2
    if seeded.backend == "sqlite":
        assert (body["total"], response.headers["X-Total-Estimated"]) == (5, "false")
    else:
        assert (body["totalEstimated"], response.headers["X-Total-Estimated"]) == (True, "true")
        assert body["total"] > LIMIT


@pytest.mark.kestrapy
@pytest.mark.parametrize("version", KESTRAPY_VERSIONS)
def test_kestrapy_keeps_the_flag(seeded: Seeded, version: str) -> None:
    """Kestra's SDK models read an estimated page: ``total`` as usual, the flag as an extra
    field (the results are those of any search, which the conformance suite validates)."""
    if seeded.backend != "sqlite":
        pytest.skip("the SDK's model does not depend on the backend")
    body, _ = _search(seeded.api, [("labels", "team:blue")])
    page = {key: value for key, value in body.items() if key != "results"}
    # The page model of the search: 1.x answers with Executions, 2.x with light ones.
    name = "PagedResultsExecution" if version.startswith("1.") else "PagedResultsApiLightExecution"
    script = (
        "import json, sys, warnings\n"
        "warnings.simplefilter('ignore')\n"
        "import kestrapy.models as models\n"
        f"page = models.{name}.from_dict({{'results': [], **json.loads(sys.argv[1])}})\n"
        "print(json.dumps([page.total, page.additional_properties]))\n"
    )
    env = {**os.environ, "PYTHONPATH": sdk_dir(version)}
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(page)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [body["total"], {"totalEstimated": True}]


def test_totals_follow_deletions_and_state_changes(seeded: Seeded) -> None:
    api = seeded.api
    response = api.client.delete(f"/api/v1/main/executions/{seeded.failed[0]}")
    assert response.status_code == 204, response.text
    body, header = _search(api, [("state", "FAILED")])
    assert (body["total"], header, _ids(body)) == (1, "false", {seeded.failed[1]})
    response = api.client.delete(f"/api/v1/main/executions/{seeded.paused}/kill")
    assert response.status_code == 202, response.text
    api.wait(seeded.paused, lambda b: b["state"]["current"] == "KILLED")
    body, _ = _search(api, [("state", "PAUSED")])
    assert body["total"] == 0
    body, _ = _search(api, [("state", "KILLED"), ("namespace", "company.teamx")])
    assert (body["total"], _ids(body)) == (1, {seeded.paused})
