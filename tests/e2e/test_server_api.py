"""``perch server local`` serves the REST API: curl-style calls with HTTP Basic through a crash
and a restart, the one-time setup link when no administrator is configured, and a clear error
when the port is taken."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from tests.e2e.conftest import ADMIN, Server

FLOW = """\
id: approval
namespace: company.team
inputs:
  - id: amount
    type: INT
tasks:
  - id: decide
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
  - id: book
    type: io.kestra.plugin.core.log.Log
    message: "approved={{ outputs.decide.onResume.approved }}"
"""

SETUP_LINE = re.compile(
    r"Perch is not set up yet: open (http://127\.0\.0\.1:\d+)/setup\?token=(\S+) "
    r"to create the administrator"
)


def _wait(client: httpx.Client, execution_id: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        body: dict[str, Any] = client.get(f"/api/v1/executions/{execution_id}").json()
        if body["state"]["current"] == state:
            return body
        assert time.monotonic() < deadline, f"still {body['state']['current']}"
        time.sleep(0.05)


def test_the_api_with_basic_auth_survives_a_crash(server: Server) -> None:
    with httpx.Client(base_url=server.url, auth=ADMIN, timeout=30) as client:
        deployed = client.post(
            "/api/v1/flows", content=FLOW, headers={"Content-Type": "application/x-yaml"}
        )
        assert deployed.status_code == 200, deployed.text
        # As `curl -F amount=120`: multipart form data.
        created = client.post(
            "/api/v1/executions/company.team/approval", files={"amount": (None, "120")}
        )
        assert created.status_code == 200, created.text
        execution_id = created.json()["id"]
        _wait(client, execution_id, "PAUSED")

    server.crash()
    server.start()
    with httpx.Client(base_url=server.url, auth=ADMIN, timeout=30) as client:
        resumed = client.post(
            f"/api/v1/main/executions/{execution_id}/resume", files={"approved": (None, "true")}
        )
        assert resumed.status_code == 204, resumed.text
        done = _wait(client, execution_id, "SUCCESS")
    (decide,) = [run for run in done["taskRunList"] if run["taskId"] == "decide"]
    assert decide["outputs"]["resumed"]["by"] == "admin"
    assert decide["outputs"]["onResume"] == {"approved": True}
    with httpx.Client(base_url=server.url, timeout=30) as anonymous:
        assert anonymous.get(f"/api/v1/executions/{execution_id}").status_code == 401
    assert server.stop() == 0


def _log_once_it_says(server: Server, text: str, timeout: float = 30.0) -> str:
    """The server's log once ``text`` is in it: the server writes ``server.json`` (which
    ``start`` waits for) a moment before it prints its banner."""
    deadline = time.monotonic() + timeout
    while True:
        log = server.log_path.read_text()
        if text in log or time.monotonic() > deadline:
            return log
        time.sleep(0.05)


def test_without_an_admin_the_server_prints_a_setup_link(data_dir: Path, tmp_path: Path) -> None:
    server = Server(data_dir, tmp_path / "server.log", admin=False)
    server.start()
    try:
        found = SETUP_LINE.search(_log_once_it_says(server, "setup?token="))
        assert found is not None, server.log_path.read_text()
        url, setup_token = found.groups()
        assert url == server.url
        with httpx.Client(base_url=url, timeout=30) as anonymous:
            assert anonymous.get("/health").status_code == 200
            refused = anonymous.get("/api/v1/flows/search", auth=ADMIN)
            assert refused.status_code == 401
            assert "setup" in refused.json()["message"]
            assert anonymous.get("/setup", params={"token": setup_token}).status_code == 200
            form = {"token": setup_token, "username": "root", "password": "long enough"}
            assert anonymous.post("/setup", json=form).status_code == 201
            assert anonymous.post("/setup", json=form).status_code == 409
            me = anonymous.get("/api/v1/me", auth=("root", "long enough"))
            assert me.status_code == 200
            assert me.json()["superadmin"] is True
        assert server.stop() == 0

        # Set up for good: the next start prints no setup link.
        server.log_path.write_text("")
        server.start()
        log = _log_once_it_says(server, "Perch is serving http://127.0.0.1:")
        assert "not set up" not in log
    finally:
        if server.process is not None and server.process.poll() is None:
            server.process.kill()
            server.process.wait()


def test_a_taken_port_is_one_clear_error(data_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "perch",
                "server",
                "local",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={
                "PATH": "/usr/bin:/bin",
                "PERCH_DATABASE_URL": "",
                "PERCH_ADMIN_USERNAME": "a",
                "PERCH_ADMIN_PASSWORD": "long enough",
            },
        )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: cannot listen on 127.0.0.1:{port}: Address already in use"]
    assert "Traceback" not in result.stderr
