"""The audit trail's hash chains: one per tenant, keyed with HMAC-SHA256.

Each record holds its ``position`` in its tenant's chain (1, 2, 3…), the hash of the record
before it (``prev_hash``, 64 zeros for the first) and
``hash = HMAC-SHA256(key, prev_hash + canonical JSON of every field but seq)``. Walking a chain
in order tells apart:

- a **changed** record: in its place, linked to the one before, but its hash is wrong;
- an **inserted** record: its hash is wrong and the record after it links past it (or it
  repeats a position already seen);
- a **deleted** record: the next authentic record does not follow on (a gap in positions, or a
  ``prev_hash`` that names a record no longer there);
- **cut off** newest records: the chain ends before the head in the checkpoint file.

Records written before the chain was keyed (no position) keep their original, unkeyed global
chain and are checked against it; they must all come before the first keyed record.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from perch.store.auditkey import Head
from perch.store.codec import canonical_json, loads
from perch.store.schema import audit

GENESIS_HASH = "0" * 64


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def keyed_hash(key: bytes, prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The hash of a record (its stored column values) chained to ``prev_hash``."""
    body = canonical_json(
        [
            fields["tenant"],
            fields["position"],
            _iso(fields["at"]),
            fields["execution_id"],
            fields["action"],
            fields["principal_name"],
            fields["principal_kind"],
            fields["resource_type"],
            fields["resource_id"],
            fields["namespace"],
            fields["channel"],
            fields["address"],
            fields["user_agent"],
            fields["outcome"],
            fields["detail"],
            fields["before_state"],
            fields["after_state"],
        ]
    )
    return hmac.new(key, (prev_hash + body).encode(), hashlib.sha256).hexdigest()


def legacy_hash(prev_hash: str, row: Any) -> str:
    """The unkeyed hash of a record written before the chain was keyed."""
    body = canonical_json(
        {
            "at": _iso(row.at),
            "executionId": row.execution_id,
            "action": row.action,
            "principal": {"name": row.principal_name, "kind": row.principal_kind},
            "detail": loads(row.detail),
        }
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """The result of verifying the audit trail."""

    ok: bool
    records: int
    broken_at: int | None = None
    """The ``seq`` of the first record that does not match its chain (for a deletion, of the
    first authentic record after the gap; for cut-off records, of the last one left)."""
    reason: str | None = None
    tenant: str | None = None
    position: int | None = None
    """The position in the tenant's chain of the record in question."""
    problem: str | None = None
    """``changed``, ``inserted``, ``deleted`` or ``cut off``."""
    heads: tuple[tuple[str, Head], ...] = ()
    """The head of each tenant's chain that was checked."""


@dataclass(frozen=True, slots=True)
class _Broken:
    seq: int | None
    position: int | None
    problem: str
    reason: str


def _row_fields(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


def verify_tenant(
    key: bytes, rows: Iterable[Any], checkpoint: Head | None
) -> tuple[int, Head | None, _Broken | None]:
    """Walk one tenant's keyed chain (rows in position order, then seq): how many records,
    the head reached, and the first break."""
    prev, expected, count = GENESIS_HASH, 1, 0
    last_seq: int | None = None
    pending = _peekable(iter(rows))
    for row in pending:
        count += 1
        fields = _row_fields(row)
        authentic = hmac.compare_digest(row.hash, keyed_hash(key, row.prev_hash, fields))
        if not authentic:
            after = pending.peek()
            skipped = after is not None and after.prev_hash == prev
            if row.position < expected or skipped:
                return (
                    count,
                    None,
                    _Broken(
                        row.seq, row.position, "inserted", "a record that is not part of the chain"
                    ),
                )
            return (
                count,
                None,
                _Broken(row.seq, row.position, "changed", "the record does not match its hash"),
            )
        if row.position < expected:
            return (
                count,
                None,
                _Broken(
                    row.seq, row.position, "inserted", "a copy of a record already in the chain"
                ),
            )
        if row.position > expected or row.prev_hash != prev:
            missing = (
                f"positions {expected}..{row.position - 1}"
                if row.position > expected + 1
                else f"position {expected}"
            )
            if row.position == expected:
                missing = f"a record before position {expected}"
            return (
                count,
                None,
                _Broken(row.seq, row.position, "deleted", f"{missing} missing before this record"),
            )
        prev, expected, last_seq = row.hash, expected + 1, row.seq
    head = Head(expected - 1, prev) if count else None
    if checkpoint is not None:
        if head is None or head.position < checkpoint.position:
            reached = 0 if head is None else head.position
            return (
                count,
                head,
                _Broken(
                    last_seq,
                    reached,
                    "cut off",
                    f"the chain ends at position {reached} but the checkpoint names position "
                    f"{checkpoint.position}: the newest records were removed",
                ),
            )
        if head.position == checkpoint.position and head.hash != checkpoint.hash:
            return (
                count,
                head,
                _Broken(
                    last_seq, head.position, "changed", "the head does not match the checkpoint"
                ),
            )
    return count, head, None


def verify_legacy(rows: Iterable[Any], first_keyed_seq: int | None) -> tuple[int, _Broken | None]:
    """Check the records written before the chain was keyed against their unkeyed chain."""
    prev, count = GENESIS_HASH, 0
    for row in rows:
        count += 1
        if first_keyed_seq is not None and row.seq > first_keyed_seq:
            return count, _Broken(row.seq, None, "inserted", "an unkeyed record after keyed ones")
        if row.prev_hash != prev:
            return count, _Broken(row.seq, None, "deleted", "prev_hash does not match")
        if row.hash != legacy_hash(prev, row):
            return count, _Broken(row.seq, None, "changed", "the record does not match its hash")
        prev = row.hash
    return count, None


class _peekable:
    """An iterator that can look one item ahead."""

    def __init__(self, items: Iterator[Any]) -> None:
        self._items = items
        self._next: Any = None
        self._has = False

    def __iter__(self) -> _peekable:
        return self

    def __next__(self) -> Any:
        if self._has:
            self._has = False
            return self._next
        return next(self._items)

    def peek(self) -> Any:
        if not self._has:
            try:
                self._next = next(self._items)
            except StopIteration:
                return None
            self._has = True
        return self._next


def verify_trail(
    conn: Connection, key: bytes, checkpoint: Mapping[str, Head], tenant: str | None = None
) -> AuditCheck:
    """Walk the chain of every tenant (or of ``tenant``) and the unkeyed records before them."""
    streamed = conn.execution_options(yield_per=1000)
    total = 0
    if tenant is None:
        first_keyed = conn.execute(
            select(func.min(audit.c.seq)).where(audit.c.position.is_not(None))
        ).scalar_one()
        legacy = streamed.execute(
            select(audit).where(audit.c.position.is_(None)).order_by(audit.c.seq)
        )
        try:
            total, broken = verify_legacy(legacy, first_keyed)
        finally:
            legacy.close()
        if broken is not None:
            return _failed(total, None, broken, ())
    tenants = set(checkpoint)
    tenants |= set(conn.execute(select(audit.c.tenant).distinct()).scalars())
    if tenant is not None:
        tenants = {tenant}
    heads: list[tuple[str, Head]] = []
    for name in sorted(tenants):
        rows = streamed.execute(
            select(audit)
            .where(audit.c.tenant == name, audit.c.position.is_not(None))
            .order_by(audit.c.position, audit.c.seq)
        )
        try:
            count, head, broken = verify_tenant(key, rows, checkpoint.get(name))
        finally:
            rows.close()
        total += count
        if head is not None:
            heads.append((name, head))
        if broken is not None:
            return _failed(total, name, broken, tuple(heads))
    return AuditCheck(True, total, heads=tuple(heads))


def _failed(
    total: int, tenant: str | None, broken: _Broken, heads: tuple[tuple[str, Head], ...]
) -> AuditCheck:
    return AuditCheck(
        False,
        total,
        broken.seq,
        broken.reason,
        tenant=tenant,
        position=broken.position,
        problem=broken.problem,
        heads=heads,
    )


def chain_heads(conn: Connection) -> dict[str, Head]:
    """The newest record of each tenant's chain, as stored (not verified)."""
    newest = (
        select(audit.c.tenant, func.max(audit.c.position).label("position"))
        .where(audit.c.position.is_not(None))
        .group_by(audit.c.tenant)
        .subquery()
    )
    rows = conn.execute(
        select(audit.c.tenant, audit.c.position, audit.c.hash).join(
            newest,
            (audit.c.tenant == newest.c.tenant) & (audit.c.position == newest.c.position),
        )
    )
    return {row.tenant: Head(int(row.position), row.hash) for row in rows}
