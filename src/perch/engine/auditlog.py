"""Reading the audit trail: the record as the engine sees it, the search filters, and the
service functions the API and the CLI call (search, export, verify).

Records are written by :meth:`perch.engine.ports.Transaction.add_audit` in the transaction of the
action they record. Where an action comes from (channel, address, user agent) can be given on
the :class:`perch.engine.effects.Audit` effect itself or, for every record written while a block
runs, with :func:`audit_origin` — what an HTTP request does once for all the records it causes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from perch.engine.context import reading
from perch.engine.model import JSON
from perch.engine.ports import Store, Transaction


class Channel(StrEnum):
    """How an action reached Perch."""

    API = "API"
    UI = "UI"
    CLI = "CLI"
    LINK = "LINK"
    SYSTEM = "SYSTEM"


@dataclass(frozen=True, slots=True)
class AuditOrigin:
    """Where the actions of a request come from."""

    channel: str = Channel.API.value
    address: str | None = None
    user_agent: str | None = None


_origin: ContextVar[AuditOrigin | None] = ContextVar("perch_audit_origin", default=None)


@contextlib.contextmanager
def audit_origin(origin: AuditOrigin) -> Iterator[None]:
    """Records written inside the block (in this thread or task, and in the threads the
    context is copied to) take their channel, address and user agent from ``origin`` unless
    their :class:`~perch.engine.effects.Audit` names its own."""
    token = _origin.set(origin)
    try:
        yield
    finally:
        _origin.reset(token)


def current_origin() -> AuditOrigin | None:
    """The origin set by the innermost :func:`audit_origin`, if any."""
    return _origin.get()


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored audit record."""

    seq: int
    tenant: str
    at: datetime
    principal_name: str
    principal_kind: str
    action: str
    resource_type: str | None
    resource_id: str | None
    namespace: str | None
    execution_id: str | None
    channel: str
    address: str | None
    user_agent: str | None
    outcome: str
    detail: JSON
    before: JSON = None
    after: JSON = None


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of an audit search, all optional, all of them must hold. ``namespace`` matches
    the namespace and its children; ``start`` is inclusive and ``end`` exclusive. Pages are
    1-based; results come newest first."""

    tenant: str = "main"
    principal: str | None = None
    action: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    namespace: str | None = None
    execution_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    page: int = 1
    size: int = 25


@dataclass(frozen=True, slots=True)
class AuditPage:
    results: list[AuditRecord]
    total: int


class AuditReader(Protocol):
    """What the store's transactions offer for reading the audit trail."""

    def search_audit(
        self,
        query: AuditQuery,
        scope: tuple[str, ...] | None,
        *,
        before_seq: int | None = None,
        count: bool = True,
    ) -> AuditPage:
        """A page of matching records, newest first; ``before_seq`` starts below that record
        (keyset paging, ``query.page`` ignored); without ``count`` the total is not computed."""
        ...


def _reader(tx: Transaction) -> AuditReader:
    # Perch's store implements the engine's transaction and this reader in one class.
    return tx  # type: ignore[return-value]


def search_audit(
    store: Store, query: AuditQuery, *, namespaces: tuple[str, ...] | None = None
) -> AuditPage:
    """The records of ``query.tenant`` that match, newest first, with the total.

    ``namespaces`` limits the search to records of these namespaces and their children; records
    of no namespace (users, groups, roles…) are then left out. None searches the whole tenant.
    """
    with reading(store) as tx:
        return _reader(tx).search_audit(query, namespaces)


EXPORT_BATCH = 1000


def export_audit(
    store: Store, query: AuditQuery, *, namespaces: tuple[str, ...] | None = None
) -> Iterator[AuditRecord]:
    """Every matching record, newest first, read in batches (each batch in a transaction of its
    own, so a slow reader never holds one open)."""
    before: int | None = None
    while True:
        with reading(store) as tx:
            batch = _reader(tx).search_audit(
                replace(query, page=1, size=EXPORT_BATCH),
                namespaces,
                before_seq=before,
                count=False,
            )
        yield from batch.results
        if len(batch.results) < EXPORT_BATCH:
            return
        before = batch.results[-1].seq
