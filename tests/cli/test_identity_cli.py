"""``perch token create`` and ``perch user create`` through the real command line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from perch import identity
from perch.cli import _register_subcommands, app
from perch.engine.principal import Principal, PrincipalKind
from perch.errors import Unauthenticated
from perch.store import open_store


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    if not any(group.name == "token" for group in app.registered_groups):
        _register_subcommands()
    return CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("PERCH_DATABASE_URL", raising=False)
    monkeypatch.setenv("PERCH_USER", "carol")
    return tmp_path / "data"


def test_token_create_prints_only_the_token_on_stdout(runner: CliRunner, data_dir: Path) -> None:
    missing = runner.invoke(app, ["token", "create", "-s", "ci", "--data-dir", str(data_dir)])
    assert missing.exit_code == 1
    assert "no Perch data folder" in missing.stderr

    data_dir.mkdir()
    missing = runner.invoke(app, ["token", "create", "-s", "ci", "--data-dir", str(data_dir)])
    assert missing.exit_code == 1
    assert "no service account 'ci'" in missing.stderr
    assert "--create" in missing.stderr

    args = ["token", "create", "-s", "ci", "--create", "--name", "deploys", "--expires", "P30D"]
    created = runner.invoke(app, [*args, "--data-dir", str(data_dir)])
    assert created.exit_code == 0, created.output
    raw = created.stdout.strip()
    assert raw.startswith("perch_")
    assert "\n" not in raw
    assert "'deploys' of service account 'ci'" in created.stderr
    assert "expires" in created.stderr
    assert raw not in created.stderr

    # Again for the same, existing account: no --create needed.
    again = runner.invoke(app, ["token", "create", "-s", "ci", "--data-dir", str(data_dir)])
    assert again.exit_code == 0, again.output
    assert "never expires" in again.stderr

    store = open_store(None, data_dir=data_dir)
    try:
        (account,) = identity.list_service_accounts(store, "main")
        first, second = identity.list_api_tokens(store, account.id)
        assert first.expires is not None
        assert first.expires - first.created == timedelta(days=30)
        principal, _ = identity.verify_token(store, raw, first.created)
        assert principal == Principal("ci", PrincipalKind.SERVICE_ACCOUNT)
        identity.verify_token(store, again.stdout.strip(), second.created)
        with pytest.raises(Unauthenticated, match="expired"):
            identity.verify_token(store, raw, first.created + timedelta(days=31))
        with store.transaction(readonly=True) as tx:
            rows = tx.connection.exec_driver_sql(
                "SELECT action, principal_name FROM audit ORDER BY seq"
            ).all()
        actions = [(row.action, row.principal_name) for row in rows]
        assert actions == [
            ("SERVICE_ACCOUNT_CREATED", "carol"),
            ("BINDING_CREATED", "carol"),
            ("API_TOKEN_CREATED", "carol"),
            ("API_TOKEN_CREATED", "carol"),
        ]
    finally:
        store.close()


def test_token_create_refuses_a_bad_expiry(runner: CliRunner, data_dir: Path) -> None:
    result = runner.invoke(
        app,
        [
            "token",
            "create",
            "-s",
            "ci",
            "--create",
            "--expires",
            "soon",
            "--data-dir",
            str(data_dir),
        ],
    )
    assert result.exit_code == 1
    assert "ISO-8601" in result.stderr


def test_user_create(runner: CliRunner, data_dir: Path) -> None:
    base = ["user", "create", "--data-dir", str(data_dir)]
    created = runner.invoke(
        app,
        [*base, "root", "--superadmin", "--email", "root@example.org", "--password-stdin"],
        input="long enough\n",
    )
    assert created.exit_code == 0, created.output
    assert "Created superadmin 'root'" in created.stdout

    prompted = runner.invoke(app, [*base, "ana"], input="another one\nanother one\n")
    assert prompted.exit_code == 0, prompted.output
    assert "another one" not in prompted.output

    duplicate = runner.invoke(app, [*base, "ana", "--password-stdin"], input="third one!\n")
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.stderr
    weak = runner.invoke(app, [*base, "bob", "--password-stdin"], input="short\n")
    assert weak.exit_code == 1
    assert "at least 8" in weak.stderr
    empty = runner.invoke(app, [*base, "bob", "--password-stdin"], input="")
    assert empty.exit_code == 1

    store = open_store(None, data_dir=data_dir)
    try:
        assert identity.has_superadmin(store)
        assert identity.verify_password(store, "root@example.org", "long enough").name == "root"
        assert identity.verify_password(store, "ana", "another one").name == "ana"
        assert not identity.is_superadmin(store, Principal("ana"))
    finally:
        store.close()
