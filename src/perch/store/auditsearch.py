"""Searching the audit trail: filters to SQL over the indexes of the ``audit`` table.

Every search is within one tenant and newest first, so each filter that matters at scale has an
index led by ``(tenant, <column>)`` and ending in ``seq``: the database reads the newest matches
of one execution or one principal straight from the index, whatever the size of the table.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, false, func, or_, select

from perch.engine.auditlog import AuditPage, AuditQuery, AuditRecord
from perch.store.codec import loads
from perch.store.schema import audit

_c = audit.c
_RECORD_COLUMNS = (
    _c.seq,
    _c.tenant,
    _c.at,
    _c.principal_name,
    _c.principal_kind,
    _c.action,
    _c.resource_type,
    _c.resource_id,
    _c.namespace,
    _c.execution_id,
    _c.channel,
    _c.address,
    _c.user_agent,
    _c.outcome,
    _c.detail,
    _c.before_state,
    _c.after_state,
)


def _within(namespace: str) -> ColumnElement[bool]:
    """The namespace and its children. ``/`` sorts right after ``.``: the children of ``a.b``
    are exactly the texts in ``['a.b.', 'a.b/')``, a range an index can serve."""
    return or_(
        _c.namespace == namespace,
        and_(_c.namespace >= f"{namespace}.", _c.namespace < f"{namespace}/"),
    )


def audit_conditions(query: AuditQuery, scope: tuple[str, ...] | None) -> list[ColumnElement[bool]]:
    """The WHERE clauses of ``query`` limited to the namespaces of ``scope`` (None: all)."""
    where: list[ColumnElement[bool]] = [_c.tenant == query.tenant]
    if scope is not None:
        where.append(or_(*[_within(ns) for ns in scope]) if scope else false())
    if query.principal is not None:
        where.append(_c.principal_name == query.principal)
    if query.action is not None:
        where.append(_c.action == query.action)
    if query.resource_type is not None:
        where.append(_c.resource_type == query.resource_type)
    if query.resource_id is not None:
        where.append(_c.resource_id == query.resource_id)
    if query.namespace is not None:
        where.append(_within(query.namespace))
    if query.execution_id is not None:
        where.append(_c.execution_id == query.execution_id)
    if query.start is not None:
        where.append(_c.at >= query.start)
    if query.end is not None:
        where.append(_c.at < query.end)
    return where


def search_audit_rows(
    conn: Connection,
    query: AuditQuery,
    scope: tuple[str, ...] | None,
    *,
    before_seq: int | None = None,
    count: bool = True,
) -> AuditPage:
    """A page of the records matching ``query``, newest first, and (with ``count``) how many
    match in all."""
    where = audit_conditions(query, scope)
    total = 0
    if count:
        total = int(
            conn.execute(select(func.count()).select_from(audit).where(*where)).scalar_one()
        )
    statement = select(*_RECORD_COLUMNS).where(*where)
    if before_seq is not None:
        statement = statement.where(_c.seq < before_seq)
    else:
        statement = statement.offset((query.page - 1) * query.size)
    rows = conn.execute(statement.order_by(_c.seq.desc()).limit(query.size))
    return AuditPage([record_of(row) for row in rows], total)


def _json(text: str | None) -> Any:
    return None if text is None else loads(text)


def record_of(row: Any) -> AuditRecord:
    """An audit row as the engine's record."""
    return AuditRecord(
        seq=int(row.seq),
        tenant=row.tenant,
        at=row.at,
        principal_name=row.principal_name,
        principal_kind=row.principal_kind,
        action=row.action,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        namespace=row.namespace,
        execution_id=row.execution_id,
        channel=row.channel,
        address=row.address,
        user_agent=row.user_agent,
        outcome=row.outcome,
        detail=_json(row.detail),
        before=_json(row.before_state),
        after=_json(row.after_state),
    )
