"""Executions: insert, get, compare-and-set updates, search, concurrency counts."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from perch.engine.model import Attempt, Label, LogEntry, TaskRun
from perch.engine.ports import ExecutionQuery
from perch.engine.states import State, StateType
from perch.errors import ConcurrentUpdate
from perch.store import SqlStore
from tests.store.samples import T0, make_execution


def test_insert_then_get_round_trips(store: SqlStore) -> None:
    run = TaskRun(
        id="tr1",
        task_id="log",
        state=State.new(T0).with_state(StateType.RUNNING, T0 + timedelta(seconds=1)),
        attempts=(Attempt(State.new(T0, StateType.RUNNING), "worker-1"),),
        outputs={"value": [1, "two", {"three": None}]},
    )
    execution = replace(
        make_execution("e1", labels=(Label("system.username", "ana"),)),
        task_runs=(run,),
        inputs={"name": "Ana", "when": "2026-01-01T00:00:00Z"},
        version=3,
    )
    with store.transaction() as tx:
        tx.insert_execution(execution)
    with store.transaction() as tx:
        assert tx.get_execution("e1") == execution
        assert tx.get_execution("e1", for_update=True) == execution
        assert tx.get_execution("missing") is None


def test_duplicate_insert_is_refused(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.insert_execution(make_execution("e1"))
    with pytest.raises(ConcurrentUpdate), store.transaction() as tx:
        tx.insert_execution(make_execution("e1"))


def test_update_is_a_compare_and_set(store: SqlStore) -> None:
    execution = make_execution("e1")
    with store.transaction() as tx:
        tx.insert_execution(execution)
        running = replace(execution, state=execution.state.with_state(StateType.RUNNING, T0))
        stored = tx.update_execution(running)
    assert stored.version == 1
    with store.transaction() as tx:
        assert tx.get_execution("e1") == stored
    # A writer still holding version 0 lost the race.
    with pytest.raises(ConcurrentUpdate), store.transaction() as tx:
        tx.update_execution(replace(running, flow_revision=9))
    with store.transaction() as tx:
        assert tx.get_execution("e1") == stored
        assert tx.update_execution(stored).version == 2


def test_32_threads_compare_and_set_exactly_one_wins_per_version(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.insert_execution(make_execution("e1"))
    rounds, threads = 5, 32
    wins: list[tuple[int, int]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def contend(worker: int) -> None:
        for _ in range(rounds):
            barrier.wait()
            with store.transaction(readonly=True) as tx:
                current = tx.get_execution("e1")
            assert current is not None
            barrier.wait()  # everyone read the same version before anyone writes
            try:
                with store.transaction() as tx:
                    tx.update_execution(replace(current, metadata={"winner": worker}))
            except ConcurrentUpdate:
                continue
            with lock:
                wins.append((current.version, worker))

    pool = [threading.Thread(target=contend, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert sorted(version for version, _ in wins) == list(range(rounds))
    with store.transaction() as tx:
        final = tx.get_execution("e1")
    assert final is not None
    assert final.version == rounds
    assert final.metadata["winner"] == dict(wins)[rounds - 1]


def test_rollback_on_exception_leaves_nothing(store: SqlStore) -> None:
    def fail_midway() -> None:
        with store.transaction() as tx:
            tx.insert_execution(make_execution("e1"))
            tx.add_logs([LogEntry("e1", T0, "INFO", "written")])
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_midway()
    with store.transaction() as tx:
        assert tx.get_execution("e1") is None
        assert tx.get_logs("e1") == []


def test_a_rolled_back_write_never_reaches_the_cache(
    open_same: Callable[[], SqlStore],
) -> None:
    mine, other = open_same(), open_same()
    with mine.transaction() as tx:
        tx.insert_execution(make_execution("e1"))

    def write_then_fail() -> None:
        with mine.transaction() as tx:
            current = tx.get_execution("e1")
            assert current is not None
            tx.update_execution(replace(current, metadata={"by": "mine"}))
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError, match="rolled back"):
        write_then_fail()
    # Another process takes the same version number with other content.
    with other.transaction() as tx:
        current = tx.get_execution("e1")
        assert current is not None
        tx.update_execution(replace(current, metadata={"by": "other"}))
    with mine.transaction(readonly=True) as tx:
        seen = tx.get_execution("e1")
    assert seen is not None
    assert seen.version == 1
    assert seen.metadata == {"by": "other"}


def test_reads_see_writes_of_other_processes(open_same: Callable[[], SqlStore]) -> None:
    mine, other = open_same(), open_same()
    with mine.transaction() as tx:
        tx.insert_execution(make_execution("e1"))
    with other.transaction() as tx:
        current = tx.get_execution("e1")
        assert current is not None
        tx.update_execution(replace(current, state=current.state.with_state(StateType.RUNNING, T0)))
    with mine.transaction(readonly=True) as tx:
        seen = tx.get_execution("e1")
        page = tx.search_executions(ExecutionQuery())
    assert seen is not None
    assert seen.state.current is StateType.RUNNING
    assert page.results == [seen]


def _seed(store: SqlStore) -> None:
    rows = [
        ("a1", "company.team", "alpha", StateType.SUCCESS, 0, {"env": "prod", "team": "x"}),
        ("a2", "company.team", "alpha", StateType.PAUSED, 1, {"env": "dev"}),
        ("a3", "company.team", "alpha", StateType.QUEUED, 2, {}),
        ("a4", "company.team", "alpha", StateType.QUEUED, 3, {}),
        ("b1", "company.team.sub", "beta", StateType.RUNNING, 4, {"env": "prod"}),
        ("c1", "company.teamx", "gamma", StateType.FAILED, 5, {"env": "prod"}),
        ("d1", "company_team", "delta", StateType.CREATED, 6, {}),
    ]
    with store.transaction() as tx:
        for ident, namespace, flow_id, state, minutes, labels in rows:
            start = T0 + timedelta(minutes=minutes)
            execution = make_execution(
                ident,
                namespace=namespace,
                flow_id=flow_id,
                start=start,
                labels=tuple(Label(k, v) for k, v in labels.items()),
            )
            if state is not StateType.CREATED:
                execution = replace(execution, state=execution.state.with_state(state, start))
            tx.insert_execution(execution)
        tx.insert_execution(make_execution("other", tenant="acme"))


def _ids(store: SqlStore, **filters: object) -> list[str]:
    with store.transaction(readonly=True) as tx:
        page = tx.search_executions(ExecutionQuery(**filters))  # type: ignore[arg-type]
    return [e.id for e in page.results]


def test_search_filters(store: SqlStore) -> None:
    _seed(store)
    assert _ids(store) == ["d1", "c1", "b1", "a4", "a3", "a2", "a1"]
    assert _ids(store, sort_desc=False)[:2] == ["a1", "a2"]
    assert _ids(store, tenant="acme") == ["other"]
    assert _ids(store, states=(StateType.QUEUED, StateType.PAUSED)) == ["a4", "a3", "a2"]
    assert _ids(store, namespace_prefix="company.team") == ["b1", "a4", "a3", "a2", "a1"]
    assert _ids(store, namespace_prefix="company_team") == ["d1"]
    assert _ids(store, flow_id="beta") == ["b1"]
    assert _ids(store, labels=(("env", "prod"),)) == ["c1", "b1", "a1"]
    assert _ids(store, labels=(("env", "prod"), ("team", "x"))) == ["a1"]
    assert _ids(store, labels=(("env", "nope"),)) == []
    assert _ids(
        store, start_after=T0 + timedelta(minutes=1), start_before=T0 + timedelta(minutes=4)
    ) == ["a4", "a3", "a2"]
    assert _ids(store, ids=("a1", "c1", "zz")) == ["c1", "a1"]


def test_search_pagination_and_total(store: SqlStore) -> None:
    _seed(store)
    with store.transaction(readonly=True) as tx:
        first = tx.search_executions(ExecutionQuery(size=3, page=1))
        third = tx.search_executions(ExecutionQuery(size=3, page=3))
        beyond = tx.search_executions(ExecutionQuery(size=3, page=4))
    assert first.total == third.total == beyond.total == 7
    assert [e.id for e in first.results] == ["d1", "c1", "b1"]
    assert [e.id for e in third.results] == ["a1"]
    assert beyond.results == []


def test_search_sees_updated_state_and_labels(store: SqlStore) -> None:
    _seed(store)
    with store.transaction() as tx:
        paused = tx.get_execution("a2")
        assert paused is not None
        tx.update_execution(
            replace(
                paused,
                state=paused.state.with_state(StateType.SUCCESS, T0),
                labels=(Label("env", "prod"),),
            )
        )
    assert "a2" in _ids(store, states=(StateType.SUCCESS,), labels=(("env", "prod"),))


def test_concurrency_counts_and_oldest_queued(store: SqlStore) -> None:
    _seed(store)
    with store.transaction(readonly=True) as tx:
        # alpha: PAUSED holds a slot; SUCCESS and QUEUED do not.
        assert tx.count_active_executions("main", "company.team", "alpha") == 1
        assert tx.count_active_executions("main", "company.team.sub", "beta") == 1
        assert tx.count_active_executions("main", "company.team", "nope") == 0
        assert tx.oldest_queued_execution("main", "company.team", "alpha") == "a3"
        assert tx.oldest_queued_execution("main", "company.team.sub", "beta") is None


def test_size_grows_with_executions(store: SqlStore) -> None:
    empty = store.size_bytes()
    with store.transaction() as tx:
        for n in range(500):
            tx.insert_execution(make_execution(f"e{n:04}"))
    assert store.size_bytes() > empty
