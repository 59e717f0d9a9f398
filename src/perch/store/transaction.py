"""One database transaction, implementing :class:`perch.engine.ports.Transaction`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, text

from perch.engine.model import Execution
from perch.engine.ports import TriggerRow
from perch.store.auditkey import Head, load_audit_key
from perch.store.cache import ExecutionCache
from perch.store.countsrepo import CountQueries
from perch.store.executionrepo import ExecutionQueries
from perch.store.filerepo import FileQueries
from perch.store.flowrepo import FlowQueries
from perch.store.identityrepo import IdentityQueries
from perch.store.journal import ADVISORY_LOCK, Journal
from perch.store.kvrepo import KvQueries
from perch.store.notifications import check_channel
from perch.store.overviewrepo import OverviewQueries
from perch.store.rolerepo import RoleQueries
from perch.store.savepoints import savepoint
from perch.store.sealing import Sealer
from perch.store.secretrepo import SecretQueries
from perch.store.sessionrepo import SessionQueries
from perch.store.triggerrepo import TriggerQueries
from perch.store.userrepo import UserQueries
from perch.store.workerrepo import WorkerQueries
from perch.store.workqueue import WorkQueue


class SqlTransaction(
    FlowQueries,
    ExecutionQueries,
    WorkQueue,
    WorkerQueries,
    Journal,
    UserQueries,
    SessionQueries,
    RoleQueries,
    IdentityQueries,
    FileQueries,
    SecretQueries,
    KvQueries,
    TriggerQueries,
    OverviewQueries,
    CountQueries,
):
    """Reads and writes inside one open transaction of ``connection``.

    Handed out by :meth:`perch.store.SqlStore.transaction`, which commits or rolls back; it must
    not be used after that block ends.
    """

    def __init__(
        self,
        connection: Connection,
        dialect: str,
        cache: ExecutionCache | None = None,
        sealer: Sealer | None = None,
        audit_key: bytes | None = None,
    ) -> None:
        self._conn = connection
        self.dialect = dialect
        self._cache = cache
        self._sealer = sealer
        self.committed: list[Execution] = []
        self._written: dict[str, Execution] = {}
        """Executions as this transaction last wrote them (what a second write replaces)."""
        self._audit_heads: dict[str, Head] = {}
        self._audit_pending: list[dict[str, Any]] = []
        self._listeners: dict[tuple[str, str], list[TriggerRow]] = {}
        self._audit_key = audit_key if audit_key is not None else load_audit_key(None)
        self._savepoints = 0

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A block whose writes are undone when it raises, the rest of the transaction kept
        (see :mod:`perch.store.savepoints`)."""
        self._savepoints += 1
        name = f"perch_sp_{self._savepoints}"
        committed, pending = len(self.committed), len(self._audit_pending)
        written, heads = dict(self._written), dict(self._audit_heads)
        try:
            with savepoint(self._conn, name, lazy=self.dialect == "postgresql"):
                yield
        except BaseException:
            del self.committed[committed:]
            del self._audit_pending[pending:]
            self._written, self._audit_heads = written, heads
            self._listeners.clear()
            raise

    @property
    def connection(self) -> Connection:
        """The underlying SQLAlchemy connection (for tests and maintenance tools)."""
        return self._conn

    def lock_flow_slots(self, tenant: str, namespace: str, flow_id: str) -> None:
        """A transaction-scoped advisory lock on PostgreSQL; SQLite needs none (one writer at a
        time, and a write transaction starts with ``BEGIN IMMEDIATE``)."""
        if self.dialect == "postgresql":
            key = f"perch.slots/{tenant}/{namespace}/{flow_id}"
            self._conn.execute(ADVISORY_LOCK, {"key": key})

    def notify(self, channel: str, payload: str = "") -> None:
        """Send a PostgreSQL NOTIFY when this transaction commits (a no-op on SQLite, where
        wake-ups are in-process)."""
        check_channel(channel)
        if self.dialect == "postgresql":
            self._conn.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": channel, "payload": payload},
            )
