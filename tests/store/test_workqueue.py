"""Jobs with leases, timers and the event outbox."""

from __future__ import annotations

import threading
from datetime import timedelta

from perch.engine.effects import ScheduleTimer
from perch.engine.events import Kill, Resume, Start, TaskResult, TimerFired
from perch.engine.ports import Job, QueuedEvent
from perch.engine.principal import Principal
from perch.engine.states import StateType
from perch.store import SqlStore
from tests.store.samples import T0


def _jobs(count: int) -> list[Job]:
    return [
        Job(
            id=f"j{n:03}",
            execution_id=f"e{n % 3}",
            task_run_id=f"tr{n}",
            task_id="log",
            attempt=1,
            created=T0 + timedelta(milliseconds=n),
        )
        for n in range(count)
    ]


def test_claims_oldest_jobs_and_sets_the_lease(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.add_jobs(list(reversed(_jobs(5))))
        tx.add_jobs([])
    lease = T0 + timedelta(seconds=30)
    with store.transaction() as tx:
        claimed = tx.claim_jobs("w1", 3, T0, lease)
    assert [j.id for j in claimed] == ["j000", "j001", "j002"]
    assert all(j.worker_id == "w1" and j.lease_until == lease for j in claimed)
    assert claimed[0].created == T0
    assert claimed[0].created.tzinfo is not None
    with store.transaction() as tx:
        rest = tx.claim_jobs("w2", 10, T0, lease)
        none_left = tx.claim_jobs("w3", 10, T0, lease)
    assert [j.id for j in rest] == ["j003", "j004"]
    assert none_left == []


def test_an_expired_lease_is_claimable_again_unless_extended(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.add_jobs(_jobs(2))
        tx.claim_jobs("w1", 2, T0, T0 + timedelta(seconds=10))
    with store.transaction() as tx:
        tx.extend_leases("w1", ["j001"], T0 + timedelta(seconds=60))
        tx.extend_leases("intruder", ["j000"], T0 + timedelta(hours=1))
    later = T0 + timedelta(seconds=20)
    with store.transaction() as tx:
        assert tx.claim_jobs("w2", 10, T0 + timedelta(seconds=5), later) == []
        reclaimed = tx.claim_jobs("w2", 10, later, later + timedelta(seconds=10))
    assert [(j.id, j.worker_id) for j in reclaimed] == [("j000", "w2")]
    with store.transaction() as tx:
        tx.delete_job("j000")
        tx.delete_job("j001")
        assert tx.claim_jobs("w3", 10, T0 + timedelta(days=1), T0 + timedelta(days=2)) == []


def test_concurrent_claimers_never_share_a_job(store: SqlStore) -> None:
    total, claimers = 200, 8
    with store.transaction() as tx:
        tx.add_jobs(_jobs(total))
    got: dict[str, list[str]] = {}
    barrier = threading.Barrier(claimers)

    def claim(worker: str) -> None:
        mine: list[str] = []
        barrier.wait()
        while True:
            with store.transaction() as tx:
                batch = tx.claim_jobs(worker, 7, T0, T0 + timedelta(minutes=5))
            if not batch:
                break
            mine.extend(j.id for j in batch)
        got[worker] = mine

    pool = [threading.Thread(target=claim, args=(f"w{n}",)) for n in range(claimers)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    every = [job for mine in got.values() for job in mine]
    assert len(every) == total
    assert len(set(every)) == total


def _timer(timer_id: str, seconds: int, task_run_id: str | None = None) -> ScheduleTimer:
    return ScheduleTimer(
        timer_id=timer_id,
        due=T0 + timedelta(seconds=seconds),
        action="PAUSE_ELAPSED",
        task_run_id=task_run_id,
        payload={"behavior": "RESUME", "n": [1, 2]},
    )


def test_timers_are_claimed_when_due_and_only_once(store: SqlStore) -> None:
    with store.transaction() as tx:
        assert tx.next_timer_due() is None
        tx.add_timers("e1", [_timer("t3", 30), _timer("t1", 10, "tr1"), _timer("t2", 20)])
        tx.add_timers("e1", [])
    with store.transaction() as tx:
        assert tx.next_timer_due() == T0 + timedelta(seconds=10)
        assert tx.claim_due_timers(T0 + timedelta(seconds=5), 10) == []
        due = tx.claim_due_timers(T0 + timedelta(seconds=20), 10)
    assert [t.id for t in due] == ["t1", "t2"]
    assert due[0].execution_id == "e1"
    assert due[0].task_run_id == "tr1"
    assert due[0].action == "PAUSE_ELAPSED"
    assert due[0].payload == {
        "behavior": "RESUME",
        "n": [1, 2],
    }
    assert due[0].due == T0 + timedelta(seconds=10)
    with store.transaction() as tx:
        assert tx.claim_due_timers(T0 + timedelta(seconds=20), 10) == []
        assert tx.next_timer_due() == T0 + timedelta(seconds=30)
        assert [t.id for t in tx.claim_due_timers(T0 + timedelta(days=1), 1)] == ["t3"]


def test_delete_timers_by_execution_and_task_run(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.add_timers("e1", [_timer("a", 1, "tr1"), _timer("b", 2, "tr2"), _timer("c", 3)])
        tx.add_timers("e2", [_timer("d", 4, "tr1")])
        tx.delete_timers("e1", ["tr1"])
        tx.delete_timers("e1", [])
    with store.transaction() as tx:
        assert [t.id for t in tx.claim_due_timers(T0 + timedelta(days=1), 10)] == ["b", "c", "d"]
    with store.transaction() as tx:
        tx.add_timers("e1", [_timer("x", 1, "tr1"), _timer("y", 2)])
        tx.delete_timers("e1")
        assert tx.next_timer_due() is None


def test_events_are_claimed_oldest_first_and_once(store: SqlStore) -> None:
    ana = Principal("ana")
    sent = [
        QueuedEvent("ev1", "e1", Resume(ana, {"approved": True, "note": "ok"}, "tr1")),
        QueuedEvent("ev2", "e2", TaskResult("tr2", 1, StateType.FAILED, None, "boom", "w1")),
        QueuedEvent("ev3", "e1", Kill(ana, StateType.CANCELLED)),
        QueuedEvent("ev4", "e3", TimerFired("t1", None, "SLEEP_DONE", {"a": 1})),
        QueuedEvent("ev5", "e3", Start()),
    ]
    with store.transaction() as tx:
        tx.add_events(sent[:2])
        tx.add_events(sent[2:])
        tx.add_events([])
    with store.transaction() as tx:
        first = tx.claim_events(2)
    with store.transaction() as tx:
        rest = tx.claim_events(10)
        assert tx.claim_events(10) == []
    assert sorted(first + rest, key=lambda e: e.id) == sent
    # The oldest first; on PostgreSQL the events of the executions a claim locks go together
    # (e1's two), on SQLite the claim takes the oldest ones whatever their execution.
    together = store.dialect == "postgresql"
    assert [e.id for e in first] == (["ev1", "ev3"] if together else ["ev1", "ev2"])
    for execution in ("e1", "e2", "e3"):
        ids = [e.id for e in first + rest if e.execution_id == execution]
        assert ids == sorted(ids)
