"""``perch … --server URL``: the CLI against a real API server (uvicorn, real database).

The commands run in this process through typer's runner; the server runs on a loopback port in
a thread beside them, as in the API tests.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from perch.cli import _register_subcommands, app
from tests.api.conftest import ADMIN, Api, state_is
from tests.api.hitl import bind

GATE = """\
id: gate
namespace: company.team
inputs:
  - id: amount
    type: INT
  - id: token
    type: SECRET
    required: false
tasks:
  - id: ask
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOL
      - id: count
        type: INT
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: "approved={{ outputs.ask.onResume.approved }} count={{ outputs.ask.onResume.count }}"
"""
SOFT = """\
id: soft
namespace: company.ops
tasks:
  - id: ask
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOL
        defaults: true
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: "approved={{ outputs.ask.onResume.approved }}"
"""
LOGIN = {"PERCH_USERNAME": ADMIN[0], "PERCH_PASSWORD": ADMIN[1]}


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    if not any(group.name == "execution" for group in app.registered_groups):
        _register_subcommands()
    return CliRunner()


def perch(runner: CliRunner, api: Api, *args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``perch ARGS --server <api>`` as the administrator (unless ``env`` says otherwise)."""
    environment = {"COLUMNS": "200", "PERCH_TOKEN": "", **LOGIN, **(env or {})}
    return runner.invoke(app, [*args, "--server", api.url], env=environment)


def flow_file(tmp_path: Path, source: str = GATE, name: str = "gate.yaml") -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


def start_paused(runner: CliRunner, api: Api) -> str:
    started = perch(
        runner, api, "execution", "start", "company.team", "gate", "-i", "amount=3", "--wait"
    )
    assert started.exit_code == 0, started.output
    assert "PAUSED" in started.stdout
    return started.stdout.split()[1]


def test_deploy_start_resume_show(runner: CliRunner, api: Api, tmp_path: Path) -> None:
    deployed = perch(runner, api, "flow", "deploy", str(flow_file(tmp_path)))
    assert deployed.exit_code == 0, deployed.output
    assert deployed.stdout == "✓ company.team.gate revision 1\n"
    # Deploying again updates the flow (Kestra's POST refuses an existing id; the CLI PUTs).
    changed = GATE.replace("approved={{", "ok={{")
    again = perch(runner, api, "flow", "deploy", str(flow_file(tmp_path, changed)))
    assert again.exit_code == 0, again.output
    assert again.stdout == "✓ company.team.gate revision 2\n"
    listed = perch(runner, api, "flow", "list")
    assert listed.exit_code == 0, listed.output
    assert "1 flows" in listed.stdout
    assert "company.team" in listed.stdout
    assert " gate " in listed.stdout

    execution_id = start_paused(runner, api)
    assert api.wait(execution_id, state_is("PAUSED"))["inputs"]["amount"] == 3
    shown = perch(runner, api, "execution", "list", "--state", "PAUSED")
    assert shown.exit_code == 0, shown.output
    assert "1 executions" in shown.stdout
    assert execution_id in shown.stdout

    bad = perch(
        runner, api, "execution", "resume", execution_id, "-i", "approved=maybe", "-i", "count=x"
    )
    assert bad.exit_code == 1
    assert "error: invalid inputs" in bad.stderr
    lines = bad.stderr.splitlines()
    assert any(line.startswith("  approved: ") for line in lines), bad.stderr
    assert any(line.startswith("  count: ") for line in lines), bad.stderr
    assert api.wait(execution_id, state_is("PAUSED"))

    resumed = perch(
        runner, api, "execution", "resume", execution_id, "-i", "approved=true", "-i", "count=2"
    )
    assert resumed.exit_code == 0, resumed.output
    assert resumed.stdout.startswith(f"Resumed {execution_id} ")
    body = api.wait(execution_id, state_is("SUCCESS"))
    ask = next(run for run in body["taskRunList"] if run["taskId"] == "ask")
    assert ask["outputs"]["resumed"]["by"] == "admin"

    again_resumed = perch(runner, api, "execution", "resume", execution_id, "-i", "count=1")
    assert again_resumed.exit_code == 1
    assert (
        f"execution '{execution_id}' is not paused (it is SUCCESS, resumed by admin); "
        "nothing to resume" in again_resumed.stderr
    )

    detail = perch(runner, api, "execution", "show", execution_id)
    assert detail.exit_code == 0, detail.output
    assert f"Execution {execution_id}  company.team.gate rev 2  SUCCESS" in detail.stdout
    assert 'inputs: {"amount": 3, "token": null}' in detail.stdout
    assert "ok=true count=2" in detail.stdout  # the Log task's line, from GET /logs


def test_remote_output_is_the_local_output(runner: CliRunner, api: Api, tmp_path: Path) -> None:
    """The same execution shown through the API and from the data folder prints the same."""
    if getattr(api.store, "dialect", None) != "sqlite":
        pytest.skip("the local mode reads the fixture's SQLite folder")
    api.deploy(GATE)
    secret = "hunter2-secret-value"
    started = perch(
        runner,
        api,
        "execution",
        "start",
        "company.team",
        "gate",
        "-i",
        "amount=5",
        "-i",
        f"token={secret}",
        "-l",
        "team=ops",
        "--wait",
    )
    assert started.exit_code == 0, started.output
    assert secret not in started.stdout
    execution_id = started.stdout.split()[1]
    local_env = {"COLUMNS": "200", "PERCH_DATABASE_URL": "", "PERCH_SERVER": ""}
    data = ["--data-dir", str(tmp_path / "data")]
    for command in (["execution", "show", execution_id], ["execution", "list"], ["flow", "list"]):
        remote = perch(runner, api, *command)
        local = runner.invoke(app, [*command, *data], env=local_env)
        assert remote.exit_code == 0, remote.output
        assert local.exit_code == 0, local.output
        assert remote.stdout == local.stdout
    assert "labels: team=ops" in remote_show(runner, api, execution_id)


def remote_show(runner: CliRunner, api: Api, execution_id: str) -> str:
    shown = perch(runner, api, "execution", "show", execution_id)
    assert shown.exit_code == 0, shown.output
    return shown.stdout


def test_kill_and_bulk_resume_with_a_token(runner: CliRunner, api: Api, tmp_path: Path) -> None:
    api.deploy(GATE)
    account = api.client.post("/api/v1/service-accounts", json={"name": "ci"}).json()
    bind(api, "SERVICE_ACCOUNT", account["id"], "Launcher")
    created = api.client.post(
        f"/api/v1/service-accounts/{account['id']}/api-tokens", json={"name": "cli"}
    )
    token = created.json()["token"]
    as_token = {"PERCH_USERNAME": "", "PERCH_PASSWORD": "", "PERCH_TOKEN": token}

    ids = [start_paused(runner, api) for _ in range(3)]
    killed = perch(runner, api, "execution", "kill", ids[0], env=as_token)
    assert killed.exit_code == 0, killed.output
    assert killed.stdout.startswith(f"Killed {ids[0]} ")
    api.wait(ids[0], state_is("KILLED"))
    twice = perch(runner, api, "execution", "kill", ids[0], env=as_token)
    assert twice.exit_code == 1
    assert "already finished" in twice.stderr

    # Required onResume values without defaults: a bulk resume (which gives none) skips them.
    refused = perch(runner, api, "execution", "resume", "--namespace", "company.team", env=as_token)
    # None of the two resumed: a failure, with why for each.
    assert refused.exit_code == 1, refused.output
    assert "resumed 0 of 2" in refused.stdout
    assert "none of the 2 matching executions was resumed" in refused.stderr
    for execution_id in ids[1:]:
        assert f"  skipped {execution_id}: " in refused.stdout
    assert "Missing required input: approved" in refused.stdout

    api.deploy(SOFT)
    soft = [
        api.client.post("/api/v1/executions/company.ops/soft", params={"wait": "true"}).json()["id"]
        for _ in range(2)
    ]
    bulk = perch(runner, api, "execution", "resume", "--flow", "soft", env=as_token)
    assert bulk.exit_code == 0, bulk.output
    assert "resumed 2 of 2" in bulk.stdout
    for execution_id in soft:
        body = api.wait(execution_id, state_is("SUCCESS"))
        ask = next(run for run in body["taskRunList"] if run["taskId"] == "ask")
        assert ask["outputs"]["resumed"]["by"] == "ci"
    nothing = perch(runner, api, "execution", "resume", "--flow", "soft", env=as_token)
    assert nothing.exit_code == 0, nothing.output
    assert "resumed 0 of 0" in nothing.stdout
    assert token not in bulk.output + killed.output + twice.output + refused.output


def test_bad_credentials_and_unknown_ids(runner: CliRunner, sqlite_api: Api) -> None:
    api = sqlite_api
    wrong = {"PERCH_PASSWORD": "not-the-password"}
    refused = perch(runner, api, "execution", "list", env=wrong)
    assert refused.exit_code == 1
    # Set but wrong: the CLI says they were refused, not that they are missing.
    assert refused.stderr.strip() == (
        "error: authentication failed: the server refused the username and password"
        " (check PERCH_USERNAME / PERCH_PASSWORD)"
    )
    secret_token = "perch_not-a-real-token-value"
    no_token = perch(
        runner, api, "flow", "list", env={"PERCH_TOKEN": secret_token, "PERCH_USERNAME": ""}
    )
    assert no_token.exit_code == 1
    assert no_token.stderr.strip() == (
        "error: authentication failed: the server refused the token (check --token / PERCH_TOKEN)"
    )
    assert secret_token not in no_token.output
    anonymous = perch(runner, api, "flow", "list", env={"PERCH_USERNAME": "", "PERCH_PASSWORD": ""})
    assert anonymous.exit_code == 1
    assert anonymous.stderr.strip() == (
        "error: authentication failed: set PERCH_TOKEN or PERCH_USERNAME/PERCH_PASSWORD"
    )

    missing = perch(runner, api, "execution", "show", "nope")
    assert missing.exit_code == 1
    assert missing.stderr.strip() == "error: Execution 'nope' not found."
    unknown_flow = perch(runner, api, "execution", "start", "company.team", "nope")
    assert unknown_flow.exit_code == 1
    assert "company.team" in unknown_flow.stderr
    assert "nope" in unknown_flow.stderr


def test_invalid_flow_and_tenant(runner: CliRunner, sqlite_api: Api, tmp_path: Path) -> None:
    api = sqlite_api
    broken = flow_file(tmp_path, GATE.replace("flow.Pause", "flow.Pasue"), "broken.yaml")
    refused = perch(runner, api, "flow", "deploy", str(broken))
    assert refused.exit_code == 1
    assert refused.stdout.startswith(f"{broken}:")
    assert "Pasue" in refused.stdout
    # Until a second tenant exists, any tenant means the default one.
    created = api.client.post("/api/v1/tenants", json={"id": "other"})
    assert created.status_code == 200, created.text
    other = perch(runner, api, "flow", "deploy", str(flow_file(tmp_path)), "--tenant", "other")
    assert other.exit_code == 0, other.output
    assert "0 flows" in perch(runner, api, "flow", "list").stdout
    assert "1 flows" in perch(runner, api, "flow", "list", "--tenant", "other").stdout


def test_unreachable_server(runner: CliRunner) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    result = runner.invoke(
        app, ["execution", "list", "--server", url], env={"COLUMNS": "200", **LOGIN}
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: cannot reach Perch at {url}: connection refused"
    assert "Traceback" not in result.output


def test_help_never_shows_the_token(runner: CliRunner) -> None:
    secret = "perch_do-not-print-me"
    for command in (["execution", "list"], ["execution", "resume"], ["flow", "deploy"]):
        shown = runner.invoke(app, [*command, "--help"], env={"PERCH_TOKEN": secret})
        assert shown.exit_code == 0, shown.output
        assert "--server" in shown.stdout
        assert secret not in shown.output


def test_help_shows_no_type_for_flags(runner: CliRunner) -> None:
    for command in (["execution", "start"], ["execution", "list"], ["flow", "deploy"]):
        shown = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
        assert shown.exit_code == 0, shown.output
        assert "--help" in shown.stdout
        assert "<bool>" not in shown.stdout


def test_an_unknown_state_is_named_plainly(runner: CliRunner, sqlite_api: Api) -> None:
    for command in (["execution", "list"], ["execution", "resume"]):
        bad = perch(runner, sqlite_api, *command, "--state", "bogus")
        assert bad.exit_code == 2
        assert "Value error" not in bad.output
        assert "'bogus' is not a state; use one of CREATED," in " ".join(bad.output.split())
    lower = perch(runner, sqlite_api, "execution", "list", "--state", "paused")
    assert lower.exit_code == 0, lower.output


def test_a_narrow_list_never_cuts_ids_and_start_says_it_paused(
    runner: CliRunner, sqlite_api: Api
) -> None:
    api = sqlite_api
    api.deploy(GATE.replace("namespace: company.team", "namespace: company.team.with.a.long.name"))
    started = perch(
        runner,
        api,
        "execution",
        "start",
        "company.team.with.a.long.name",
        "gate",
        "-i",
        "amount=3",
        "--wait",
    )
    assert started.exit_code == 0, started.output
    execution_id = started.stdout.split()[1]
    assert f"Paused at ask: resume it with `perch execution resume {execution_id}`" in (
        started.stdout
    )

    narrow = perch(runner, api, "execution", "list", env={"COLUMNS": "80"})
    assert narrow.exit_code == 0, narrow.output
    assert execution_id in narrow.stdout
    assert "…" not in narrow.stdout.split(execution_id)[0].splitlines()[-1]
    shown = perch(runner, api, "execution", "show", execution_id)
    assert shown.exit_code == 0, shown.output
