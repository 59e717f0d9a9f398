"""Executions: one JSON document each, written by compare-and-set on ``version``.

The searchable facts (state, dates, labels, flow) are copied into columns on every write; the
document alone is read back. The hot statements are built once at import: SQLAlchemy then reuses
their compiled form for every call.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    bindparam,
    exists,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError

from perch.engine.model import Execution
from perch.engine.ports import ExecutionQuery, Page
from perch.engine.states import StateType
from perch.errors import ConcurrentUpdate
from perch.store.cache import ExecutionCache
from perch.store.codec import (
    encode_execution,
    encode_head,
    execution_from_dict,
    labels_map,
    load_sealed,
)
from perch.store.executioncount import (
    Children,
    codepoint_order,
    count_total,
    key_conditions,
)
from perch.store.prepared import Prepared
from perch.store.runchunks import chunk_count, delete_runs, read_runs, write_runs
from perch.store.schema import events, executions, files, jobs, logs, timers
from perch.store.sealing import Sealer

# States that hold a concurrency slot: everything but the terminated states and QUEUED.
ACTIVE_STATES = tuple(
    s.value for s in StateType if not s.is_terminated and s is not StateType.QUEUED
)

_c = executions.c
_INSERT = executions.insert()
_GET = select(_c.document, _c.version).where(_c.id == bindparam("b_id"))
_GET_FOR_UPDATE = _GET.with_for_update()
_UPDATE = (
    executions.update()
    .where(_c.id == bindparam("b_id"), _c.version == bindparam("b_version"))
    .values(
        flow_revision=bindparam("flow_revision"),
        state=bindparam("state"),
        end_date=bindparam("end_date"),
        updated=bindparam("updated"),
        labels=bindparam("labels"),
        document=bindparam("document"),
        version=_c.version + 1,
    )
)
_SAME_FLOW = (
    _c.tenant == bindparam("b_tenant"),
    _c.namespace == bindparam("b_namespace"),
    _c.flow_id == bindparam("b_flow_id"),
)
_PREPARED_INSERT = Prepared(
    _INSERT,
    (
        "id",
        "tenant",
        "namespace",
        "flow_id",
        "flow_revision",
        "state",
        "start_date",
        "end_date",
        "updated",
        "version",
        "labels",
        "document",
    ),
)
_PREPARED_GET = Prepared(_GET)
_PREPARED_GET_FOR_UPDATE = Prepared(_GET_FOR_UPDATE)
_PREPARED_UPDATE = Prepared(_UPDATE)
_COUNT_ACTIVE = select(func.count()).where(*_SAME_FLOW, _c.state.in_(ACTIVE_STATES))
_OLDEST_QUEUED = (
    select(_c.id)
    .where(*_SAME_FLOW, _c.state == StateType.QUEUED.value)
    .order_by(_c.start_date, _c.id)
    .limit(bindparam("b_limit", type_=Integer()))
)


_SORT_COLUMNS: dict[str, Any] = {
    "start_date": _c.start_date,
    "end_date": _c.end_date,
    "id": _c.id,
    "namespace": _c.namespace,
    "flow_id": _c.flow_id,
    "state": _c.state,
}
_TEXT_COLUMNS = (_c.id, _c.namespace, _c.flow_id)
_READ_CHUNK = 500  # ids per query when reading many executions at once


def _date_conditions(query: ExecutionQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.start_after is not None:
        conditions.append(_c.start_date >= query.start_after)
    if query.start_before is not None:
        conditions.append(_c.start_date < query.start_before)
    if query.end_after is not None:
        conditions.append(_c.end_date >= query.end_after)
    if query.end_before is not None:
        conditions.append(_c.end_date < query.end_before)
    return conditions


def _order(query: ExecutionQuery) -> tuple[Any, ...]:
    column = _SORT_COLUMNS[query.sort_field]
    # The id breaks ties, so pages never overlap nor skip rows sharing a sort value.
    order: tuple[Any, ...] = (
        (column.desc(), _c.id.desc()) if query.sort_desc else (column.asc(), _c.id.asc())
    )
    if query.sort_field == "end_date":
        # Running executions have no end: keep them last either way, as both databases agree.
        order = (_c.end_date.is_(None), *order)
    return order


def _columns(execution: Execution, sealer: Sealer | None) -> dict[str, Any]:
    state = execution.state
    chunks = chunk_count(execution)
    return {
        "flow_revision": execution.flow_revision,
        "state": state.current.value,
        "end_date": state.end_date,
        "updated": datetime.now(UTC),
        "labels": labels_map(execution),
        "document": encode_execution(execution, sealer)
        if chunks == 0
        else encode_head(execution, chunks, sealer),
    }


class ExecutionQueries:
    """The execution methods of :class:`perch.store.transaction.SqlTransaction`."""

    _conn: Connection
    dialect: str
    _cache: ExecutionCache | None
    _sealer: Sealer | None
    committed: list[Execution]
    """Executions written or read in this transaction, for the cache once it has committed."""
    _written: dict[str, Execution]

    def insert_execution(self, execution: Execution) -> None:
        """Insert a new execution with its current version."""
        row = _columns(execution, self._sealer)
        row.update(
            id=execution.id,
            tenant=execution.tenant,
            namespace=execution.namespace,
            flow_id=execution.flow_id,
            start_date=execution.state.start_date,
            version=execution.version,
        )
        try:
            _PREPARED_INSERT.rowcount(self._conn, row)
        except IntegrityError as exc:
            raise ConcurrentUpdate(f"execution '{execution.id}' already exists") from exc
        write_runs(self._conn, execution, None, self._sealer, new=True)
        self.committed.append(execution)
        self._written[execution.id] = execution

    def get_execution(self, execution_id: str, *, for_update: bool = False) -> Execution | None:
        """The execution, or None; ``for_update`` locks its row on PostgreSQL."""
        statement = _PREPARED_GET_FOR_UPDATE if for_update else _PREPARED_GET
        row = statement.first(self._conn, {"b_id": execution_id})
        if row is None:
            return None
        return self._decode(execution_id, row[0], row[1], remember=True)

    def get_executions(
        self, execution_ids: Sequence[str], *, for_update: bool = False
    ) -> dict[str, Execution]:
        """The executions of ``execution_ids`` that exist, read in one query per 500 ids (rows
        locked in id order on PostgreSQL with ``for_update``)."""
        found: dict[str, Execution] = {}
        ordered = sorted(set(execution_ids))
        for first in range(0, len(ordered), _READ_CHUNK):
            query = (
                select(_c.id, _c.document, _c.version)
                .where(_c.id.in_(ordered[first : first + _READ_CHUNK]))
                .order_by(_c.id)
            )
            if for_update and self.dialect == "postgresql":
                query = query.with_for_update()
            for row in self._conn.execute(query):
                found[row[0]] = self._decode(row[0], row[1], row[2], remember=True)
        return found

    def _decode(
        self, execution_id: str, document: str, version: int, *, remember: bool = False
    ) -> Execution:
        if self._cache is not None:
            cached = self._cache.get(execution_id, version)
            if cached is not None:
                return cached
        doc = load_sealed(document, self._sealer)
        read_runs(self._conn, execution_id, doc, self._sealer)
        execution = execution_from_dict(doc, version)
        if remember:
            self.committed.append(execution)
            # As stored at that version: what a write of it in this transaction replaces.
            self._written.setdefault(execution_id, execution)
        return execution

    def update_execution(self, execution: Execution) -> Execution:
        """Write ``execution`` if the stored version is still ``execution.version``; return it with
        the new version. Raises :class:`ConcurrentUpdate` otherwise."""
        params = _columns(execution, self._sealer)
        params["b_id"] = execution.id
        params["b_version"] = execution.version
        if _PREPARED_UPDATE.rowcount(self._conn, params) != 1:
            raise ConcurrentUpdate(
                f"execution '{execution.id}' is no longer at version {execution.version}"
            )
        write_runs(self._conn, execution, self._replaced(execution), self._sealer, new=False)
        stored = execution.with_version(execution.version + 1)
        self._written[execution.id] = stored
        self.committed.append(stored)
        return stored

    def update_executions(self, executions: Sequence[Execution]) -> list[Execution]:
        """:meth:`update_execution` of each, the rows compare-and-set in one batched UPDATE;
        :class:`ConcurrentUpdate` when any of them is no longer at its version."""
        if len(executions) <= 1:
            return [self.update_execution(execution) for execution in executions]
        rows = []
        for execution in executions:
            params = _columns(execution, self._sealer)
            params["b_id"] = execution.id
            params["b_version"] = execution.version
            rows.append(params)
        if _PREPARED_UPDATE.many(self._conn, rows) != len(rows):
            raise ConcurrentUpdate(
                f"one of {len(rows)} executions written together changed meanwhile"
            )
        stored = []
        for execution in executions:
            replaced = self._replaced(execution)
            write_runs(self._conn, execution, replaced, self._sealer, new=False)
            saved = execution.with_version(execution.version + 1)
            self._written[execution.id] = saved
            self.committed.append(saved)
            stored.append(saved)
        return stored

    def _replaced(self, execution: Execution) -> Execution | None:
        """The version a write of ``execution`` replaces, as this transaction wrote or read it
        or as committed (the cache holds it): only the chunks of task runs that changed are
        written."""
        replaced = self._written.get(execution.id)
        if replaced is None or replaced.version != execution.version:
            replaced = (
                self._cache.get(execution.id, execution.version)
                if self._cache is not None
                else None
            )
        return replaced

    def _label_filter(self, key: str, value: str) -> ColumnElement[bool]:
        if self.dialect == "postgresql":
            return type_coerce(_c.labels, JSONB).contains({key: value})
        pairs = func.json_each(_c.labels).table_valued("key", "value").alias("label")
        return exists().where(pairs.c.key == key, pairs.c.value == value)

    def search_executions(self, query: ExecutionQuery) -> Page:
        """A page of the executions matching every filter, in the asked order, and the total
        count of matches (an estimate beyond ``query.count_limit``, see
        :mod:`perch.store.executioncount`)."""
        conditions = self._conditions(query, self._children())
        total, estimated = count_total(
            self._conn, self.dialect, query, conditions, lambda: self._conditions(query, "like")
        )
        order = _order(query)
        size = max(query.size, 0)
        offset = max(query.page - 1, 0) * size
        page = select(_c.id, _c.document, _c.version).order_by(*order)
        if offset:
            # A deep page finds its ids first, from the index alone, and then reads the rows of
            # these only: PostgreSQL would otherwise fetch each skipped row, and may well walk
            # the start date index instead to do so (page 50 of a state: 13 -> 2 ms at 1M).
            ids = select(_c.id).where(*conditions).order_by(*order).limit(size).offset(offset)
            page = page.where(_c.id.in_(ids.scalar_subquery()))
        else:
            page = page.where(*conditions).limit(size)
        rows = self._conn.execute(page)
        # Search results are not remembered: a big page would evict the executions in use.
        return Page([self._decode(*row) for row in rows], total, estimated)

    def execution_states(self, query: ExecutionQuery) -> list[tuple[str, StateType]]:
        """The id and current state of every execution matching ``query``'s filters (all
        pages), in its order: what a bulk action decides on, without decoding documents."""
        conditions = self._conditions(query, self._children())
        rows = self._conn.execute(
            select(_c.id, _c.state).where(*conditions).order_by(*_order(query))
        )
        return [(str(row[0]), StateType(row[1])) for row in rows]

    def _children(self) -> Children:
        """How a namespace's children are matched here (see :data:`Children`)."""
        if self.dialect == "postgresql":
            return "range" if codepoint_order(self._conn) else "like"
        return "prefix"

    def _conditions(self, query: ExecutionQuery, children: Children) -> list[ColumnElement[bool]]:
        conditions = key_conditions(query, _c, children=children)
        for key, value in query.labels:
            conditions.append(self._label_filter(key, value))
        conditions.extend(_date_conditions(query))
        if query.ids:
            conditions.append(_c.id.in_(query.ids))
        if query.text:
            # SQLite's LIKE ignores ASCII case already, and its lower() folds nothing more: the
            # lower() of icontains on every row would only triple the time of a text search.
            match = "contains" if self.dialect == "sqlite" else "icontains"
            conditions.append(
                or_(*(getattr(c, match)(query.text, autoescape=True) for c in _TEXT_COLUMNS))
            )
        return conditions

    def delete_execution(self, execution_id: str) -> bool:
        """Remove the execution, its logs, its files and any work items still pointing at it;
        the audit trail keeps its records (it is append-only). Whether the execution existed."""
        for table in (logs, jobs, timers, events, files):
            self._conn.execute(table.delete().where(table.c.execution_id == execution_id))
        delete_runs(self._conn, execution_id)
        deleted = self._conn.execute(executions.delete().where(_c.id == execution_id)).rowcount
        return bool(deleted)

    def count_active_executions(self, tenant: str, namespace: str, flow_id: str) -> int:
        """Executions of the flow that hold a concurrency slot (not terminated, not QUEUED)."""
        params = {"b_tenant": tenant, "b_namespace": namespace, "b_flow_id": flow_id}
        return int(self._conn.execute(_COUNT_ACTIVE, params).scalar_one())

    def oldest_queued_execution(
        self, tenant: str, namespace: str, flow_id: str, excluding: Collection[str] = ()
    ) -> str | None:
        """The id of the flow's QUEUED execution that started first, if any, leaving out
        ``excluding`` (executions a unit has moved on without writing them yet)."""
        params = {
            "b_tenant": tenant,
            "b_namespace": namespace,
            "b_flow_id": flow_id,
            "b_limit": len(excluding) + 1,
        }
        rows = self._conn.execute(_OLDEST_QUEUED, params).scalars()
        return next((found for found in rows if found not in excluding), None)
