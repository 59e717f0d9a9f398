"""Bringing a database to the newest schema with the Alembic revisions shipped in the package.

Alembic is configured in code (no ``alembic.ini``), so this works from an installed wheel. On
PostgreSQL an advisory lock makes concurrent starts (several server processes) migrate one at a
time; on SQLite the ``BEGIN IMMEDIATE`` of the migration transaction does the same.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"

# An arbitrary constant that identifies Perch's migration lock among PostgreSQL advisory locks.
_MIGRATION_LOCK = 0x5045524348  # "PERCH"


def alembic_config() -> Config:
    """An Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@cache
def head_revision() -> str | None:
    """The newest revision shipped with this version of Perch."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def upgrade_to_head(engine: Engine) -> None:
    """Apply every migration the database lacks (a no-op when it is up to date)."""
    head = head_revision()
    with engine.connect() as connection:
        if MigrationContext.configure(connection).get_current_revision() == head:
            connection.rollback()
            return
        connection.rollback()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None: no Perch schema yet)."""
    with engine.connect() as connection:
        found = MigrationContext.configure(connection).get_current_revision()
        connection.rollback()
    return found


@cache
def known_revisions() -> tuple[str, ...]:
    """Every revision this version of Perch ships, oldest first."""
    script = ScriptDirectory.from_config(alembic_config())
    return tuple(rev.revision for rev in reversed(list(script.walk_revisions())))


def schema_problem(engine: Engine) -> str | None:
    """Why a process of this version must not start on this database (None: it may): a schema
    older than this Perch's, or one a newer Perch wrote."""
    found = current_revision(engine)
    head = head_revision()
    if found == head:
        return None
    if found is None:
        return "the database has no Perch schema yet: run `perch db upgrade` first"
    if found in known_revisions():
        return (
            f"the database schema is at revision {found}, older than this Perch's {head}: "
            "run `perch db upgrade` first"
        )
    return (
        f"the database schema is at revision {found}, which this Perch ({head}) does not know: "
        "a newer Perch wrote it; upgrade Perch on this machine"
    )
