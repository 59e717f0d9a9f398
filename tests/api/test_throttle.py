"""LoginThrottle's password-check threads: at most ``concurrency`` checks at once, a check that
could not start within ``queue_wait`` is refused (and never runs), from a thread or a coroutine."""

from __future__ import annotations

import asyncio
import threading

import pytest

from perch.errors import TooManyAttempts, Unauthenticated
from perch.identity.throttle import LoginThrottle


def _busy_throttle() -> tuple[LoginThrottle, threading.Event, list[str]]:
    throttle = LoginThrottle(concurrency=2, queue_wait=0.2)
    release = threading.Event()
    started: list[str] = []
    both = threading.Barrier(3)

    def slow(name: str) -> str:
        started.append(name)
        both.wait(timeout=10)
        release.wait(timeout=10)
        return name

    for name in ("a", "b"):
        threading.Thread(target=throttle.run_check, args=(slow, name), daemon=True).start()
    both.wait(timeout=10)  # both threads are busy now
    return throttle, release, started


def test_a_check_that_cannot_start_in_time_is_refused_and_never_runs() -> None:
    throttle, release, started = _busy_throttle()
    with pytest.raises(TooManyAttempts, match="busy checking passwords"):
        throttle.run_check(started.append, "late")
    release.set()
    assert throttle.run_check(lambda: "next") == "next"
    assert sorted(started) == ["a", "b"]


def test_the_coroutine_form_waits_without_a_thread_and_is_refused_alike() -> None:
    throttle, release, started = _busy_throttle()

    async def attempt() -> None:
        with pytest.raises(TooManyAttempts):
            await throttle.run_check_async(started.append, "late")
        release.set()
        assert await throttle.run_check_async(lambda: "next") == "next"

    asyncio.run(attempt())
    assert "late" not in started


def test_a_check_s_own_error_reaches_its_caller() -> None:
    throttle = LoginThrottle()

    def wrong() -> None:
        raise Unauthenticated("wrong username or password")

    with pytest.raises(Unauthenticated):
        throttle.run_check(wrong)

    async def attempt() -> None:
        with pytest.raises(Unauthenticated):
            await throttle.run_check_async(wrong)

    asyncio.run(attempt())


def _check_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("perch-password")}


def test_stopped_check_threads_end_and_a_later_check_starts_new_ones() -> None:
    before = _check_threads()
    throttle = LoginThrottle(concurrency=2)
    throttle.start()
    ours = _check_threads() - before
    assert len(ours) == 2
    throttle.stop()
    for thread in ours:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in ours)
    assert throttle.run_check(lambda: 42) == 42
    assert len(_check_threads() - before - ours) == 2


def test_a_check_beyond_the_waiting_bound_is_refused_at_once() -> None:
    throttle, release, started = _busy_throttle()
    throttle.queue_wait = 30.0  # only the bound may refuse the last one
    throttle.max_waiting = 1
    waiter = threading.Thread(target=throttle.run_check, args=(started.append, "waits"))
    waiter.start()
    while throttle.waiting < 1:
        threading.Event().wait(0.01)
    with pytest.raises(TooManyAttempts, match="busy checking passwords"):
        throttle.run_check(started.append, "beyond")
    release.set()
    waiter.join(timeout=10)
    assert sorted(started) == ["a", "b", "waits"]
    assert throttle.waiting == 0
