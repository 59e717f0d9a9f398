"""The store: an engine, migrated at open, that hands out transactions."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text

from perch.engine.ports import Store, Transaction
from perch.store.auditchain import AuditCheck, chain_heads, verify_trail
from perch.store.auditkey import (
    Checkpointer,
    Head,
    load_audit_key,
    read_checkpoint,
    write_checkpoint,
)
from perch.store.cache import ExecutionCache
from perch.store.database import BEGIN_OPTION
from perch.store.notifications import Listener
from perch.store.schema import metadata
from perch.store.sealing import Sealer
from perch.store.transaction import SqlTransaction


class SqlStore:
    """A SQLite or PostgreSQL database holding flows, executions and their work items."""

    def __init__(
        self,
        engine: Engine,
        *,
        cache_size: int = 1024,
        sealer: Sealer | None = None,
        audit_key: bytes | None = None,
        data_dir: Path | None = None,
    ) -> None:
        self.engine = engine
        # The audit chain's HMAC key, and the folder of the chain-head checkpoint (none for a
        # store without a data folder); both live outside the database on purpose.
        self.audit_key = audit_key if audit_key is not None else load_audit_key(None)
        self.data_dir = data_dir
        self._checkpointer = Checkpointer(data_dir) if data_dir is not None else None
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
            tx = SqlTransaction(connection, self.dialect, self.cache, self.sealer, self.audit_key)
            with connection.begin():
                yield tx
                tx.write_audit()  # last: the audit chain's lock is the last one taken
        # Only now is what the transaction wrote or read known to be committed.
        if tx.committed:
            self.cache.put_all(tx.committed)
        if tx._audit_heads and self._checkpointer is not None:
            self._checkpointer.advance(tx._audit_heads)

    def verify_audit_chain(self, tenant: str | None = None) -> AuditCheck:
        """Check the audit records of every tenant (or one) against their keyed chains and the
        checkpointed heads: detects changed, inserted and deleted records, and cut-off ones."""
        if self._checkpointer is not None:
            self._checkpointer.flush()
        checkpoint = read_checkpoint(self.data_dir)
        with self.transaction(readonly=True) as tx:
            return verify_trail(tx.connection, self.audit_key, checkpoint, tenant)

    def audit_heads(self) -> dict[str, Head]:
        """The newest record of each tenant's chain, as stored."""
        with self.transaction(readonly=True) as tx:
            return chain_heads(tx.connection)

    def checkpoint_audit_heads(self, heads: dict[str, Head]) -> None:
        """Write ``heads`` to the checkpoint file of the data folder (nothing without one)."""
        if self.data_dir is not None:
            write_checkpoint(self.data_dir, heads)

    def notify(self, channel: str, payload: str = "") -> None:
        """Send a PostgreSQL NOTIFY now (a no-op on SQLite)."""
        with self.transaction() as tx:
            tx.notify(channel, payload)

    def readiness(self) -> str | None:
        """Why this process should not take traffic now (None: ready): the database does not
        answer, or its schema is not this Perch's."""
        from perch.store.migrate import schema_problem

        try:
            return schema_problem(self.engine)
        except Exception as exc:
            reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            return f"the database does not answer: {reason[0] if reason else type(exc).__name__}"

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
        """Write the last audit heads to the checkpoint; close every pooled connection; drop
        the engine context bound to this store."""
        from perch.engine.context import forget

        if self._checkpointer is not None:
            self._checkpointer.flush()
        self.engine.dispose()
        forget(self)


if TYPE_CHECKING:
    # mypy proves here that the store satisfies the engine's ports.
    def _implements_ports(store: SqlStore, tx: SqlTransaction) -> tuple[Store, Transaction]:
        return store, tx
