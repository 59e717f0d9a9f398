"""``perch kv set|get|list|delete`` through the real command line: on the data folder (where a
flow run by the CLI then reads the pair) and with ``--server`` against the real API server."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from perch.cli import _register_subcommands, app
from tests.api.conftest import Api
from tests.cli.test_remote import perch

USES = """\
id: uses
namespace: company.team
tasks:
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ kv('limit') != 42 }}"
    errorMessage: the pair is not the one set
"""


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    if not any(group.name == "kv" for group in app.registered_groups):
        _register_subcommands()
    return CliRunner()


def test_kv_on_the_data_folder(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PERCH_DATABASE_URL", raising=False)
    folder = ["--data-dir", str(tmp_path / "data")]
    env = {"COLUMNS": "200"}
    made = runner.invoke(
        app, ["kv", "set", "company.team", "limit", "42", "--description", "the cap", *folder]
    )
    assert made.exit_code == 0, made.output
    assert "NUMBER" in made.stdout
    text = runner.invoke(
        app, ["kv", "set", "company.team", "label", "42", "--type", "STRING", *folder]
    )
    assert text.exit_code == 0, text.output
    got = runner.invoke(app, ["kv", "get", "company.team", "label", *folder])
    assert got.exit_code == 0, got.output
    assert got.stdout.strip() == "42"
    listed = runner.invoke(app, ["kv", "list", "company.team", *folder], env=env)
    assert listed.exit_code == 0, listed.output
    assert "limit" in listed.stdout
    assert "the cap" in listed.stdout
    assert "2 pair(s)" in listed.stdout
    source = tmp_path / "uses.yaml"
    source.write_text(USES)
    assert runner.invoke(app, ["flow", "deploy", str(source), *folder]).exit_code == 0
    started = runner.invoke(
        app, ["execution", "start", "company.team", "uses", "--wait", *folder], env=env
    )
    assert started.exit_code == 0, started.output
    assert "SUCCESS" in started.stdout
    bad = runner.invoke(app, ["kv", "set", "company.team", "bad key", "1", *folder])
    assert bad.exit_code == 1
    assert "Invalid key" in bad.stderr
    wrong = runner.invoke(
        app, ["kv", "set", "company.team", "n", "many", "--type", "NUMBER", *folder]
    )
    assert wrong.exit_code == 1
    deleted = runner.invoke(app, ["kv", "delete", "company.team", "limit", "label", *folder])
    assert deleted.exit_code == 0, deleted.output
    again = runner.invoke(app, ["kv", "get", "company.team", "limit", *folder])
    assert again.exit_code == 1
    assert "limit" in again.stderr
    assert runner.invoke(app, ["kv", "delete", "company.team", "limit", *folder]).exit_code == 1


def test_kv_with_a_server(runner: CliRunner, api: Api) -> None:
    made = perch(runner, api, "kv", "set", "company", "config", '{"retries": 3}', "--ttl", "PT1H")
    assert made.exit_code == 0, made.output
    day = perch(runner, api, "kv", "set", "company", "day", "2024-05-01")
    assert day.exit_code == 0, day.output
    server_side = api.client.get("/api/v1/main/namespaces/company/kv/config").json()
    assert server_side == {"type": "JSON", "value": {"retries": 3}}
    assert api.client.get("/api/v1/main/namespaces/company/kv/day").json()["type"] == "DATE"
    got = perch(runner, api, "kv", "get", "company", "config")
    assert got.exit_code == 0, got.output
    assert got.stdout.strip() == '{"retries": 3}'
    listed = perch(runner, api, "kv", "list", "company")
    assert listed.exit_code == 0, listed.output
    assert "config" in listed.stdout
    assert "day" in listed.stdout
    assert perch(runner, api, "kv", "delete", "company", "config", "day").exit_code == 0
    missing = perch(runner, api, "kv", "get", "company", "config")
    assert missing.exit_code == 1
    assert "config" in missing.stderr
    assert perch(runner, api, "kv", "delete", "company", "config").exit_code == 1
