"""Probes of how the server answers requests: links, headers, bodies (issue 8, "Requests")."""

from __future__ import annotations

import base64
import select
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from tests.security.conftest import ADMIN, Live, start_live, stop_live

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


# --- bodies bounded before anything reads them ------------------------------------------------

STRING_FLOW = """
id: echo
namespace: probes.bodies
inputs:
  - id: text
    type: STRING
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.text | length }}"
"""

MB = 1024 * 1024


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _chunked_post(
    url: str, path: str, total: int, auth: str | None = None, kind: str = "application/json"
) -> tuple[int, int]:
    """POST ``total`` bytes of chunked body (no Content-Length) on a raw socket, stopping as
    soon as the server answers; (status, bytes sent). A JSON body is read by the strict JSON
    check before any route asks for credentials: the size bound must come first."""
    parsed = urlsplit(url)
    sock = socket.create_connection((parsed.hostname, parsed.port), timeout=30)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parsed.netloc}\r\n"
        f"Content-Type: {kind}\r\nTransfer-Encoding: chunked\r\n"
        + (f"Authorization: {auth}\r\n" if auth else "")
        + "\r\n"
    )
    chunk = b"x" * (256 * 1024)
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    answer = b""
    try:
        sock.sendall(head.encode())
        while sent < total:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            sock.sendall(framed)
            sent += len(chunk)
        else:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server closed its side after answering; the answer is still to be read
    try:
        while b"\r\n" not in answer:
            piece = sock.recv(65536)
            if not piece:
                break
            answer += piece
    except OSError:
        pass
    finally:
        sock.close()
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split()[1]), sent


def test_an_unauthenticated_chunked_100_mb_body_is_cut_at_64_kb(live: Live, health: Any) -> None:
    before = _rss_kb(live.process.pid)
    status, sent = _chunked_post(live.url, "/api/v1/main/flows", 100 * MB)
    assert status == 413
    assert sent < 100 * MB  # answered while the body was still streaming
    # The public setup form reads its body without credentials too.
    status, sent = _chunked_post(
        live.url, "/setup", 100 * MB, kind="application/x-www-form-urlencoded"
    )
    assert status == 413
    assert sent < 100 * MB
    grown_mb = (_rss_kb(live.process.pid) - before) / 1024
    assert grown_mb < 200, f"the server grew by {grown_mb:.0f} MB"


def test_a_wrong_password_does_not_lift_the_anonymous_limit(live: Live) -> None:
    wrong = "Basic " + base64.b64encode(b"admin:not-the-password").decode()
    status, _ = _chunked_post(live.url, "/api/v1/main/flows", 2 * MB, auth=wrong)
    assert status == 413


def test_an_unauthenticated_1_mb_body_with_content_length_is_refused(live: Live) -> None:
    with live.anonymous() as client:
        response = client.post(
            "/api/v1/main/flows",
            content=b"{" * MB,
            headers={"Content-Type": "application/json"},
        )
    assert response.status_code == 413, response.text
    assert "before the caller is authenticated" in response.json()["message"]


def test_an_authenticated_1_mb_multipart_create_works(live: Live) -> None:
    live.deploy(STRING_FLOW)
    text = "y" * (MB - 1024)
    started = live.start("probes.bodies", "echo", {"text": text})
    done = live.wait(started["id"])
    assert done["state"]["current"] == "SUCCESS", done
    assert done["inputs"]["text"] == text


def test_an_authenticated_body_over_the_configured_limit_is_refused(live: Live) -> None:
    response = live.client.post(
        "/api/v1/main/flows",
        content=b"x" * (11 * MB),
        headers={"Content-Type": "application/x-yaml"},
    )
    assert response.status_code == 413, response.text
    assert f"{10 * MB + 64 * 1024} bytes" in response.json()["message"]


@pytest.fixture(scope="module")
def small_bodies(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A live server told to take at most 1 MB from an authenticated caller."""
    running = start_live(tmp_path_factory.mktemp("small"), {"PERCH_MAX_BODY_SIZE": str(MB)})
    yield running
    stop_live(running)


def test_the_limit_is_a_server_setting_counted_as_the_body_streams(small_bodies: Live) -> None:
    admin = "Basic " + base64.b64encode(":".join(ADMIN).encode()).decode()
    status, _ = _chunked_post(small_bodies.url, "/api/v1/main/flows", 4 * MB, auth=admin)
    assert status == 413
    # Streamed past 64 KB by an authenticated caller, under the limit: read (and found not to
    # be a flow), whether the credentials were checked by the route or by the bound.
    for kind in ("application/x-yaml", "application/json"):
        status, _ = _chunked_post(
            small_bodies.url, "/api/v1/main/flows", 512 * 1024, auth=admin, kind=kind
        )
        assert status == 422, kind
    # Under the limit, the same caller is served (the flow body is just not valid YAML).
    response = small_bodies.client.post(
        "/api/v1/main/flows",
        content=b"a: 1\n" * 100_000,
        headers={"Content-Type": "application/x-yaml"},
    )
    assert response.status_code == 422, response.text
