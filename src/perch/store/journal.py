"""Execution logs, and the append-only audit trail, chained per tenant with a keyed hash.

How the chain is computed and checked is in :mod:`perch.store.auditchain`. Appends to one
tenant's chain are serialized so it never forks: by the single writer on SQLite, by a
transaction-scoped advisory lock per tenant on PostgreSQL. What a caller leaves out of an
:class:`~perch.engine.effects.Audit` is derived here (see :func:`_derive`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, text

from perch.engine.auditlog import AuditPage, AuditQuery, Channel, current_origin
from perch.engine.effects import Audit
from perch.engine.model import DEFAULT_TENANT, Execution, LogEntry
from perch.engine.principal import PrincipalKind
from perch.store.auditchain import GENESIS_HASH, keyed_hash
from perch.store.auditkey import Head
from perch.store.auditsearch import search_audit_rows
from perch.store.codec import canonical_json
from perch.store.prepared import Prepared
from perch.store.schema import audit, executions, logs
from perch.templating.taint import MASK, Secret, masked

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")
_LEVEL_ALIASES = {"WARNING": "WARN", "FATAL": "ERROR", "CRITICAL": "ERROR"}

_INSERT_LOGS = logs.insert()
_AUDIT_COLUMNS = (
    "at",
    "execution_id",
    "action",
    "principal_name",
    "principal_kind",
    "detail",
    "prev_hash",
    "hash",
    "tenant",
    "position",
    "resource_type",
    "resource_id",
    "namespace",
    "channel",
    "address",
    "user_agent",
    "outcome",
    "before_state",
    "after_state",
)
_PREPARED_INSERT_AUDIT = Prepared(audit.insert(), _AUDIT_COLUMNS)
_PREPARED_INSERT_LOGS = Prepared(
    _INSERT_LOGS,
    ("execution_id", "task_run_id", "task_id", "attempt", "timestamp", "level", "message"),
)
_PREPARED_TENANT_HEAD = Prepared(
    select(audit.c.position, audit.c.hash)
    .where(audit.c.tenant == bindparam("b_tenant"), audit.c.position.is_not(None))
    .order_by(audit.c.position.desc())
    .limit(1)
)
_PREPARED_EXECUTION_PLACE = Prepared(
    select(executions.c.tenant, executions.c.namespace).where(executions.c.id == bindparam("b_id"))
)

# The resource an action is about, from the prefix of its name (longest first).
_RESOURCE_PREFIXES = (
    ("SERVICE_ACCOUNT", "SERVICE_ACCOUNT"),
    ("API_TOKEN", "SERVICE_ACCOUNT"),
    ("BINDING", "BINDING"),
    ("EXECUTION", "EXECUTION"),
    ("GROUP", "GROUP"),
    ("ROLE", "ROLE"),
    ("USER", "USER"),
    ("TENANT", "TENANT"),
    ("FLOW", "FLOW"),
    ("SECRET", "SECRET"),
    ("KV", "KVSTORE"),
    ("LOGIN", "USER"),
)
# Where the detail of each resource type names the resource's id.
_ID_KEYS = {
    "EXECUTION": ("executionId",),
    "USER": ("userId", "username"),
    "GROUP": ("groupId",),
    "ROLE": ("roleId", "id"),
    "BINDING": ("bindingId", "id"),
    "SERVICE_ACCOUNT": ("serviceAccountId", "tokenId", "id"),
    "TENANT": ("tenant",),
    "FLOW": ("flowId",),
    "SECRET": ("key", "name"),
    "KVSTORE": ("key",),
}


def _text(detail: Mapping[str, Any], key: str) -> str | None:
    value = detail.get(key)
    return value if isinstance(value, str) and value else None


def _resource_type(record: Audit, execution_id: str | None) -> str | None:
    if record.resource_type is not None:
        return record.resource_type
    for prefix, kind in _RESOURCE_PREFIXES:
        if record.action.startswith(prefix):
            return kind
    return "EXECUTION" if execution_id is not None else None


def _resource_id(
    record: Audit, kind: str | None, execution_id: str | None, detail: Mapping[str, Any]
) -> str | None:
    if record.resource_id is not None:
        return record.resource_id
    if kind == "EXECUTION" and execution_id is not None:
        return execution_id
    for key in _ID_KEYS.get(kind or "", ()):
        found = _text(detail, key)
        if found is not None:
            return found
    return None


def _outcome(record: Audit, detail: Mapping[str, Any]) -> str:
    if record.outcome is not None:
        return record.outcome
    named = _text(detail, "outcome")
    if named is not None:
        return named
    return "DENIED" if record.action.endswith("_DENIED") else "SUCCESS"


def _optional_json(value: Any) -> str | None:
    return None if value is None else canonical_json(masked(value))


def levels_at_least(level: str) -> tuple[str, ...]:
    """The log levels at or above ``level`` (``WARNING`` is accepted for ``WARN``)."""
    name = level.upper()
    name = _LEVEL_ALIASES.get(name, name)
    if name not in LEVELS:
        raise ValueError(f"unknown log level {level!r}; expected one of {', '.join(LEVELS)}")
    return LEVELS[LEVELS.index(name) :]


ADVISORY_LOCK = text(
    "SELECT pg_advisory_xact_lock(hashtextextended(current_schema() || '/' || :key, 0))"
)
"""A transaction-scoped PostgreSQL advisory lock on ``key`` in this schema: advisory locks
belong to the whole database, and a Perch in another schema must neither wait for this one's
locks nor be chosen as the victim of a deadlock among its transactions."""


class Journal:
    """The log and audit methods of :class:`perch.store.transaction.SqlTransaction`."""

    _conn: Connection
    dialect: str
    _written: dict[str, Execution]
    _audit_heads: dict[str, Head]
    """The chain head of each tenant this transaction appended to (what commits publish)."""
    _audit_key: bytes
    _audit_pending: list[dict[str, Any]]
    """Records added but not yet chained: :meth:`write_audit` appends them just before the
    commit, so the chain's lock is the last lock a transaction takes (a transaction holding
    it never waits for a row another one holds: no deadlock between them)."""

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

    def _audit_position(self, tenant: str) -> tuple[int, str]:
        """The head of ``tenant``'s chain as this transaction sees it (read once, then kept)."""
        head = self._audit_heads.get(tenant)
        if head is None:
            if self.dialect == "postgresql":
                self._conn.execute(ADVISORY_LOCK, {"key": f"perch.audit/{tenant}"})
            row = _PREPARED_TENANT_HEAD.first(self._conn, {"b_tenant": tenant})
            head = Head(int(row[0]), str(row[1])) if row is not None else Head(0, GENESIS_HASH)
            self._audit_heads[tenant] = head
        return head.position, head.hash

    def _execution_place(self, execution_id: str) -> tuple[str, str] | None:
        written: Execution | None = self._written.get(execution_id)
        if written is not None:
            return written.tenant, written.namespace
        row = _PREPARED_EXECUTION_PLACE.first(self._conn, {"b_id": execution_id})
        return (str(row[0]), str(row[1])) if row is not None else None

    def add_audit(self, execution_id: str | None, record: Audit, at: datetime) -> None:
        """Append an audit record to its tenant's chain (SECRET values masked)."""
        detail: dict[str, Any] = dict(masked(dict(record.detail)))
        known = record.tenant is not None and record.namespace is not None
        place = None if known or execution_id is None else self._execution_place(execution_id)
        principal = record.principal
        tenant = (
            record.tenant
            or _text(detail, "tenant")
            or (place[0] if place is not None else None)
            or principal.tenant
            or DEFAULT_TENANT
        )
        namespace = record.namespace or _text(detail, "namespace")
        if namespace is None and place is not None:
            namespace = place[1]
        origin = current_origin()
        if record.channel is not None:
            channel = record.channel
        elif principal.kind is PrincipalKind.SYSTEM:
            channel = Channel.SYSTEM.value
        else:
            channel = origin.channel if origin is not None else Channel.API.value
        kind = _resource_type(record, execution_id)
        self._audit_pending.append(
            {
                "at": at,
                "execution_id": execution_id,
                "action": record.action,
                "principal_name": principal.name,
                "principal_kind": principal.kind.value,
                "detail": canonical_json(detail),
                "tenant": tenant,
                "resource_type": kind,
                "resource_id": _resource_id(record, kind, execution_id, detail),
                "namespace": namespace,
                "channel": channel,
                "address": record.address or (origin.address if origin is not None else None),
                "user_agent": record.user_agent
                or (origin.user_agent if origin is not None else None),
                "outcome": _outcome(record, detail),
                "before_state": _optional_json(record.before),
                "after_state": _optional_json(record.after),
            }
        )

    def write_audit(self) -> None:
        """Chain and insert the records added since the last call, in one batched INSERT (the
        store calls this as the transaction's last step; reads of the audit trail call it
        first)."""
        pending, self._audit_pending = self._audit_pending, []
        if not pending:
            return
        for fields in pending:
            position, prev = self._audit_position(fields["tenant"])
            fields["prev_hash"] = prev
            fields["position"] = position + 1
            fields["hash"] = keyed_hash(self._audit_key, prev, fields)
            self._audit_heads[fields["tenant"]] = Head(position + 1, fields["hash"])
        _PREPARED_INSERT_AUDIT.many(self._conn, pending)

    def search_audit(
        self,
        query: AuditQuery,
        scope: tuple[str, ...] | None,
        *,
        before_seq: int | None = None,
        count: bool = True,
    ) -> AuditPage:
        """A page of matching audit records, newest first (see
        :func:`perch.engine.auditlog.search_audit`)."""
        self.write_audit()
        return search_audit_rows(self._conn, query, scope, before_seq=before_seq, count=count)
