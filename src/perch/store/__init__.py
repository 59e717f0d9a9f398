"""Storage on SQLite or PostgreSQL with SQLAlchemy Core: implements :mod:`perch.engine.ports`.

``open_store()`` opens (and creates) a SQLite file in ``./.perch`` by default, or PostgreSQL for a
``postgresql://`` URL, and brings the schema to the newest Alembic revision.
"""

from __future__ import annotations

from pathlib import Path

from perch.errors import SchemaMismatch
from perch.store.auditchain import AuditCheck
from perch.store.auditkey import load_audit_key
from perch.store.database import DEFAULT_DATA_DIR, create_store_engine, database_url
from perch.store.migrate import schema_problem, upgrade_to_head
from perch.store.sealing import load_sealer
from perch.store.sqlstore import SqlStore
from perch.store.transaction import SqlTransaction

__all__ = ["AuditCheck", "SqlStore", "SqlTransaction", "open_store"]


def open_store(
    url: str | None = None,
    *,
    data_dir: Path | None = None,
    schema: str | None = None,
    migrate: bool = True,
) -> SqlStore:
    """Open the database at ``url`` (a SQLite file ``<data_dir or ./.perch>/perch.db`` when None)
    and migrate it to the newest schema; with ``migrate=False`` a schema that is not this
    Perch's is refused instead (:class:`perch.errors.StoreError` saying which command to run),
    as the processes of a deployment do.

    ``schema`` confines a PostgreSQL store to one schema (created when missing), e.g. to isolate
    test runs sharing a server.

    SECRET values are encrypted with ``PERCH_ENCRYPTION_KEY``, else the key file of the data folder
    (created at the first start; see :mod:`perch.store.sealing`).
    """
    folder = data_dir if data_dir is not None or url is not None else DEFAULT_DATA_DIR
    sealer = load_sealer(folder)
    audit_key = load_audit_key(folder)
    engine = create_store_engine(database_url(url, data_dir), schema=schema)
    try:
        if migrate:
            upgrade_to_head(engine)
        else:
            problem = schema_problem(engine)
            if problem is not None:
                raise SchemaMismatch(problem)
    except BaseException:
        engine.dispose()
        raise
    return SqlStore(engine, sealer=sealer, audit_key=audit_key, data_dir=folder)
