"""perch.engine.watch with a fake store: waking on change notifications, losslessly, and leaving
nothing behind once the waiters are gone."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from perch.engine.executor import EngineContext, Written, bind
from perch.engine.model import Execution, LogEntry
from perch.engine.states import State, StateType
from perch.engine.watch import Watcher, changes, wait_for, wait_for_async, watcher_for
from perch.errors import ExecutionNotFound

NOW = datetime(2026, 1, 1, tzinfo=UTC)
LONG = 30.0  # a fallback so long that only a notification can end a wait in these tests


class FakeStore:
    """Just enough of a store for ``service.get_execution``: one execution, replaceable."""

    def __init__(self, execution: Execution) -> None:
        self.execution = execution
        self.reads = 0

    @contextlib.contextmanager
    def transaction(self, readonly: bool = False) -> Iterator[FakeStore]:
        yield self

    def get_execution(self, execution_id: str, for_update: bool = False) -> Execution | None:
        self.reads += 1
        return self.execution if execution_id == self.execution.id else None

    def move_to(self, state: StateType) -> None:
        """What a commit does: change the row, then tell the hub."""
        self.execution = replace(self.execution, state=self.execution.state.with_state(state, NOW))
        watcher_for(self).changed({self.execution.id})  # type: ignore[arg-type]


@pytest.fixture
def store() -> FakeStore:
    fake = FakeStore(Execution("e1", "company.team", "f", 1, State.new(NOW, StateType.RUNNING)))
    bind(fake)  # type: ignore[arg-type]
    return fake


def later(delay: float, action: object, *args: object) -> threading.Thread:
    thread = threading.Timer(delay, action, args)  # type: ignore[arg-type]
    thread.start()
    return thread


def is_paused(execution: Execution) -> bool:
    return execution.state.current is StateType.PAUSED


def test_wait_for_returns_at_once_when_the_predicate_already_holds(store: FakeStore) -> None:
    execution = wait_for(store, "e1", lambda e: e.state.current is StateType.RUNNING, LONG)  # type: ignore[arg-type]
    assert execution.state.current is StateType.RUNNING
    assert store.reads == 1


def test_wait_for_wakes_on_a_notification_not_the_fallback(store: FakeStore) -> None:
    later(0.05, store.move_to, StateType.PAUSED)
    execution = wait_for(store, "e1", is_paused, LONG, fallback=LONG)  # type: ignore[arg-type]
    assert is_paused(execution)
    assert watcher_for(store).watched == 0  # type: ignore[arg-type]


def test_wait_for_returns_the_latest_execution_at_timeout(store: FakeStore) -> None:
    execution = wait_for(store, "e1", is_paused, 0.05)  # type: ignore[arg-type]
    assert execution.state.current is StateType.RUNNING


def test_the_fallback_rereads_a_change_nobody_announced(store: FakeStore) -> None:
    """Another process wrote the row: no notification, the periodic re-read finds it."""

    def silently() -> None:
        store.execution = replace(
            store.execution, state=store.execution.state.with_state(StateType.PAUSED, NOW)
        )

    later(0.05, silently)
    execution = wait_for(store, "e1", is_paused, LONG, fallback=0.05)  # type: ignore[arg-type]
    assert is_paused(execution)


def test_wait_for_an_unknown_execution_raises(store: FakeStore) -> None:
    with pytest.raises(ExecutionNotFound):
        wait_for(store, "nope", is_paused, 1.0)  # type: ignore[arg-type]
    assert watcher_for(store).watched == 0  # type: ignore[arg-type]


def test_wait_for_async_wakes_on_a_notification(store: FakeStore) -> None:
    async def main() -> Execution:
        later(0.05, store.move_to, StateType.PAUSED)
        return await wait_for_async(store, "e1", is_paused, LONG, fallback=LONG)  # type: ignore[arg-type]

    assert is_paused(asyncio.run(main()))


def test_a_change_between_the_read_and_the_wait_is_not_lost() -> None:
    watcher = Watcher()
    with watcher.subscribe("e1") as subscription:
        generation = subscription.generation()
        watcher.changed(["e1"])  # committed after the caller's read, before it sleeps
        assert subscription.wait(generation, LONG) is True

        async def main() -> bool:
            return await subscription.wait_async(generation, LONG)

        assert asyncio.run(main()) is True


def test_only_the_watched_execution_wakes() -> None:
    watcher = Watcher()
    with watcher.subscribe("e1") as subscription:
        generation = subscription.generation()
        watcher.changed(["other"])
        assert subscription.wait(generation, 0.05) is False
        watcher.changed(None)  # "anything may have changed" (a nudge from another process)
        assert subscription.wait(generation, 0.05) is True


def test_changes_yields_on_notifications_and_unsubscribes_when_closed(store: FakeStore) -> None:
    watcher = watcher_for(store)  # type: ignore[arg-type]

    async def main() -> list[bool]:
        seen: list[bool] = []
        async with contextlib.aclosing(changes(store, "e1", fallback=LONG)) as stream:  # type: ignore[arg-type]
            async for woke in stream:
                seen.append(woke)
                if len(seen) == 1:
                    later(0.02, store.move_to, StateType.PAUSED)
                if len(seen) == 2:
                    assert watcher.watched == 1
                    break
        return seen

    # Each True is a wake-up by a notification (the LONG fallback would give False).
    assert asyncio.run(main()) == [True, True]
    assert watcher.watched == 0


def test_changes_reports_a_quiet_period(store: FakeStore) -> None:
    async def main() -> list[bool]:
        seen: list[bool] = []
        async with contextlib.aclosing(changes(store, "e1", fallback=0.02)) as stream:  # type: ignore[arg-type]
            async for woke in stream:
                seen.append(woke)
                if len(seen) == 2:
                    break
        return seen

    assert asyncio.run(main()) == [True, False]


def test_a_cancelled_async_waiter_leaves_nothing_behind() -> None:
    watcher = Watcher()

    async def main() -> None:
        async def wait() -> None:
            with watcher.subscribe("e1") as subscription:
                await subscription.wait_async(subscription.generation(), LONG)

        task = asyncio.create_task(wait())
        await asyncio.sleep(0.01)
        assert watcher.watched == 1
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert watcher.watched == 0
    watcher.changed(["e1"])  # nobody left to wake: a no-op


def test_two_waiters_on_one_execution_share_one_watch() -> None:
    watcher = Watcher()
    with watcher.subscribe("e1") as first, watcher.subscribe("e1") as second:
        assert watcher.watched == 1
        generations = first.generation(), second.generation()
        watcher.changed(["e1"])
        assert first.wait(generations[0], 0)
        assert second.wait(generations[1], 0)
    assert watcher.watched == 0


def test_a_commit_tells_the_hub_which_executions_it_wrote() -> None:
    context = EngineContext()
    told: list[object] = []
    context.hub.on_change(told.append)
    written = Written()
    written.insert(Execution("e1", "n", "f", 1, State.new(NOW)))
    written.add_logs([LogEntry("e2", NOW, "INFO", "a line")])
    context.after_commit(written)
    context.after_commit(Written())  # nothing written: nobody told
    assert told == [{"e1", "e2"}]
