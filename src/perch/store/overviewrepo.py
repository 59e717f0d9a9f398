"""Reads for the web UI's overviews: executions counted by day and state (the dashboard), the
namespaces holding KV pairs or secrets, and a namespace's KV pairs with their values.

Each is one statement: counting happens in the database (``GROUP BY`` over the indexed
``start_date``), so a dashboard of a busy week reads a few dozen rows, not its executions.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ColumnElement, Connection, false, func, literal, or_, select, union

from perch.engine.service.kv import KvEntry
from perch.store.kvrepo import _entry
from perch.store.schema import executions, kv, secrets

_e = executions.c


def _in_scope(scope: tuple[str, ...] | None) -> list[ColumnElement[bool]]:
    if scope is None:
        return []
    within = (
        (_e.namespace == n) | _e.namespace.startswith(n + ".", autoescape=True) for n in scope
    )
    return [or_(false(), *within)]


def _day(value: object) -> date:
    # SQLite answers the text 'YYYY-MM-DD', PostgreSQL a date.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


class OverviewQueries:
    """The overview methods of :class:`perch.store.transaction.SqlTransaction`."""

    _conn: Connection
    dialect: str

    def count_executions_by_day(
        self, tenant: str, since: datetime, scope: tuple[str, ...] | None
    ) -> list[tuple[date, str, int]]:
        """``(UTC day, state, count)`` of the executions of ``tenant`` started at or after
        ``since``, in the namespaces of ``scope`` (None: all)."""
        if self.dialect == "postgresql":
            day = func.date(func.timezone("UTC", _e.start_date)).label("day")
        else:  # SQLite keeps naive UTC text, which date() reads as it is
            day = func.date(_e.start_date).label("day")
        rows = self._conn.execute(
            select(day, _e.state, func.count().label("n"))
            .where(_e.tenant == tenant, _e.start_date >= since, *_in_scope(scope))
            .group_by(day, _e.state)
        ).all()
        return [(_day(r.day), str(r.state), int(r.n)) for r in rows]

    def namespaces_with_data(self, tenant: str) -> list[tuple[str, str]]:
        """``(namespace, "KV" or "SECRET")`` for every namespace of ``tenant`` holding a KV pair
        (expired or not) or a secret."""
        statement = union(
            select(kv.c.namespace, literal("KV").label("kind"))
            .where(kv.c.tenant == tenant)
            .distinct(),
            select(secrets.c.namespace, literal("SECRET").label("kind"))
            .where(secrets.c.tenant == tenant)
            .distinct(),
        )
        return [(str(r[0]), str(r[1])) for r in self._conn.execute(statement)]

    def list_kv_values(self, tenant: str, namespace: str, limit: int) -> list[KvEntry]:
        """The namespace's first ``limit`` entries by key, with their values (expired too)."""
        rows = self._conn.execute(
            select(kv)
            .where(kv.c.tenant == tenant, kv.c.namespace == namespace)
            .order_by(kv.c.key)
            .limit(limit)
        ).all()
        return [_entry(r, with_value=True) for r in rows]
