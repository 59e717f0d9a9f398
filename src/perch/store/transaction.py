"""One database transaction, implementing :class:`perch.engine.ports.Transaction`."""

from __future__ import annotations

from sqlalchemy import Connection, text

from perch.engine.model import Execution
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
from perch.store.sealing import Sealer
from perch.store.secretrepo import SecretQueries
from perch.store.sessionrepo import SessionQueries
from perch.store.triggerrepo import TriggerQueries
from perch.store.userrepo import UserQueries
from perch.store.workqueue import WorkQueue


class SqlTransaction(
    FlowQueries,
    ExecutionQueries,
    WorkQueue,
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
        self._audit_key = audit_key if audit_key is not None else load_audit_key(None)

    @property
    def connection(self) -> Connection:
        """The underlying SQLAlchemy connection (for tests and maintenance tools)."""
        return self._conn

    def lock_flow_slots(self, tenant: str, namespace: str, flow_id: str) -> None:
        """A transaction-scoped advisory lock on PostgreSQL; SQLite needs none (one writer at a
        time, and a write transaction starts with ``BEGIN IMMEDIATE``)."""
        if self.dialect == "postgresql":
            self._conn.execute(
                ADVISORY_LOCK,
                {"key": f"perch.slots/{tenant}/{namespace}/{flow_id}"},
            )

    def notify(self, channel: str, payload: str = "") -> None:
        """Send a PostgreSQL NOTIFY when this transaction commits (a no-op on SQLite, where
        wake-ups are in-process)."""
        check_channel(channel)
        if self.dialect == "postgresql":
            self._conn.execute(
                text("SELECT pg_notify(:channel, :payload)"),
                {"channel": channel, "payload": payload},
            )
