"""The total of an execution search, without reading every match.

A search's page reads its rows in index order, so its cost does not grow with the matches; its
total must not either. The total is counted exactly up to the query's ``count_limit`` (a
``count(*)`` over at most ``count_limit + 1`` entries of the covering index); beyond it, it is an
estimate and the page says so:

- on SQLite, from ``execution_counts``, the executions per (tenant, namespace, flow, state) kept
  by triggers in the same transactions as the executions (migration 0014). A search filtering on
  those columns only (states, namespaces, flows) is answered from it exactly, at any size. With
  other filters (labels, dates, ids, text) it is an upper bound: the matches of the same states,
  namespaces and flows, whatever the other filters;
- on PostgreSQL, from the planner's row estimate of the search (``EXPLAIN``), which reads the
  table's statistics (extended ones on those four columns, migration 0014), not its rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy import (
    ClauseElement,
    ColumnElement,
    Connection,
    Executable,
    Select,
    and_,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from perch.engine.ports import ExecutionQuery
from perch.store.schema import execution_counts

_s = execution_counts.c


def codepoint_order(conn: Connection) -> bool:
    """Whether the database compares text by code point (SQLite; PostgreSQL with the C,
    POSIX or C.UTF-8 collation), so that a namespace's children are one range of an index.
    Asked once per pooled connection."""
    known = conn.info.get(_CODEPOINT_KEY)
    if known is None:
        # datlocprovider (ICU or libc) is new in PostgreSQL 15: read through to_jsonb, so that
        # older servers answer NULL (libc) instead of an error.
        known = conn.dialect.name == "sqlite" or bool(
            conn.exec_driver_sql(
                "SELECT coalesce(to_jsonb(d) ->> 'datlocprovider', 'c') = 'c' AND d.datcollate"
                " IN ('C', 'POSIX', 'C.UTF-8', 'C.utf8') FROM pg_database d"
                " WHERE d.datname = current_database()"
            ).scalar()
        )
        conn.info[_CODEPOINT_KEY] = known
    return bool(known)


_CODEPOINT_KEY = "perch_codepoint_order"


Children = Literal["like", "range", "prefix"]
"""How a namespace's children are matched: ``LIKE 'a.b.%'`` (any collation); the range
``[a.b, a.b/)``, which an index led by (tenant, namespace) serves where text compares by code
point; or ``substr(namespace, 1, 4) = 'a.b.'``, which no index serves (so that SQLite reads a
namespace's newest executions in date order instead of sorting all of them)."""


def key_conditions(
    query: ExecutionQuery, c: Any, *, children: Children = "like"
) -> list[ColumnElement[bool]]:
    """The filters of ``query`` on tenant, namespace, flow and state, on the columns ``c`` (of
    ``executions`` or of ``execution_counts``: both name them alike)."""
    within = _WITHIN[children]
    conditions: list[ColumnElement[bool]] = [c.tenant == query.tenant]
    if query.states:
        conditions.append(c.state.in_([s.value for s in query.states]))
    if query.not_states:
        conditions.append(c.state.not_in([s.value for s in query.not_states]))
    if query.namespace_prefix is not None:
        conditions.append(within(c, query.namespace_prefix))
    if query.namespace is not None:
        conditions.append(c.namespace == query.namespace)
    if query.namespace_scope is not None:
        conditions.append(or_(false(), *(within(c, s) for s in query.namespace_scope)))
    if query.not_namespace is not None:
        conditions.append(c.namespace != query.not_namespace)
    if query.namespace_starts_with is not None:
        conditions.append(c.namespace.startswith(query.namespace_starts_with, autoescape=True))
    if query.namespace_contains is not None:
        conditions.append(c.namespace.contains(query.namespace_contains, autoescape=True))
    if query.flow_id is not None:
        conditions.append(c.flow_id == query.flow_id)
    if query.not_flow_id is not None:
        conditions.append(c.flow_id != query.not_flow_id)
    return conditions


def _like_within(c: Any, namespace: str) -> ColumnElement[bool]:
    within: ColumnElement[bool] = (c.namespace == namespace) | c.namespace.startswith(
        namespace + ".", autoescape=True
    )
    return within


def _range_within(c: Any, namespace: str) -> ColumnElement[bool]:
    # "/" follows "." in code point order: the namespace and its children all lie in
    # [a.b, a.b/), one range of an index led by (tenant, namespace); the second condition leaves
    # out its other texts (a.b-x: "-" sorts before "."). LIKE 'a.b.%' is a range only under the
    # C collation, and an OR of two ranges makes PostgreSQL read the whole tenant.
    within: ColumnElement[bool] = and_(
        c.namespace >= namespace,
        c.namespace < namespace + "/",
        (c.namespace == namespace) | (c.namespace >= namespace + "."),
    )
    return within


def _prefix_within(c: Any, namespace: str) -> ColumnElement[bool]:
    head = namespace + "."
    within: ColumnElement[bool] = (c.namespace == namespace) | (
        func.substr(c.namespace, 1, len(head)) == head
    )
    return within


_WITHIN = {"like": _like_within, "range": _range_within, "prefix": _prefix_within}


def keys_only(query: ExecutionQuery) -> bool:
    """Whether ``query`` filters on tenant, namespace, flow and state only."""
    return not (
        query.labels
        or query.ids
        or query.text
        or query.start_after is not None
        or query.start_before is not None
        or query.end_after is not None
        or query.end_before is not None
    )


def count_total(
    conn: Connection,
    dialect: str,
    query: ExecutionQuery,
    conditions: list[ColumnElement[bool]],
    planned: Callable[[], list[ColumnElement[bool]]],
) -> tuple[int, bool]:
    """``(total, estimated)`` of the executions matching ``conditions`` (those of ``query``);
    ``planned`` gives the same conditions as PostgreSQL's planner estimates them best (a
    namespace's children as ``LIKE``, which it matches against its most common values, where
    the index-friendly range with its exclusion would be estimated as two independent filters)."""
    if dialect == "sqlite" and keys_only(query):
        return _summed(conn, query), False
    limit = query.count_limit
    if limit is None:
        return int(conn.execute(select(func.count()).where(*conditions)).scalar_one()), False
    limit = max(limit, 0)
    first = select(literal(1)).where(*conditions).limit(limit + 1).subquery()
    counted = int(conn.execute(select(func.count()).select_from(first)).scalar_one())
    if counted <= limit:
        return counted, False
    postgres = dialect == "postgresql"
    estimate = _planned_rows(conn, planned()) if postgres else _summed(conn, query)
    return max(estimate, limit + 1), True


def _summed(conn: Connection, query: ExecutionQuery) -> int:
    conditions = key_conditions(query, _s, children="range")  # SQLite only: code point order
    summed = select(func.coalesce(func.sum(_s.n), 0)).where(*conditions)
    return int(conn.execute(summed).scalar_one())


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON)`` of a statement, with its parameters bound as usual (so a user's
    text never becomes SQL, and a label filter's JSON is encoded as in the search)."""

    inherit_cache = False

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


@compiles(_Explain, "postgresql")
def _compile_explain(element: _Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


def _planned_rows(conn: Connection, conditions: list[ColumnElement[bool]]) -> int:
    plan: Any = conn.execute(_Explain(select(literal(1)).where(*conditions))).scalar_one()
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])
