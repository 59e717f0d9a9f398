"""perch.responsive: startup objects frozen out of the collector's way, lowered threads."""

from __future__ import annotations

import gc
import sys
import threading

import pytest

from perch.responsive import (
    BACKGROUND_NICENESS,
    freeze_startup_objects,
    lower_this_thread,
    niceness_of,
)


def test_freezing_exempts_the_objects_alive_now_from_later_collections() -> None:
    kept = [object() for _ in range(1000)]
    try:
        frozen = freeze_startup_objects()
        assert frozen >= len(kept)
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_lowering_a_thread_leaves_the_others_alone() -> None:
    seen: dict[str, int | None] = {}

    def background() -> None:
        seen["lowered"] = lower_this_thread()
        seen["nice"] = niceness_of(threading.get_native_id())

    before = niceness_of(threading.get_native_id())
    thread = threading.Thread(target=background)
    thread.start()
    thread.join()
    assert seen["lowered"] is True
    assert seen["nice"] == min(19, (before or 0) + BACKGROUND_NICENESS)
    assert niceness_of(threading.get_native_id()) == before
