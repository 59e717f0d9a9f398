"""The keyed, per-tenant audit chain against tampering, checked with ``perch audit verify``
through the real command line, on SQLite and PostgreSQL.

Each test writes records for two tenants, closes the store (which writes the checkpoint of the
chain heads), tampers with the database directly as someone without the key would, and runs the
CLI on the data folder (on PostgreSQL through ``PERCH_DATABASE_URL``).
"""

from __future__ import annotations

import hashlib
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, create_engine, insert, select, update
from typer.testing import CliRunner, Result

from perch.cli import _register_subcommands, app
from perch.engine.auditlog import AuditOrigin, Channel, audit_origin
from perch.engine.effects import Audit
from perch.engine.principal import SYSTEM, Principal, PrincipalKind
from perch.errors import PerchError
from perch.store import SqlStore, open_store
from perch.store.auditkey import (
    CHECKPOINT_FILE,
    KEY_ENV,
    KEY_FILE,
    load_audit_key,
    read_checkpoint,
)
from perch.store.codec import canonical_json
from perch.store.database import database_url
from perch.store.schema import audit
from perch.templating.taint import Secret
from tests.store.samples import T0

ANA = Principal("ana", PrincipalKind.USER)


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    if not any(group.name == "audit" for group in app.registered_groups):
        _register_subcommands()
    return CliRunner()


@dataclass
class Trail:
    """A data folder with audit records (and, on PostgreSQL, the schema holding them)."""

    data_dir: Path
    url: str | None
    runner: CliRunner

    def open(self) -> SqlStore:
        return open_store(self.url, data_dir=self.data_dir)

    def cli(self, *args: str, env: dict[str, str] | None = None) -> Result:
        folder = ["--data-dir", str(self.data_dir)]
        return self.runner.invoke(app, ["audit", *args, *folder], env=env)

    def sql(self, change: Callable[[Connection], object]) -> None:
        """Change the database directly, outside Perch."""
        store = self.open()
        try:
            with store.engine.begin() as connection:
                change(connection)
        finally:
            store.close()

    def rows(self, tenant: str = "main") -> list[dict[str, object]]:
        store = self.open()
        try:
            with store.engine.connect() as connection:
                query = select(audit).where(audit.c.tenant == tenant).order_by(audit.c.seq)
                return [dict(row._mapping) for row in connection.execute(query)]
        finally:
            store.close()


def write_records(store: SqlStore) -> None:
    """main: seq 1-5 and 8; other: seq 6-7."""
    moments = iter(T0 + timedelta(seconds=n) for n in range(100))
    for n in range(5):
        with store.transaction() as tx:
            tx.add_audit(f"e{n}", Audit("RESUME", ANA, {"n": n}), next(moments))
    with store.transaction() as tx:
        for n in range(2):
            tx.add_audit(None, Audit("GROUP_CREATED", ANA, {"tenant": "other", "n": n}), T0)
    with store.transaction() as tx:
        tx.add_audit(None, Audit("FLOW_CREATED", SYSTEM, {"namespace": "a.b"}), next(moments))


@pytest.fixture
def trail(
    request: pytest.FixtureRequest,
    store_kind: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    runner: CliRunner,
) -> Trail:
    monkeypatch.delenv(KEY_ENV, raising=False)
    url: str | None = None
    if store_kind == "postgres":
        base, schema = request.getfixturevalue("postgres_schema")
        engine = create_engine(database_url(base, None))
        with engine.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        engine.dispose()
        url = f"{base}?options=-csearch_path%3D{schema}"
        monkeypatch.setenv("PERCH_DATABASE_URL", url)
    else:
        monkeypatch.delenv("PERCH_DATABASE_URL", raising=False)
    made = Trail(tmp_path / "data", url, runner)
    store = made.open()
    try:
        write_records(store)
    finally:
        store.close()
    return made


def _seq_of(trail: Trail, position: int, tenant: str = "main") -> int:
    return int(next(r["seq"] for r in trail.rows(tenant) if r["position"] == position))  # type: ignore[call-overload]


def test_a_clean_trail_verifies(trail: Trail) -> None:
    result = trail.cli("verify")
    assert result.exit_code == 0, result.output
    assert "ok: 8 records checked" in result.stdout
    assert "main: 6 records" in result.stdout
    assert "other: 2 records" in result.stdout
    one = trail.cli("verify", "--tenant", "other")
    assert one.exit_code == 0, one.output
    assert "ok: 2 records checked" in one.stdout


def test_an_edited_record_is_named(trail: Trail) -> None:
    seq = _seq_of(trail, 3)
    trail.sql(
        lambda c: c.execute(update(audit).where(audit.c.seq == seq).values(detail='{"n":99}'))
    )
    result = trail.cli("verify")
    assert result.exit_code == 1
    assert f"record {seq} (position 3) was changed" in result.stderr
    assert "tenant 'main'" in result.stderr


def test_a_deleted_record_is_named(trail: Trail) -> None:
    seq = _seq_of(trail, 3)
    trail.sql(lambda c: c.execute(audit.delete().where(audit.c.seq == seq)))
    result = trail.cli("verify")
    assert result.exit_code == 1
    after = _seq_of(trail, 4)
    assert f"record {after} (position 4): a record before it was deleted" in result.stderr
    assert "position 3 missing" in result.stderr


def test_an_inserted_record_is_named(trail: Trail) -> None:
    """A forged record put in at position 3, the records after it moved up one."""

    rows = trail.rows()

    def forge(connection: Connection) -> None:
        for row in sorted(rows, key=lambda r: -int(r["position"])):  # type: ignore[call-overload]
            if int(row["position"]) >= 3:  # type: ignore[call-overload]
                connection.execute(
                    update(audit)
                    .where(audit.c.seq == row["seq"])
                    .values(position=int(row["position"]) + 1)  # type: ignore[call-overload]
                )
        forged = {k: v for k, v in rows[2].items() if k != "seq"}
        forged |= {"detail": '{"n":2,"approved":true}', "hash": "f" * 64}
        connection.execute(insert(audit).values(**forged))

    trail.sql(forge)
    result = trail.cli("verify")
    assert result.exit_code == 1
    new_seq = max(int(r["seq"]) for r in trail.rows())  # type: ignore[call-overload]
    assert f"record {new_seq} (position 3) was inserted" in result.stderr


@pytest.fixture
def without_unique_positions(trail: Trail) -> Trail:
    trail.sql(lambda c: c.exec_driver_sql("DROP INDEX ix_audit_tenant_position"))
    return trail


def test_a_record_forged_between_two_is_named(without_unique_positions: Trail) -> None:
    trail = without_unique_positions
    rows = trail.rows()
    forged = {k: v for k, v in rows[2].items() if k != "seq"}
    forged |= {"detail": '{"forged":true}', "hash": hashlib.sha256(b"x").hexdigest()}
    trail.sql(lambda c: c.execute(insert(audit).values(**forged)))
    result = trail.cli("verify")
    assert result.exit_code == 1
    new_seq = max(int(r["seq"]) for r in trail.rows())  # type: ignore[call-overload]
    assert f"record {new_seq} (position 3) was inserted" in result.stderr


def test_recomputing_every_plain_hash_after_an_edit_is_detected(trail: Trail) -> None:
    """What passed the old unkeyed check: edit a record, then rehash the chain from there."""

    def rewrite(connection: Connection) -> None:
        rows = connection.execute(
            select(audit).where(audit.c.tenant == "main").order_by(audit.c.position)
        ).all()
        prev = rows[0].hash
        for row in rows[1:]:
            values = dict(row._mapping)
            if values["position"] == 2:
                values["detail"] = canonical_json({"n": 1, "approved": False})
            body = canonical_json({k: str(v) for k, v in values.items() if k != "hash"})
            digest = hashlib.sha256((prev + body).encode()).hexdigest()
            connection.execute(
                update(audit)
                .where(audit.c.seq == row.seq)
                .values(detail=values["detail"], prev_hash=prev, hash=digest)
            )
            prev = digest

    trail.sql(rewrite)
    result = trail.cli("verify")
    assert result.exit_code == 1
    assert f"record {_seq_of(trail, 2)} (position 2) was changed" in result.stderr


def test_cutting_off_the_newest_records_is_detected(trail: Trail) -> None:
    head = trail.cli("head")
    assert head.exit_code == 0, head.output
    assert "main 6 " in head.stdout
    newest = [_seq_of(trail, 5), _seq_of(trail, 6)]
    trail.sql(lambda c: c.execute(audit.delete().where(audit.c.seq.in_(newest))))
    result = trail.cli("verify")
    assert result.exit_code == 1
    assert "the newest records were cut off" in result.stderr
    assert f"after record {_seq_of(trail, 4)} (position 4)" in result.stderr
    # The checkpoint is not moved back by a later head.
    refused = trail.cli("head")
    assert refused.exit_code == 1
    assert read_checkpoint(trail.data_dir)["main"].position == 6


def test_key_and_checkpoint_live_outside_the_database(trail: Trail) -> None:
    key_file = trail.data_dir / KEY_FILE
    checkpoint = trail.data_dir / CHECKPOINT_FILE
    for path in (key_file, checkpoint):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    heads = read_checkpoint(trail.data_dir)
    assert heads["main"].position == 6
    assert heads["other"].position == 2
    key = key_file.read_text().strip()
    for row in trail.rows() + trail.rows("other"):
        assert key not in str(row)
    # Another key cannot verify the chain: every record would need its secret.
    result = trail.cli("verify", env={KEY_ENV: "a different key of at least 32 characters"})
    assert result.exit_code == 1
    assert "was changed" in result.stderr


def test_audit_records_keep_secrets_masked(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.add_audit(
            None,
            Audit("RESUME", ANA, {"inputs": {"token": Secret("hunter2-canary")}}, before="x"),
            T0,
        )
    with store.engine.connect() as connection:
        (row,) = connection.execute(select(audit)).all()
    assert "hunter2-canary" not in str(tuple(row))
    assert '"token":"******"' in row.detail
    assert store.verify_audit_chain().ok


def test_old_callers_get_derived_fields(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.add_audit("ex1", Audit("KILL", ANA, {"namespace": "company.team"}), T0)
        tx.add_audit(None, Audit("USER_CREATED", ANA, {"userId": "u1"}), T0)
        tx.add_audit(None, Audit("ROLE_CREATED", SYSTEM, {"tenant": "t2", "roleId": "r1"}), T0)
        tx.add_audit("ex2", Audit("RESUME_DENIED", ANA, {}, tenant="t2", channel="LINK"), T0)
    with store.engine.connect() as connection:
        rows = connection.execute(select(audit).order_by(audit.c.seq)).all()
    got = [
        (r.tenant, r.position, r.resource_type, r.resource_id, r.namespace, r.channel, r.outcome)
        for r in rows
    ]
    assert got == [
        ("main", 1, "EXECUTION", "ex1", "company.team", "API", "SUCCESS"),
        ("main", 2, "USER", "u1", None, "API", "SUCCESS"),
        ("t2", 1, "ROLE", "r1", None, "SYSTEM", "SUCCESS"),
        ("t2", 2, "EXECUTION", "ex2", None, "LINK", "DENIED"),
    ]
    assert store.verify_audit_chain().ok


def test_the_origin_of_a_request_reaches_its_records(store: SqlStore) -> None:
    origin = AuditOrigin(Channel.UI, "10.0.0.7", "Mozilla/5.0")
    with audit_origin(origin), store.transaction() as tx:
        tx.add_audit("ex1", Audit("RESUME", ANA), T0)
        tx.add_audit("ex1", Audit("RESUME", ANA, channel="LINK", address="10.0.0.8"), T0)
        tx.add_audit("ex1", Audit("TIMER_FIRED", SYSTEM), T0)
    with store.transaction() as tx:
        tx.add_audit("ex1", Audit("RESUME", ANA), T0)
    with store.engine.connect() as connection:
        rows = connection.execute(select(audit).order_by(audit.c.seq)).all()
    assert [(r.channel, r.address, r.user_agent) for r in rows] == [
        ("UI", "10.0.0.7", "Mozilla/5.0"),
        ("LINK", "10.0.0.8", "Mozilla/5.0"),
        ("SYSTEM", "10.0.0.7", "Mozilla/5.0"),
        ("API", None, None),
    ]


def test_the_key_comes_from_the_environment_or_the_data_folder(tmp_path: Path) -> None:
    configured = "k" * 40
    assert load_audit_key(tmp_path, {KEY_ENV: configured}) == configured.encode()
    assert not (tmp_path / KEY_FILE).exists()
    with pytest.raises(PerchError, match="at least 32"):
        load_audit_key(tmp_path, {KEY_ENV: "short"})
    made = load_audit_key(tmp_path, {})
    assert len(made) == 32
    assert load_audit_key(tmp_path, {}) == made
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
