"""A database with audit records from before the keyed chain (revision 0006) upgrades: its old
records keep their unkeyed chain and still verify, new ones are keyed per tenant, and an edit
of an old record is still detected."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, column, create_engine, insert, table, update

from perch.engine.effects import Audit
from perch.engine.principal import Principal
from perch.store import SqlStore, open_store
from perch.store.auditchain import GENESIS_HASH, legacy_hash
from perch.store.codec import canonical_json
from perch.store.database import create_store_engine, database_url
from perch.store.migrate import alembic_config
from perch.store.schema import audit
from tests.store.samples import T0


@pytest.fixture
def old_database(
    request: pytest.FixtureRequest, store_kind: str, tmp_path: Path
) -> tuple[str | None, Path]:
    """A database at revision 0006 holding three audit records; ``(url, data folder)``."""
    data_dir = tmp_path / "data"
    url: str | None = None
    if store_kind == "postgres":
        base, schema = request.getfixturevalue("postgres_schema")
        url = f"{base}?options=-csearch_path%3D{schema}"
        plain = create_engine(database_url(base, None))
        with plain.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        plain.dispose()
    engine = create_store_engine(database_url(url, data_dir))
    try:
        _migrate_to_0006(engine)
        _write_legacy(engine)
    finally:
        engine.dispose()
    return url, data_dir


def _migrate_to_0006(engine: Engine) -> None:
    with engine.begin() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")


class _Row:
    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


def _write_legacy(engine: Engine) -> None:
    prev = GENESIS_HASH
    with engine.begin() as connection:
        for n in range(3):
            values = {
                "at": T0 + timedelta(seconds=n),
                "execution_id": f"e{n}",
                "action": "RESUME",
                "principal_name": "ana",
                "principal_kind": "USER",
                "detail": canonical_json({"n": n}),
            }
            digest = legacy_hash(prev, _Row(**values))
            # The table as revision 0006 had it: only the columns of then.
            old = table("audit", *(column(name) for name in [*values, "prev_hash", "hash"]))
            connection.execute(insert(old).values(**values, prev_hash=prev, hash=digest))
            prev = digest


def _open(database: tuple[str | None, Path]) -> SqlStore:
    url, data_dir = database
    return open_store(url, data_dir=data_dir)


def test_old_records_still_verify_and_new_ones_are_keyed(
    old_database: tuple[str | None, Path],
) -> None:
    store = _open(old_database)
    try:
        check = store.verify_audit_chain()
        assert check.ok, check
        assert check.records == 3
        with store.transaction() as tx:
            tx.add_audit("e9", Audit("KILL", Principal("bob")), T0 + timedelta(minutes=1))
        check = store.verify_audit_chain()
        assert check.ok, check
        assert check.records == 4
        assert dict(check.heads)["main"].position == 1
        with store.engine.begin() as connection:
            connection.execute(
                update(audit).where(audit.c.execution_id == "e1").values(detail='{"n":7}')
            )
        broken = store.verify_audit_chain()
    finally:
        store.close()
    assert not broken.ok
    assert (broken.problem, broken.tenant, broken.position) == ("changed", None, None)
