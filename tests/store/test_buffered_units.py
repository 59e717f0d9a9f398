"""Units that read first and write last (perch.engine.buffered) on a real database.

On SQLite (one writer) every engine unit buffers its writes; the work items it consumed are
removed by id when it writes, and one consumed by someone else meanwhile is a conflict, so an
event is never delivered twice. PostgreSQL keeps one transaction per unit (its locks are per
row); the peek and delete-by-id statements work there too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from perch.engine import service
from perch.engine.buffered import OPTIMISTIC_CONFLICTS, BufferedTransaction, record_outcome
from perch.engine.context import context_for
from perch.engine.effects import Audit, ScheduleTimer
from perch.engine.events import Start
from perch.engine.executor import ended_events
from perch.engine.model import Execution
from perch.engine.ports import Job, QueuedEvent, Transaction
from perch.engine.principal import Principal
from perch.engine.states import State, StateType
from perch.engine.written import Written, unit
from perch.errors import ConcurrentUpdate
from perch.store import SqlStore, open_store
from tests.store.samples import T0

ALICE = Principal("alice")
KILLED = StateType.KILLED


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqlStore]:
    """SQLite only: PostgreSQL units take row locks in one transaction and never buffer."""
    opened = open_store(data_dir=tmp_path / "data")
    yield opened
    opened.close()


@pytest.fixture(autouse=True)
def _fresh_thread() -> None:
    """Forget the conflicts this thread met in earlier tests (they decide how a unit begins)."""
    record_outcome(conflicted=False)


def _events(count: int) -> list[QueuedEvent]:
    return [QueuedEvent(f"ev{n}", f"e{n}", Start()) for n in range(count)]


def test_peeked_work_items_stay_until_removed_by_id(store: SqlStore) -> None:
    with store.transaction() as tx:
        tx.add_events(_events(3))
        tx.add_timers("e1", [ScheduleTimer("t1", T0, "SLEEP_DONE", "tr1")])
    with store.transaction() as tx:
        peeked = tx.peek_events(2)
        timers = tx.peek_due_timers(T0 + timedelta(seconds=1), 10)
        assert [event.id for event in peeked] == ["ev0", "ev1"]
        assert [timer.id for timer in timers] == ["t1"]
        assert tx.delete_event_ids(["ev0", "ev1", "gone"]) == 2
        assert tx.delete_timer_ids(["t1"]) == 1
    with store.transaction() as tx:
        assert [event.id for event in tx.claim_events(10)] == ["ev2"]


def test_sqlite_units_buffer_their_writes(sqlite_store: SqlStore) -> None:
    store = sqlite_store
    with store.transaction() as tx:
        tx.add_events(_events(2))
    with unit(store) as (tx, _written):
        assert isinstance(tx, BufferedTransaction)
        claimed = tx.claim_events(10)
        tx.add_events([QueuedEvent("later", "e9", Start())])
        assert not tx.direct  # nothing written yet: no write lock held
        with store.transaction() as other:  # another writer is not kept waiting
            assert [event.id for event in other.peek_events(10)] == ["ev0", "ev1"]
    assert [event.id for event in claimed] == ["ev0", "ev1"]
    with store.transaction() as tx:
        assert [event.id for event in tx.claim_events(10)] == ["later"]


def test_an_event_consumed_meanwhile_is_a_conflict_and_nothing_is_written(
    sqlite_store: SqlStore,
) -> None:
    store = sqlite_store
    with store.transaction() as tx:
        tx.add_events(_events(2))

    def consume_both_while_another_takes_one() -> None:
        with unit(store) as (tx, _written):
            assert len(tx.claim_events(10)) == 2
            tx.add_events([QueuedEvent("echo", "e9", Start())])
            with store.transaction() as other:
                assert [event.id for event in other.claim_events(1)] == ["ev0"]

    with pytest.raises(ConcurrentUpdate):
        consume_both_while_another_takes_one()
    with store.transaction() as tx:
        # The unit's own writes were rolled back with it; ev1 is still there, once.
        assert [event.id for event in tx.claim_events(10)] == ["ev1"]


def test_after_two_conflicts_a_unit_takes_the_lock_at_once_then_buffers_again(
    sqlite_store: SqlStore,
) -> None:
    store = sqlite_store

    def lose_once() -> None:
        with store.transaction() as tx:
            tx.add_events(_events(1))
        with unit(store) as (tx, _written):
            tx.claim_events(10)
            with store.transaction() as other:
                other.claim_events(10)

    for _ in range(OPTIMISTIC_CONFLICTS):
        with pytest.raises(ConcurrentUpdate):
            lose_once()
    with unit(store) as (tx, _written):
        assert not isinstance(tx, BufferedTransaction)  # the write lock, as before buffering
    with unit(store) as (tx, _written):
        assert isinstance(tx, BufferedTransaction)


LIMITED = """
id: limited
namespace: perch.units
concurrency:
  limit: 1
  behavior: QUEUE
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
"""


def _limited_executions(store: SqlStore, count: int) -> list[Execution]:
    service.deploy_flow(store, LIMITED, ALICE)
    created = [
        service.create_execution(store, "main", "perch.units", "limited", {}, ALICE)
        for _ in range(count)
    ]
    states = [service.get_execution(store, e.id).state.current for e in created]
    assert states == [StateType.PAUSED] + [StateType.QUEUED] * (count - 1)
    return created


def _kill(written: Written, tx: Transaction, execution_id: str) -> Execution:
    before = written.load(tx, execution_id)
    assert before is not None
    now = datetime.now(UTC)
    return written.stage(before, replace(before, state=before.state.with_state(KILLED, now)))


def test_the_end_of_a_limited_execution_wakes_the_next_without_the_write_lock(
    sqlite_store: SqlStore,
) -> None:
    store = sqlite_store
    first, second, third = _limited_executions(store, 3)
    with unit(store) as (tx, written):
        ended = _kill(written, tx, first.id)
        _kill(written, tx, second.id)  # out of the queue in this unit, not yet in the database
        events = ended_events(tx, context_for(store), ended, written)
        assert isinstance(tx, BufferedTransaction)
        assert not tx.direct  # nothing written yet: no write lock held
        with store.transaction() as other:  # another writer is not kept waiting
            other.add_audit(None, Audit("PROBE", ALICE, {}), datetime.now(UTC))
    assert [event.execution_id for event in events] == [third.id]


def test_the_queue_changing_meanwhile_is_a_conflict(sqlite_store: SqlStore) -> None:
    store = sqlite_store
    first, second, _third = _limited_executions(store, 3)

    def end_first_while_the_second_is_taken() -> None:
        with unit(store) as (tx, written):
            ended = _kill(written, tx, first.id)
            events = ended_events(tx, context_for(store), ended, written)
            assert [event.execution_id for event in events] == [second.id]
            with store.transaction() as other:  # someone else takes the second out of the queue
                queued = other.get_execution(second.id, for_update=True)
                assert queued is not None
                now = datetime.now(UTC)
                other.update_execution(replace(queued, state=queued.state.with_state(KILLED, now)))

    with pytest.raises(ConcurrentUpdate, match="queue"):
        end_first_while_the_second_is_taken()
    assert service.get_execution(store, first.id).state.current is StateType.PAUSED


def _queued_jobs(count: int) -> list[Job]:
    return [
        Job(f"j{n}", f"e{n}", f"tr{n}", "log", 1, T0 + timedelta(milliseconds=n))
        for n in range(count)
    ]


def test_peeked_jobs_are_leased_by_id_only_while_claimable(store: SqlStore) -> None:
    lease = T0 + timedelta(seconds=30)
    with store.transaction() as tx:
        tx.add_jobs(_queued_jobs(3))
    with store.transaction() as tx:
        assert [job.id for job in tx.peek_jobs(T0, 2)] == ["j0", "j1"]
        assert tx.lease_job_ids("w1", ["j0", "j1"], T0, lease) == 2
        assert tx.lease_job_ids("w2", ["j1", "j2"], T0, lease) == 1  # j1 is leased now
        assert tx.peek_jobs(T0, 10) == []
        assert [job.id for job in tx.peek_jobs(lease + timedelta(seconds=1), 10)] == [
            "j0",
            "j1",
            "j2",
        ]


def test_worker_claims_lease_when_they_write_and_skip_what_another_unit_read(
    sqlite_store: SqlStore,
) -> None:
    store = sqlite_store
    lease = T0 + timedelta(seconds=30)
    with store.transaction() as tx:
        tx.add_jobs(_queued_jobs(3))
    with unit(store) as (tx, written):
        first = tx.claim_jobs("w1", 2, T0, lease)
        assert isinstance(tx, BufferedTransaction)
        assert not tx.direct  # read, not yet leased: no write lock held
        with unit(store) as (other, _):  # another worker's claim meanwhile
            second = other.claim_jobs("w2", 2, T0, lease)
        written.add_jobs([Job("mine", "e9", "tr9", "log", 1, T0)])
        own = written.claim_own_jobs("w1", 5, lease)
    assert [job.id for job in first] == ["j0", "j1"]
    assert [job.id for job in second] == ["j2"]
    assert [(job.id, job.worker_id) for job in own] == [("mine", "w1")]
    with store.transaction() as tx:
        assert tx.peek_jobs(T0, 10) == []  # all five leased, "mine" written leased
        later = lease + timedelta(seconds=1)
        assert sorted(job.id for job in tx.peek_jobs(later, 10)) == ["j0", "j1", "j2", "mine"]


def test_a_job_claimed_meanwhile_by_another_is_a_conflict(sqlite_store: SqlStore) -> None:
    store = sqlite_store
    lease = T0 + timedelta(seconds=30)
    with store.transaction() as tx:
        tx.add_jobs(_queued_jobs(1))

    def claim_while_another_does() -> None:
        with unit(store) as (tx, _written):
            assert [job.id for job in tx.claim_jobs("w1", 1, T0, lease)] == ["j0"]
            with store.transaction() as other:  # not a buffered unit: it does not skip j0
                assert [job.id for job in other.claim_jobs("w2", 1, T0, lease)] == ["j0"]

    with pytest.raises(ConcurrentUpdate, match="claimed by another"):
        claim_while_another_does()
    with unit(store) as (tx, _written):  # the reservation went with the failed unit
        assert tx.claim_jobs("w3", 1, lease + timedelta(seconds=1), lease) != []


def test_a_unit_never_claims_a_job_it_removed(sqlite_store: SqlStore) -> None:
    # A result reported after its lease ran out: the job is removed, and the claim that follows
    # in the same unit must not take it again (it still looks claimable in the database).
    store = sqlite_store
    with store.transaction() as tx:
        tx.add_jobs(_queued_jobs(2))
        tx.claim_jobs("w1", 1, T0, T0 + timedelta(seconds=1))
    later = T0 + timedelta(seconds=5)
    with unit(store) as (tx, _written):
        tx.delete_job("j0")
        claimed = tx.claim_jobs("w1", 5, later, later + timedelta(seconds=30))
    assert [job.id for job in claimed] == ["j1"]
    with store.transaction() as tx:
        assert tx.peek_jobs(later + timedelta(minutes=1), 10) == [claimed[0]]


def test_a_job_a_unit_wrote_and_finished_itself_is_never_written(store: SqlStore) -> None:
    lease = T0 + timedelta(seconds=30)
    with unit(store) as (tx, written):
        written.add_jobs(
            [Job("mine", "e9", "tr9", "log", 1, T0), Job("next", "e9", "tr10", "log", 1, T0)]
        )
        assert [job.id for job in written.claim_own_jobs("w1", 1, lease)] == ["mine"]
        written.remove_job(tx, "mine")  # run inline and reported in the same unit
    with store.transaction() as tx:
        assert [job.id for job in tx.peek_jobs(T0, 10)] == ["next"]


def test_an_execution_queued_in_the_same_unit_is_woken(sqlite_store: SqlStore) -> None:
    store = sqlite_store
    (first,) = _limited_executions(store, 1)
    newcomer = replace(first, id="newcomer", state=State.new(datetime.now(UTC), StateType.QUEUED))
    with unit(store) as (tx, written):
        written.insert(newcomer)  # a subflow started and queued by this very unit
        events = ended_events(tx, context_for(store), _kill(written, tx, first.id), written)
    assert [event.execution_id for event in events] == ["newcomer"]
