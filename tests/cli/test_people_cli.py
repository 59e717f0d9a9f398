"""``perch user`` and ``perch group`` through the real command line: on the data folder, and
with ``--server`` against the real API server (whose decisions then follow the groups made)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from perch import identity
from perch.cli import _register_subcommands, app
from perch.store import open_store
from tests.api.conftest import Api, state_is
from tests.api.hitl import create
from tests.cli.test_remote import perch

PASSWORD = "correct horse battery"

REVIEW = """\
id: review
namespace: company.team
tasks:
  - id: ask
    type: io.kestra.plugin.ee.flow.HumanTask
    assignment:
      groups: [Reviewers]
"""


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    if not any(group.name == "group" for group in app.registered_groups):
        _register_subcommands()
    return CliRunner()


def test_users_and_groups_on_the_data_folder(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PERCH_DATABASE_URL", raising=False)
    monkeypatch.setenv("PERCH_USER", "carol")
    folder = ["--data-dir", str(tmp_path / "data")]
    env = {"COLUMNS": "200"}
    for name in ("ann", "ben"):
        made = runner.invoke(
            app, ["user", "create", name, "--password-stdin", *folder], input=PASSWORD + "\n"
        )
        assert made.exit_code == 0, made.output
    assert runner.invoke(app, ["group", "create", "Reviewers", *folder]).exit_code == 0
    added = runner.invoke(app, ["group", "add-member", "Reviewers", "ann", *folder])
    assert added.exit_code == 0, added.output
    listed = runner.invoke(app, ["group", "list", *folder], env=env)
    assert "Reviewers" in listed.stdout
    assert "ann" in listed.stdout
    unknown = runner.invoke(app, ["group", "add-member", "Reviewers", "zed", *folder])
    assert unknown.exit_code == 1
    assert "zed" in unknown.stderr

    assert runner.invoke(app, ["user", "disable", "ben", *folder]).exit_code == 0
    users = runner.invoke(app, ["user", "list", *folder], env=env)
    assert users.exit_code == 0, users.output
    ben = next(line for line in users.stdout.splitlines() if line.strip().startswith("ben"))
    assert "disabled" in ben
    assert runner.invoke(app, ["user", "delete", "ben", *folder]).exit_code == 0
    removed = runner.invoke(app, ["group", "remove-member", "Reviewers", "ann", *folder])
    assert removed.exit_code == 0

    store = open_store(None, data_dir=tmp_path / "data")
    try:
        assert identity.find_user(store, "ben") is None
        (group,), _ = identity.search_groups(store, "main")
        assert identity.group_members(store, group.id, tenant="main") == []
    finally:
        store.close()  # type: ignore[attr-defined]


def test_groups_made_with_the_cli_decide_on_the_server(runner: CliRunner, api: Api) -> None:
    made = runner.invoke(
        app,
        ["user", "create", "rita", "--password-stdin", "--server", api.url],
        input=PASSWORD + "\n",
        env={"PERCH_USERNAME": "admin", "PERCH_PASSWORD": "admin-password-1", "PERCH_TOKEN": ""},
    )
    assert made.exit_code == 0, made.output
    assert perch(runner, api, "group", "create", "Reviewers").exit_code == 0
    api.deploy(REVIEW)
    execution_id = create(api, "company.team", "review")
    api.wait(execution_id, state_is("PAUSED"))
    with httpx.Client(base_url=api.url, auth=("rita", PASSWORD), timeout=30) as rita:
        resume = f"/api/v1/executions/{execution_id}/resume"
        # Nothing in the tenant yet: refused before the assignment is even looked at.
        refused = rita.post(resume)
        assert refused.status_code == 403
        assert "no access to tenant 'main'" in refused.json()["message"]
        bound = perch(
            runner,
            api,
            "binding",
            "create",
            "--group",
            "Reviewers",
            "--role",
            "Launcher",
            "--namespace",
            "company",
        )
        assert bound.exit_code == 0, bound.output
        assert "Reviewers" not in perch(runner, api, "binding", "list").stdout  # ids, not names
        assert "launcher" in perch(runner, api, "binding", "list").stdout
        assert rita.post(resume).status_code == 403
        added = perch(runner, api, "group", "add-member", "Reviewers", "rita")
        assert added.exit_code == 0, added.output
        assert "rita" in perch(runner, api, "group", "list").stdout
        assert rita.post(resume).status_code == 204
        disabled = perch(runner, api, "user", "disable", "rita")
        assert disabled.exit_code == 0, disabled.output
        assert rita.get("/api/v1/me").status_code == 401
    listed = perch(runner, api, "user", "list")
    assert "rita" in listed.stdout
    assert "disabled" in listed.stdout
    refused = perch(runner, api, "user", "delete", "admin")
    assert refused.exit_code == 1
    assert "last enabled superadmin" in refused.stderr
