"""The encrypted namespace secret store, on SQLite and PostgreSQL: each value is sealed for its own
row (a value moved to another namespace or tenant does not open there), with a fresh nonce per
write, under a key from ``PERCH_ENCRYPTION_KEY`` or the data folder's generated key file."""

from __future__ import annotations

import base64
import logging
import secrets as random
import stat
from pathlib import Path

import pytest
from sqlalchemy import select, update

from perch.engine.secretlookup import lineage, resolve_secret
from perch.engine.service import secretstore
from perch.errors import PerchError, SecretError, SecretNotFound, SecretUnavailable
from perch.store import SqlStore, open_store
from perch.store.schema import secrets
from perch.store.sealing import load_sealer
from perch.templating.taint import Secret

VALUE = "s3cret value ü"


def test_lineage_goes_from_the_namespace_to_its_root() -> None:
    assert lineage("company.team.ops") == ["company.team.ops", "company.team", "company"]
    assert lineage("solo") == ["solo"]


def test_values_are_sealed_per_row_with_a_fresh_nonce(store: SqlStore) -> None:
    assert secretstore.set_secret(store, "main", "company", "K", VALUE) is True
    assert secretstore.set_secret(store, "main", "company.team", "K", VALUE) is True
    assert secretstore.set_secret(store, "main", "company", "K", VALUE) is False
    with store.transaction() as tx:
        rows = tx.connection.execute(select(secrets.c.namespace, secrets.c.value)).all()
    sealed = [bytes(r.value) for r in rows]
    assert len(set(sealed)) == 2
    assert all(VALUE.encode() not in s for s in sealed)
    found = resolve_secret(store, "main", "company.team.ops", "K")
    assert found == VALUE
    assert isinstance(found, Secret)
    assert [m.key for m in secretstore.list_secrets(store, "main", "company")] == ["K"]
    assert secretstore.describe_secret(store, "main", "company", "K").namespace == "company"
    with pytest.raises(SecretUnavailable, match="K"):
        resolve_secret(store, "other", "company", "K")


def test_a_value_moved_to_another_row_does_not_open(store: SqlStore) -> None:
    secretstore.set_secret(store, "main", "company", "K", VALUE)
    with store.transaction() as tx:
        tx.connection.execute(update(secrets).values(namespace="elsewhere"))
    with pytest.raises(SecretUnavailable) as caught:
        resolve_secret(store, "main", "elsewhere", "K")
    assert "K" in str(caught.value)
    assert VALUE not in str(caught.value)


def test_delete_and_bad_names(store: SqlStore) -> None:
    secretstore.set_secret(store, "main", "company", "K", VALUE, description="d")
    secretstore.delete_secret(store, "main", "company", "K")
    with pytest.raises(SecretNotFound, match="K"):
        secretstore.delete_secret(store, "main", "company", "K")
    with pytest.raises(SecretError, match="key"):
        secretstore.set_secret(store, "main", "company", "no spaces", VALUE)
    with pytest.raises(SecretError, match="namespace"):
        secretstore.set_secret(store, "main", "Not A Namespace", "K", VALUE)


def test_another_key_cannot_read_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def key() -> str:
        # Standard base64, '+' and '/' included, as `openssl rand -base64 32` prints it.
        return base64.b64encode(random.token_bytes(32)).decode()

    monkeypatch.setenv("PERCH_ENCRYPTION_KEY", key())
    first = open_store(data_dir=tmp_path)
    secretstore.set_secret(first, "main", "company", "K", VALUE)
    assert resolve_secret(first, "main", "company", "K") == VALUE
    first.close()
    monkeypatch.setenv("PERCH_ENCRYPTION_KEY", key())
    second = open_store(data_dir=tmp_path)
    try:
        with pytest.raises(SecretUnavailable, match="another encryption key"):
            resolve_secret(second, "main", "company", "K")
    finally:
        second.close()


def test_the_key_file_is_generated_private_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("PERCH_ENCRYPTION_KEY", raising=False)
    monkeypatch.delenv("PERCH_SECRET_KEY", raising=False)
    with caplog.at_level(logging.WARNING, logger="perch.store.sealing"):
        load_sealer(tmp_path / "data")
    path = tmp_path / "data" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "PERCH_ENCRYPTION_KEY" in caplog.text
    assert path.read_text().strip() not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="perch.store.sealing"):
        load_sealer(tmp_path / "data")
    assert caplog.text == ""


@pytest.mark.parametrize("bad", ["short", base64.b64encode(b"x" * 16).decode()])
def test_a_bad_key_is_refused_by_name(bad: str) -> None:
    with pytest.raises(PerchError, match="PERCH_ENCRYPTION_KEY"):
        load_sealer(None, {"PERCH_ENCRYPTION_KEY": bad})


def test_the_old_variable_name_still_works() -> None:
    sealer = load_sealer(None, {"PERCH_SECRET_KEY": base64.b64encode(bytes(32)).decode()})
    assert sealer.derived_key(b"a") != sealer.derived_key(b"b")
