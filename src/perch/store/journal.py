"""Execution logs, and the append-only audit trail made tamper-evident by a hash chain.

Each audit record stores ``hash = sha256(prev_hash + canonical JSON of the record)``, where
``prev_hash`` is the hash of the record before it (64 zeros for the first). Changing, removing or
reordering any record breaks every hash after it, which :func:`verify_audit_chain` detects.
Appends are serialized so the chain never forks: by the single writer on SQLite, by a
transaction-scoped advisory lock on PostgreSQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from perch.engine.effects import Audit
from perch.engine.model import LogEntry
from perch.store.codec import canonical_json, loads
from perch.store.prepared import Prepared
from perch.store.schema import audit, logs
from perch.templating.taint import MASK, Secret

GENESIS_HASH = "0" * 64

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
_LEVEL_ALIASES = {"WARNING": "WARN", "FATAL": "ERROR", "CRITICAL": "ERROR"}

# An arbitrary constant naming the audit-append lock among PostgreSQL advisory locks.
_AUDIT_LOCK = 0x4155444954  # "AUDIT"

_INSERT_LOGS = logs.insert()
_INSERT_AUDIT = audit.insert()
_PREPARED_INSERT_AUDIT = Prepared(
    _INSERT_AUDIT,
    (
        "at",
        "execution_id",
        "action",
        "principal_name",
        "principal_kind",
        "detail",
        "prev_hash",
        "hash",
    ),
)
_PREPARED_INSERT_LOGS = Prepared(
    _INSERT_LOGS,
    ("execution_id", "task_run_id", "task_id", "attempt", "timestamp", "level", "message"),
)
_LAST_AUDIT_HASH = select(audit.c.hash).order_by(audit.c.seq.desc()).limit(1)
_PREPARED_LAST_AUDIT_HASH = Prepared(_LAST_AUDIT_HASH)


def levels_at_least(level: str) -> tuple[str, ...]:
    """The log levels at or above ``level`` (``WARNING`` is accepted for ``WARN``)."""
    name = level.upper()
    name = _LEVEL_ALIASES.get(name, name)
    if name not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; expected one of {', '.join(LEVELS)}")
    return LEVELS[LEVELS.index(name) :]


def audit_hash(
    prev_hash: str,
    *,
    at: datetime,
    execution_id: str | None,
    action: str,
    principal_name: str,
    principal_kind: str,
    detail: Any,
) -> str:
    """The hash of one audit record chained to the one before it."""
    body = canonical_json(
        {
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
            "executionId": execution_id,
            "action": action,
            "principal": {"name": principal_name, "kind": principal_kind},
            "detail": detail,
        }
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """The result of :func:`verify_audit_chain`."""

    ok: bool
    records: int
    broken_at: int | None = None
    """The sequence number of the first record that does not match the chain."""
    reason: str | None = None


def verify_audit_chain(rows: Iterable[Any]) -> AuditCheck:
    """Check audit rows (in sequence order) against their hash chain."""
    prev = GENESIS_HASH
    count = 0
    for row in rows:
        count += 1
        if row.prev_hash != prev:
            return AuditCheck(False, count, row.seq, "prev_hash does not match the record before")
        expected = audit_hash(
            prev,
            at=row.at,
            execution_id=row.execution_id,
            action=row.action,
            principal_name=row.principal_name,
            principal_kind=row.principal_kind,
            detail=loads(row.detail),
        )
        if row.hash != expected:
            return AuditCheck(False, count, row.seq, "the record does not match its hash")
        prev = row.hash
    return AuditCheck(True, count)


AUDIT_ROWS = select(audit).order_by(audit.c.seq)
"""Every audit record in chain order."""


class Journal:
    """The log and audit methods of :class:`perch.store.transaction.SqlTransaction`."""

    _conn: Connection
    dialect: str
    _audit_head: str | None

    def add_logs(self, entries: Sequence[LogEntry]) -> None:
        """Write log lines (one batched INSERT)."""
        if not entries:
            return
        _PREPARED_INSERT_LOGS.many(
            self._conn,
            [
                {
                    "execution_id": e.execution_id,
                    "task_run_id": e.task_run_id,
                    "task_id": e.task_id,
                    "attempt": e.attempt,
                    "timestamp": e.timestamp,
                    "level": _LEVEL_ALIASES.get(e.level.upper(), e.level.upper()),
                    # A line rendered from a secret is never needed as it was: kept masked.
                    "message": MASK if isinstance(e.message, Secret) else e.message,
                }
                for e in entries
            ],
        )

    def get_logs(
        self,
        execution_id: str,
        *,
        min_level: str | None = None,
        task_id: str | None = None,
    ) -> list[LogEntry]:
        """The execution's log lines in time order, optionally from ``min_level`` up and of one
        task."""
        query = select(
            logs.c.execution_id,
            logs.c.timestamp,
            logs.c.level,
            logs.c.message,
            logs.c.task_run_id,
            logs.c.task_id,
            logs.c.attempt,
        ).where(logs.c.execution_id == execution_id)
        if min_level is not None:
            query = query.where(logs.c.level.in_(levels_at_least(min_level)))
        if task_id is not None:
            query = query.where(logs.c.task_id == task_id)
        query = query.order_by(logs.c.timestamp, logs.c.seq)
        return [LogEntry(*row) for row in self._conn.execute(query)]

    def _last_audit_hash(self) -> str:
        if self._audit_head is None:
            if self.dialect == "postgresql":
                self._conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_AUDIT_LOCK})")
            row = _PREPARED_LAST_AUDIT_HASH.first(self._conn, {})
            last = row[0] if row is not None else None
            self._audit_head = last if last is not None else GENESIS_HASH
        return self._audit_head

    def add_audit(self, execution_id: str | None, record: Audit, at: datetime) -> None:
        """Append an audit record to the hash chain."""
        prev = self._last_audit_hash()
        detail = loads(canonical_json(record.detail))
        principal = record.principal
        digest = audit_hash(
            prev,
            at=at,
            execution_id=execution_id,
            action=record.action,
            principal_name=principal.name,
            principal_kind=principal.kind.value,
            detail=detail,
        )
        _PREPARED_INSERT_AUDIT.rowcount(
            self._conn,
            {
                "at": at,
                "execution_id": execution_id,
                "action": record.action,
                "principal_name": principal.name,
                "principal_kind": principal.kind.value,
                "detail": canonical_json(detail),
                "prev_hash": prev,
                "hash": digest,
            },
        )
        self._audit_head = digest
