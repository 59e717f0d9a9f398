"""Every record says how the action arrived: the channel (API, CLI, SYSTEM), the caller's
address and user agent — refused attempts included."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.api.conftest import ADMIN, Api, state_is
from tests.api.hitl import create
from tests.cli.test_remote import perch
from typer.testing import CliRunner

from perch.cli import _register_subcommands, app

GATE = """\
id: gate
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
"""
APPROVAL = """\
id: approval
namespace: company.team
tasks:
  - id: ask
    type: io.kestra.plugin.ee.flow.HumanTask
    assignment:
      users: [nobody]
"""


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    if not any(group.name == "execution" for group in app.registered_groups):
        _register_subcommands()
    return CliRunner()


def _records(api: Api, **filters: str) -> list[dict[str, Any]]:
    answer = api.client.get("/api/v1/main/auditlogs/search", params={"size": 100, **filters})
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["results"]
    return found


def test_api_cli_and_refusals_carry_their_origin(api: Api, runner: CliRunner) -> None:
    api.deploy(GATE)
    api.deploy(APPROVAL)
    resumed = create(api, "company.team", "gate")
    api.wait(resumed, state_is("PAUSED"))
    with httpx.Client(
        base_url=api.url, auth=ADMIN, headers={"User-Agent": "release-bot/2.1"}, timeout=30
    ) as bot:
        assert bot.post(f"/api/v1/main/executions/{resumed}/resume").status_code == 204
        refused = create(api, "company.team", "approval")
        api.wait(refused, state_is("PAUSED"))
        assert bot.post(f"/api/v1/main/executions/{refused}/resume").status_code == 403
    (resume,) = [r for r in _records(api, executionId=resumed) if r["action"] == "RESUME"]
    assert (resume["channel"], resume["address"], resume["userAgent"]) == (
        "API",
        "127.0.0.1",
        "release-bot/2.1",
    )
    (denied,) = _records(api, executionId=refused, action="RESUME_DENIED")
    assert (denied["channel"], denied["outcome"], denied["userAgent"]) == (
        "API",
        "DENIED",
        "release-bot/2.1",
    )
    killed = create(api, "company.team", "gate")
    api.wait(killed, state_is("PAUSED"))
    result = perch(runner, api, "execution", "kill", killed)
    assert result.exit_code == 0, result.output
    (kill,) = [r for r in _records(api, executionId=killed) if r["action"] == "KILL"]
    assert kill["channel"] == "CLI"
    assert kill["userAgent"].startswith("perch-cli/")
