"""Probes of how the server answers requests: links, headers, bodies (issue 8, "Requests")."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.security.conftest import Live, start_live, stop_live

PUBLIC_URL = "https://perch.example.org"

FLOW = """
id: hello
namespace: probes.requests
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hi
"""


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A live server told its public address through PERCH_URL."""
    running = start_live(tmp_path_factory.mktemp("published"), {"PERCH_URL": PUBLIC_URL})
    yield running
    stop_live(running)


def test_execution_url_is_the_configured_address_not_the_host_header(published: Live) -> None:
    published.deploy(FLOW)
    response = published.client.post(
        "/api/v1/main/executions/probes.requests/hello", headers={"Host": "evil.example.com"}
    )
    assert response.status_code == 200, response.text
    url = response.json()["url"]
    assert url.startswith(f"{PUBLIC_URL}/ui/main/executions/probes.requests/hello/")
    assert "evil" not in url


def test_without_perch_url_the_bound_address_is_used(live: Live) -> None:
    live.deploy(FLOW)
    response = live.client.post(
        "/api/v1/main/executions/probes.requests/hello", headers={"Host": "evil.example.com"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["url"].startswith(f"{live.url}/ui/main/executions/")


def test_html_answers_carry_protective_headers(live: Live) -> None:
    docs = live.client.get("/api/v1/docs")
    assert docs.status_code == 200, docs.text
    assert docs.headers["content-type"].startswith("text/html")
    assert docs.headers["x-content-type-options"] == "nosniff"
    assert docs.headers["x-frame-options"] == "DENY"
    policy = docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'self'" in policy
    # A JSON answer is left as it was.
    assert "content-security-policy" not in live.client.get("/api/v1/main/flows/search").headers


def test_a_thousand_label_filters_answer_422_and_keep_the_sql_out_of_the_log(live: Live) -> None:
    params = [("labels", f"k{i}:v{i}") for i in range(1200)]
    response = live.client.get("/api/v1/main/executions/search", params=params)
    assert response.status_code == 422, response.text
    assert "label" in response.json()["message"]
    assert "SELECT" not in live.server_log().upper()
