"""The store: an engine, migrated at open, that hands out transactions."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text

from perch.engine.ports import Store, Transaction
from perch.store.cache import ExecutionCache
from perch.store.database import BEGIN_OPTION
from perch.store.journal import AUDIT_ROWS, AuditCheck, verify_audit_chain
from perch.store.notifications import Listener
from perch.store.schema import metadata
from perch.store.sealing import Sealer
from perch.store.transaction import SqlTransaction


class SqlStore:
    """A SQLite or PostgreSQL database holding flows, executions and their work items."""

    def __init__(
        self, engine: Engine, *, cache_size: int = 1024, sealer: Sealer | None = None
    ) -> None:
        self.engine = engine
        # Encrypts SECRET values at rest; a store without one refuses to write a secret.
        self.sealer = sealer
        self.dialect: str = engine.dialect.name
        # One writer for the whole database: the engine's units then read first and write
        # last, so that no rendering happens while the write lock is held.
        self.single_writer = self.dialect == "sqlite"
        self.cache = ExecutionCache(cache_size)
        # SQLite has one writer. Threads of this process queue for it here, where a release
        # wakes the next one at once, rather than in SQLite's busy handler, which polls with
        # sleeps of up to 100 ms. Other processes still meet the busy timeout.
        self._write_lock: AbstractContextManager[object] = (
            threading.RLock() if self.dialect == "sqlite" else nullcontext()
        )

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[SqlTransaction]:
        """Begin a transaction; commit when the block ends normally, roll back on error.

        ``readonly`` lets SQLite readers run alongside the writer (a deferred ``BEGIN``); such a
        transaction must not write. Write transactions take SQLite's write lock at once, so two
        of them never deadlock upgrading a read lock.
        """
        writing = nullcontext() if readonly else self._write_lock
        with writing, self.engine.connect() as connection:
            if readonly and self.dialect == "sqlite":
                connection.execution_options(**{BEGIN_OPTION: "DEFERRED"})
            tx = SqlTransaction(connection, self.dialect, self.cache, self.sealer)
            with connection.begin():
                yield tx
        # Only now is what the transaction wrote or read known to be committed.
        if tx.committed:
            self.cache.put_all(tx.committed)

    def verify_audit_chain(self) -> AuditCheck:
        """Check every audit record against the hash chain (detects edits and deletions)."""
        with self.transaction(readonly=True) as tx:
            rows = tx.connection.execution_options(yield_per=1000).execute(AUDIT_ROWS)
            try:
                return verify_audit_chain(rows)
            finally:
                rows.close()

    def notify(self, channel: str, payload: str = "") -> None:
        """Send a PostgreSQL NOTIFY now (a no-op on SQLite)."""
        with self.transaction() as tx:
            tx.notify(channel, payload)

    def listen(self, channels: Sequence[str]) -> Listener:
        """Start listening for PostgreSQL notifications on ``channels`` (PostgreSQL only)."""
        return Listener(self.engine, list(channels))

    def size_bytes(self) -> int:
        """The space the data takes: SQLite's pages (page count times page size, as this connection
        sees the database), or the total size of Perch's tables and indexes on PostgreSQL."""
        with self.transaction(readonly=True) as tx:
            if self.dialect == "sqlite":
                run = tx.connection.exec_driver_sql
                pages = int(run("PRAGMA page_count").scalar_one())
                return pages * int(run("PRAGMA page_size").scalar_one())
            total = 0
            for table in metadata.sorted_tables:
                total += int(
                    tx.connection.execute(
                        text("SELECT pg_total_relation_size(CAST(:t AS regclass))"),
                        {"t": table.name},
                    ).scalar_one()
                )
            return total

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


if TYPE_CHECKING:
    # mypy proves here that the store satisfies the engine's ports.
    def _implements_ports(store: SqlStore, tx: SqlTransaction) -> tuple[Store, Transaction]:
        return store, tx
