"""``perch secret set|list|delete`` through the real command line: on the data folder (where a
flow run by the CLI then reads the secret), and with ``--server`` against the real API server."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from perch.cli import _register_subcommands, app
from perch.store import open_store
from perch.store.schema import secrets
from tests.api.conftest import Api
from tests.cli.test_remote import LOGIN, perch

VALUE = "cli-s3cret-value"

USES = """\
id: uses
namespace: company.team
tasks:
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ secret('API_TOKEN') | upper != 'CLI-S3CRET-VALUE' }}"
    errorMessage: the secret is not the one set
"""


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    if not any(group.name == "secret" for group in app.registered_groups):
        _register_subcommands()
    return CliRunner()


def test_secrets_on_the_data_folder(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PERCH_DATABASE_URL", raising=False)
    folder = ["--data-dir", str(tmp_path / "data")]
    env = {"COLUMNS": "200"}
    made = runner.invoke(
        app,
        ["secret", "set", "company", "API_TOKEN", "--description", "the API", *folder],
        input=VALUE + "\n",
    )
    assert made.exit_code == 0, made.output
    assert VALUE not in made.output
    listed = runner.invoke(app, ["secret", "list", "company", *folder], env=env)
    assert listed.exit_code == 0, listed.output
    assert "API_TOKEN" in listed.stdout
    assert "the API" in listed.stdout
    assert VALUE not in listed.stdout
    # A flow of a child namespace run by the CLI reads it.
    source = tmp_path / "uses.yaml"
    source.write_text(USES)
    assert runner.invoke(app, ["flow", "deploy", str(source), *folder]).exit_code == 0
    started = runner.invoke(
        app, ["execution", "start", "company.team", "uses", "--wait", *folder], env=env
    )
    assert started.exit_code == 0, started.output
    assert "SUCCESS" in started.stdout
    assert VALUE not in started.output
    store = open_store(None, data_dir=tmp_path / "data")
    with store.transaction() as tx:
        stored = tx.connection.execute(select(secrets.c.value)).scalars().all()
    store.close()
    assert len(stored) == 1
    assert VALUE.encode() not in bytes(stored[0])
    for name in ("perch.db", "perch.db-wal"):
        path = tmp_path / "data" / name
        if path.exists():
            assert VALUE.encode() not in path.read_bytes()
    deleted = runner.invoke(app, ["secret", "delete", "company", "API_TOKEN", *folder])
    assert deleted.exit_code == 0, deleted.output
    again = runner.invoke(app, ["secret", "delete", "company", "API_TOKEN", *folder])
    assert again.exit_code == 1
    assert "API_TOKEN" in again.stderr
    empty = runner.invoke(app, ["secret", "list", "company", *folder], env=env)
    assert "0 secret(s)" in empty.stdout


def test_the_value_option_and_bad_keys(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PERCH_DATABASE_URL", raising=False)
    folder = ["--data-dir", str(tmp_path / "data")]
    made = runner.invoke(app, ["secret", "set", "ops", "K", "--value", VALUE, *folder])
    assert made.exit_code == 0, made.output
    bad = runner.invoke(app, ["secret", "set", "ops", "bad key", *folder], input="x\n")
    assert bad.exit_code == 1
    assert "bad key" in bad.stderr
    nothing = runner.invoke(app, ["secret", "set", "ops", "K2", *folder], input="")
    assert nothing.exit_code == 1


def test_secrets_with_a_server(runner: CliRunner, api: Api) -> None:
    environment = {"COLUMNS": "200", "PERCH_TOKEN": "", **LOGIN}
    made = runner.invoke(
        app,
        ["secret", "set", "company", "API_TOKEN", "--server", api.url],
        input=VALUE,
        env=environment,
    )
    assert made.exit_code == 0, made.output
    listed = perch(runner, api, "secret", "list", "company")
    assert listed.exit_code == 0, listed.output
    assert "API_TOKEN" in listed.stdout
    assert VALUE not in listed.stdout
    server_side = api.client.get("/api/v1/main/namespaces/company/secrets").json()
    assert [r["key"] for r in server_side["results"]] == ["API_TOKEN"]
    assert perch(runner, api, "secret", "delete", "company", "API_TOKEN").exit_code == 0
    missing = perch(runner, api, "secret", "delete", "company", "API_TOKEN")
    assert missing.exit_code == 1
    assert "API_TOKEN" in missing.stderr
