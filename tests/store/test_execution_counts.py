"""Search totals beyond the count limit: the counts SQLite keeps per (tenant, namespace, flow,
state), the estimate of each backend, and the bulk actions that page past an estimated total."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from perch.engine.model import Label
from perch.engine.ports import ExecutionQuery
from perch.engine.service.bulk import matching_ids
from perch.engine.states import StateType
from perch.store import SqlStore
from perch.store.schema import execution_counts, executions
from tests.store.samples import T0, make_execution


def _seed(store: SqlStore, count: int) -> list[str]:
    ids = [f"run-{n}" for n in range(count)]
    with store.transaction() as tx:
        for n, ident in enumerate(ids):
            execution = make_execution(
                ident,
                namespace="company.team" if n % 2 else "company.team.sub",
                flow_id=f"flow{n % 3}",
                start=T0 + timedelta(minutes=n),
                labels=(Label("team", "blue"),) if n < count - 1 else (),
            )
            tx.insert_execution(execution)
    return ids


def _kept(store: SqlStore) -> set[tuple[str, str, str, str, int]]:
    s = execution_counts.c
    with store.engine.connect() as conn:
        rows = conn.execute(select(s.tenant, s.namespace, s.flow_id, s.state, s.n).where(s.n > 0))
        return {tuple(r) for r in rows}  # type: ignore[misc]


def _counted(store: SqlStore) -> set[tuple[str, str, str, str, int]]:
    e = executions.c
    key = (e.tenant, e.namespace, e.flow_id, e.state)
    with store.engine.connect() as conn:
        rows = conn.execute(select(*key, func.count()).group_by(*key))
        return {tuple(r) for r in rows}  # type: ignore[misc]


def test_sqlite_keeps_the_counts_through_every_write(store: SqlStore) -> None:
    if store.dialect != "sqlite":
        pytest.skip("PostgreSQL estimates with its planner; the table stays empty")
    ids = _seed(store, 7)
    assert _kept(store) == _counted(store)
    now = T0 + timedelta(hours=1)
    with store.transaction() as tx:
        for ident in ids[:4]:
            execution = tx.get_execution(ident)
            assert execution is not None
            moved = replace(execution, state=execution.state.with_state(StateType.RUNNING, now))
            moved = tx.update_execution(moved)
            tx.update_execution(moved)  # the same state again: nothing to count
        tx.delete_execution(ids[5])
    assert _kept(store) == _counted(store)
    assert sum(n for *_, n in _kept(store)) == 6


def test_beyond_the_limit_the_total_is_flagged(store: SqlStore) -> None:
    _seed(store, 7)
    labelled = ExecutionQuery(labels=(("team", "blue"),), size=2, count_limit=3)
    with store.transaction(readonly=True) as tx:
        page = tx.search_executions(labelled)
        assert (len(page.results), page.estimated) == (2, True)
        assert page.total >= 4
        if store.dialect == "sqlite":
            assert page.total == 7  # every execution of those states, namespaces and flows
        exact = tx.search_executions(replace(labelled, count_limit=None))
        assert (exact.total, exact.estimated) == (6, False)
        up_to = tx.search_executions(replace(labelled, count_limit=6))
        assert (up_to.total, up_to.estimated) == (6, False)
        child = tx.search_executions(
            ExecutionQuery(namespace_prefix="company.team", flow_id="flow1", count_limit=1)
        )
        assert {e.id for e in child.results} == {"run-1", "run-4"}
        # SQLite's counts answer a namespace and flow filter exactly; PostgreSQL estimates.
        assert child.estimated is (store.dialect == "postgresql")


def test_a_bulk_action_reads_every_page_past_an_estimate(store: SqlStore) -> None:
    ids = _seed(store, 7)
    assert sorted(matching_ids(store, ExecutionQuery(), page_size=2)) == sorted(ids)
    labelled = ExecutionQuery(labels=(("team", "blue"),))
    assert sorted(matching_ids(store, labelled, page_size=2)) == sorted(ids[:-1])


def test_a_namespace_and_its_children_only(store: SqlStore) -> None:
    # Namespaces around the range [company.team, company.team/) the index reads.
    names = ["company.team", "company.team.a", "company.team-x", "company.teamx", "company.team/"]
    names += ["company.team.a.b", "company.tea", "Company.team.c"]
    with store.transaction() as tx:
        for n, namespace in enumerate(names):
            tx.insert_execution(make_execution(f"ns-{n}", namespace=namespace))
    within = ExecutionQuery(namespace_prefix="company.team", size=20)
    with store.transaction(readonly=True) as tx:
        found = tx.search_executions(within)
        limited = tx.search_executions(replace(within, count_limit=100))
        scoped = tx.search_executions(ExecutionQuery(namespace_scope=("company.team.a",)))
    assert {e.namespace for e in found.results} == {
        "company.team",
        "company.team.a",
        "company.team.a.b",
    }
    assert (found.total, limited.total, limited.estimated) == (3, 3, False)
    assert {e.namespace for e in scoped.results} == {"company.team.a", "company.team.a.b"}
    if store.dialect == "postgresql":
        # Under a collation that does not compare by code point, LIKE matches the children.
        with store.transaction(readonly=True) as tx:
            tx.connection.info["perch_codepoint_order"] = False
            try:
                liked = tx.search_executions(within)
            finally:
                del tx.connection.info["perch_codepoint_order"]
        assert [e.id for e in liked.results] == [e.id for e in found.results]
