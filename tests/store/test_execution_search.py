"""The search filters and sorts added for the REST API, and deleting an execution (with its
files), on both backends."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select

from perch.engine.effects import Audit, ScheduleTimer
from perch.engine.events import Start
from perch.engine.model import LogEntry
from perch.engine.ports import ExecutionQuery, Job, QueuedEvent
from perch.engine.principal import SYSTEM
from perch.engine.states import StateType
from perch.store import SqlStore
from perch.store.schema import audit, events, files, jobs, logs, timers
from tests.store.samples import T0, make_execution


def _seed(store: SqlStore) -> None:
    # id, namespace, flow, final state, start minute, end minute (None: still running)
    rows = [
        ("Run-A", "company.team", "alpha", StateType.SUCCESS, 0, 5),
        ("run-b", "company.team.sub", "beta", StateType.FAILED, 1, 2),
        ("run-c", "company.teamx", "gamma_1", StateType.RUNNING, 2, None),
        ("run-d", "other%ns", "delta", StateType.PAUSED, 3, None),
        ("run-e", "company.team", "alpha", StateType.KILLED, 4, 9),
    ]
    with store.transaction() as tx:
        for ident, namespace, flow_id, state, start, end in rows:
            execution = make_execution(
                ident, namespace=namespace, flow_id=flow_id, start=T0 + timedelta(minutes=start)
            )
            moment = T0 + timedelta(minutes=end if end is not None else start)
            execution = replace(execution, state=execution.state.with_state(state, moment))
            tx.insert_execution(execution)


def _ids(store: SqlStore, **filters: object) -> list[str]:
    with store.transaction(readonly=True) as tx:
        page = tx.search_executions(ExecutionQuery(**filters))  # type: ignore[arg-type]
    return [e.id for e in page.results]


def test_state_and_namespace_filters(store: SqlStore) -> None:
    _seed(store)
    assert _ids(store, not_states=(StateType.RUNNING, StateType.PAUSED)) == [
        "run-e",
        "run-b",
        "Run-A",
    ]
    assert _ids(store, namespace="company.team") == ["run-e", "Run-A"]
    assert _ids(store, not_namespace="company.team") == ["run-d", "run-c", "run-b"]
    assert _ids(store, namespace_starts_with="company.team") == [
        "run-e",
        "run-c",
        "run-b",
        "Run-A",
    ]
    # `%` and `_` are matched as themselves, not as LIKE wildcards.
    assert _ids(store, namespace_contains="%") == ["run-d"]
    assert _ids(store, namespace_starts_with="other_") == []
    assert _ids(store, not_flow_id="alpha") == ["run-d", "run-c", "run-b"]


def test_end_date_bounds_skip_running_executions(store: SqlStore) -> None:
    # A paused execution has an end date (when it paused), as in Kestra; a running one has none.
    _seed(store)
    assert _ids(store, end_after=T0 + timedelta(minutes=5)) == ["run-e", "Run-A"]
    assert _ids(store, end_before=T0 + timedelta(minutes=5)) == ["run-d", "run-b"]
    assert _ids(
        store, end_after=T0 + timedelta(minutes=2), end_before=T0 + timedelta(minutes=6)
    ) == ["run-d", "run-b", "Run-A"]


def test_text_matches_id_namespace_or_flow_ignoring_case(store: SqlStore) -> None:
    _seed(store)
    assert _ids(store, text="RUN-a") == ["Run-A"]
    assert _ids(store, text="GAMMA") == ["run-c"]
    assert _ids(store, text="SUB") == ["run-b"]
    assert _ids(store, text="a_1") == ["run-c"]
    assert _ids(store, text="a%1") == []


def test_sorts(store: SqlStore) -> None:
    _seed(store)
    everything = ["Run-A", "run-b", "run-c", "run-d", "run-e"]
    assert _ids(store, sort_field="id", sort_desc=False) == everything
    assert _ids(store, sort_field="id", sort_desc=True) == everything[::-1]
    assert _ids(store, sort_field="flow_id", sort_desc=False) == [
        "Run-A",
        "run-e",
        "run-b",
        "run-d",
        "run-c",
    ]
    # Ties are broken by id, in the same direction.
    assert _ids(store, sort_field="namespace", sort_desc=False) == [
        "Run-A",
        "run-e",
        "run-b",
        "run-c",
        "run-d",
    ]
    assert _ids(store, sort_field="state", sort_desc=False) == [
        "run-b",
        "run-e",
        "run-d",
        "run-c",
        "Run-A",
    ]
    # A running execution has no end date: last in both directions.
    assert _ids(store, sort_field="end_date", sort_desc=False) == [
        "run-b",
        "run-d",
        "Run-A",
        "run-e",
        "run-c",
    ]
    assert _ids(store, sort_field="end_date", sort_desc=True) == [
        "run-e",
        "Run-A",
        "run-d",
        "run-b",
        "run-c",
    ]


def test_pages_do_not_overlap(store: SqlStore) -> None:
    _seed(store)
    pages = [_ids(store, sort_field="namespace", page=n, size=2) for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(i for page in pages for i in page) == sorted(_ids(store))


def _count(store: SqlStore, table: object, execution_id: str) -> int:
    with store.transaction(readonly=True) as tx:
        column = table.c.execution_id  # type: ignore[attr-defined]
        return int(
            tx.connection.execute(
                select(func.count()).select_from(table).where(column == execution_id)  # type: ignore[arg-type]
            ).scalar_one()
        )


def test_delete_removes_the_execution_and_its_rows_but_not_its_audit(store: SqlStore) -> None:
    with store.transaction() as tx:
        for ident in ("gone", "kept"):
            tx.insert_execution(make_execution(ident))
            tx.add_logs([LogEntry(ident, T0, "INFO", "hello")])
            tx.add_jobs([Job(f"job-{ident}", ident, "tr", "log", 1, T0)])
            tx.add_timers(ident, [ScheduleTimer(f"timer-{ident}", T0, "resume")])
            tx.add_events([QueuedEvent(f"event-{ident}", ident, Start())])
            tx.add_audit(ident, Audit("CREATED", SYSTEM), T0)
            tx.put_file(
                f"kestra:///n/f/executions/{ident}/inputs/doc/a.bin", ident, b"\x00\xff", T0
            )
    with store.transaction() as tx:
        assert tx.delete_execution("gone") is True
        assert tx.delete_execution("gone") is False
        assert tx.delete_execution("never") is False
    with store.transaction(readonly=True) as tx:
        assert tx.get_execution("gone") is None
        assert tx.get_execution("kept") is not None
        assert tx.get_logs("gone") == []
        assert [e.id for e in tx.search_executions(ExecutionQuery()).results] == ["kept"]
    with store.transaction(readonly=True) as tx:
        assert tx.get_file("kestra:///n/f/executions/gone/inputs/doc/a.bin") is None
        assert tx.get_file("kestra:///n/f/executions/kept/inputs/doc/a.bin") == b"\x00\xff"
    for table in (logs, jobs, timers, events, files):
        assert _count(store, table, "gone") == 0
        assert _count(store, table, "kept") == 1
    assert _count(store, audit, "gone") == 1
    assert store.verify_audit_chain().ok
