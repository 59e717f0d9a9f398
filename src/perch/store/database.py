"""Connecting: database URLs, SQLite pragmas and transaction begin, PostgreSQL schemas.

SQLite is used as one writer and many readers: WAL journal, ``synchronous=NORMAL`` (a crash loses
no committed transaction's consistency, at most the last ones not yet checkpointed on power loss)
and ``FULL`` for the commits of acknowledged decisions and creates
(:mod:`perch.engine.durability`), a busy timeout, and write transactions opened with
``BEGIN IMMEDIATE`` so two writers never both hold a read lock and deadlock when upgrading. The
driver's own transaction handling is turned off and ``BEGIN`` is issued here instead, as
SQLAlchemy's documentation recommends for pysqlite.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import ConnectionPoolEntry

from perch.engine.durability import wants_durable
from perch.store.savepoints import install_lazy_savepoints

_SYNC_KEY = "perch_synchronous"
BEGIN_OPTION = "perch_begin"
"""Connection execution option: the SQLite ``BEGIN`` mode (``IMMEDIATE`` or ``DEFERRED``)."""

DEFAULT_DATA_DIR = Path(".perch")
DATABASE_FILE = "perch.db"

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


DATA_DIR_MODE = 0o700
DATABASE_FILE_MODE = 0o600


def make_data_dir(folder: Path) -> None:
    """Create the data folder readable by this user only (0700); one that exists is left as
    it is (it may be a folder the user chose and shares)."""
    if folder.is_dir():
        return
    folder.mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
    # mkdir's mode passes through the umask, which only removes bits; set it exactly.
    with contextlib.suppress(OSError):
        os.chmod(folder, DATA_DIR_MODE)


def private_database_file(path: Path) -> None:
    """Create the SQLite file 0600 before SQLite opens it (SQLite gives its ``-wal`` and
    ``-shm`` files the mode of the database file), and take group and other access away from
    those files when an older Perch left them readable."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, DATABASE_FILE_MODE))
    for name in (path.name, f"{path.name}-wal", f"{path.name}-shm", f"{path.name}-journal"):
        with contextlib.suppress(OSError):
            target = path.with_name(name)
            if target.stat().st_uid == os.getuid() and target.stat().st_mode & 0o077:
                os.chmod(target, DATABASE_FILE_MODE)


def database_url(url: str | None, data_dir: Path | None) -> str:
    """The SQLAlchemy URL: a SQLite file in ``data_dir`` when ``url`` is None; a PostgreSQL URL is
    rewritten to use psycopg 3."""
    if url is None:
        folder = data_dir if data_dir is not None else DEFAULT_DATA_DIR
        make_data_dir(folder)
        private_database_file(folder / DATABASE_FILE)
        return f"sqlite:///{(folder / DATABASE_FILE).resolve()}"
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def create_sqlite_engine(url: str) -> Engine:
    """An engine on a SQLite file, a pooled connection per thread that holds a transaction."""
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 5.0},
        pool_size=8,
        max_overflow=64,
        pool_timeout=30,
    )

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # None = autocommit in the driver: this module emits BEGIN itself (see _begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The busy timeout first: switching to WAL needs a lock another process may hold.
        cursor.execute("PRAGMA busy_timeout=5000")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(BEGIN_OPTION, "IMMEDIATE")
        statement = f"BEGIN {mode}"
        # Straight to the driver: this runs once per transaction, and SQLAlchemy's statement
        # machinery cost more than the BEGIN itself. Errors keep SQLAlchemy's classes.
        driver = connection.connection.driver_connection
        info = connection.connection.info
        sync = "FULL" if mode == "IMMEDIATE" and wants_durable() else "NORMAL"
        try:
            if info.get(_SYNC_KEY, "NORMAL") != sync:
                # Outside any transaction, for this commit: FULL flushes the WAL at commit.
                driver.execute(f"PRAGMA synchronous={sync}")  # type: ignore[union-attr]
                info[_SYNC_KEY] = sync
            driver.execute(statement)  # type: ignore[union-attr]
        except sqlite3.Error as exc:
            raise DBAPIError.instance(statement, (), exc, sqlite3.Error) from exc

    return engine


def _use_wal(cursor: Any, patience: float = 60.0) -> None:
    """Put the file in WAL mode (once set, it stays with the file).

    Switching needs the file to itself: while another process migrates a new database, the
    switch can fail at once with "database is locked" rather than wait for the busy timeout, so
    it is retried for a while. A file already in WAL mode needs no switch at all.
    """
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + patience
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def create_postgres_engine(url: str, schema: str | None) -> Engine:
    """An engine on PostgreSQL through psycopg 3, optionally confined to one schema."""
    if schema is not None and not _SCHEMA_NAME.match(schema):
        raise ValueError(f"invalid schema name {schema!r}")
    engine = create_engine(url, pool_size=5, max_overflow=10, pool_pre_ping=False)
    install_lazy_savepoints(engine)
    if schema is not None:
        # Created before any pooled connection points its search_path at it.
        with engine.connect() as connection:
            # IF NOT EXISTS does not stop two sessions creating it at once (the second fails
            # on a unique index): processes starting together take turns.
            connection.exec_driver_sql(
                "SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, 0))",
                {"key": f"perch-schema:{schema}"},
            )
            connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            connection.commit()

        @event.listens_for(engine, "connect")
        def _search_path(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True
            cursor = dbapi_connection.cursor()
            cursor.execute(f'SET search_path TO "{schema}"')
            cursor.close()
            dbapi_connection.autocommit = autocommit

        # The connection used to create the schema predates the listener.
        engine.dispose()
    return engine


def create_store_engine(url: str, *, schema: str | None = None) -> Engine:
    """The engine for a SQLAlchemy URL (as returned by :func:`database_url`)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if schema is not None:
            raise ValueError("schema is a PostgreSQL option")
        if parsed.database in (None, "", ":memory:"):
            # Each pooled connection would see its own empty database.
            raise ValueError("an in-memory SQLite database cannot be shared: give a file")
        return create_sqlite_engine(url)
    if backend == "postgresql":
        return create_postgres_engine(url, schema)
    raise ValueError(f"unsupported database {backend!r}: use SQLite or PostgreSQL")
