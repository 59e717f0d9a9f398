"""Every record says how the action arrived: the channel (API, CLI, SYSTEM), the caller's
address and user agent — refused attempts included."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.api.conftest import ADMIN, Api, state_is
from tests.api.hitl import SLOW, create, task_states
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


def test_refusals_conflicts_and_failed_logins_are_recorded(api: Api) -> None:
    from perch import identity
    from perch.identity import roles

    api.deploy(GATE)
    viewer = identity.create_user(api.store, "vera", "correct horse battery")
    roles.create_binding(api.store, "main", "USER", viewer.id, "Viewer")
    execution_id = create(api, "company.team", "gate")
    api.wait(execution_id, state_is("PAUSED"))
    with httpx.Client(base_url=api.url, auth=("vera", "correct horse battery")) as vera:
        refused = vera.delete(f"/api/v1/main/executions/{execution_id}/kill")
        assert refused.status_code == 403
        assert "requires EXECUTION:UPDATE on namespace company.team" in refused.text
        assert vera.get("/api/v1/main/me").status_code == 200
    assert api.client.delete(f"/api/v1/main/executions/{execution_id}/kill").status_code == 202
    api.wait(execution_id, state_is("KILLED"))
    assert api.client.post(f"/api/v1/main/executions/{execution_id}/resume").status_code == 409
    with httpx.Client(base_url=api.url, auth=("vera", "not her password")) as wrong:
        assert wrong.get("/api/v1/main/me").status_code == 401
    with httpx.Client(base_url=api.url, auth=("nobody-at-all", "whatever")) as unknown:
        assert unknown.get("/api/v1/main/me").status_code == 401
    (denied,) = _records(api, action="ACCESS_DENIED")
    assert denied["principal"]["name"] == "vera"
    assert (denied["executionId"], denied["outcome"], denied["channel"]) == (
        execution_id,
        "DENIED",
        "API",
    )
    (conflict,) = _records(api, action="CONFLICT")
    assert conflict["principal"]["name"] == "admin"
    assert conflict["detail"]["status"] == 409
    (failed,) = _records(api, action="LOGIN_FAILED")
    assert (failed["principal"]["name"], failed["address"]) == ("vera", "127.0.0.1")
    # Basic auth is checked on every request: her sign-in is recorded once, not per request.
    logins = [r for r in _records(api, action="LOGIN") if r["principal"]["name"] == "vera"]
    assert [(r["address"], r["outcome"], r["resourceId"]) for r in logins] == [
        ("127.0.0.1", "SUCCESS", viewer.id)
    ]


SECRET_ANSWER = """\
id: secret_answer
namespace: company.team
tasks:
  - id: ask
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: reason
        type: STRING
      - id: pin
        type: SECRET
"""


def test_a_resume_record_holds_its_values_with_secrets_masked(api: Api) -> None:
    api.deploy(SECRET_ANSWER)
    execution_id = create(api, "company.team", "secret_answer")
    api.wait(execution_id, state_is("PAUSED"))
    answer = api.client.post(
        f"/api/v1/main/executions/{execution_id}/resume",
        files=[("reason", (None, "looks right")), ("pin", (None, "canary-4711"))],
    )
    assert answer.status_code == 204, answer.text
    (record,) = [r for r in _records(api, executionId=execution_id) if r["action"] == "RESUME"]
    assert record["detail"]["values"] == {"reason": "looks right", "pin": "******"}
    assert (record["before"], record["after"]) == ("PAUSED", "RUNNING")
    exported = api.client.get("/api/v1/main/auditlogs/export", params={"format": "jsonl"})
    assert "canary-4711" not in exported.text


def test_pause_kill_restart_and_delete_records_hold_the_state_before_and_after(api: Api) -> None:
    api.deploy(SLOW)
    execution_id = create(api, "company.bulk", "slow")
    api.wait(execution_id, lambda e: task_states(e).get("nap") == "RUNNING")
    base = f"/api/v1/main/executions/{execution_id}"
    assert api.client.post(f"{base}/pause").status_code == 200
    assert api.client.delete(f"{base}/kill").status_code == 202
    api.wait(execution_id, state_is("KILLED"))
    assert api.client.post(f"{base}/restart").status_code == 200
    api.wait(execution_id, lambda e: task_states(e).get("nap") == "RUNNING")
    assert api.client.delete(f"{base}/kill").status_code == 202
    api.wait(execution_id, state_is("KILLED"))
    assert api.client.delete(base).status_code == 204
    records = _records(api, executionId=execution_id)
    transitions = [(r["action"], r["before"], r["after"]) for r in reversed(records)]
    assert transitions == [
        ("CREATE", "CREATED", "RUNNING"),
        ("PAUSE", "RUNNING", "PAUSED"),
        ("KILL", "PAUSED", "KILLED"),
        ("RESTART", "KILLED", "RUNNING"),
        ("KILL", "RUNNING", "KILLED"),
        ("EXECUTION_DELETED", "KILLED", None),
    ]
