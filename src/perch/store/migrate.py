"""Bringing a database to the newest schema with the Alembic revisions shipped in the package.

Alembic is configured in code (no ``alembic.ini``), so this works from an installed wheel. On
PostgreSQL an advisory lock makes concurrent starts (several server processes) migrate one at a
time; on SQLite the ``BEGIN IMMEDIATE`` of the migration transaction does the same.
"""

from __future__ import annotations

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
