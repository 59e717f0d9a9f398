"""What keeps the thread serving the API responsive while other threads work hard.

**The garbage collector.** A full collection walks every object the process holds, holding the
interpreter: with the ~170,000 objects a started server holds (routes, schemas, modules), one
took 60 ms on an idle machine and 156 ms on a busy one, on whichever thread allocated last,
often the event loop's. :func:`freeze_startup_objects` takes what exists once the server is up
out of the collector's sight, so later collections walk only what was made since (~1 ms).

**Thread priority.** Threads doing heavy CPU work outside the interpreter (argon2 checks a
password on several cores at once) run at a lower OS priority than the one answering requests:
a lowered thread still gets every cycle nobody else wants. On Linux the nice value belongs to
each thread (and the threads it starts inherit it), so :func:`lower_this_thread` affects only
its caller; elsewhere it does nothing. A nice value cannot be raised again without privileges:
lower only threads that do such work for their whole life. Not for threads that run Python
for long: one descheduled while it holds the interpreter would hold up the event loop too.
"""

from __future__ import annotations

import gc
import os
import sys
import threading

BACKGROUND_NICENESS = 10
"""How much nicer than the process's main thread background threads are (Linux: 0 to 19)."""

MAX_NICENESS = 19


def _supported() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "setpriority")


def niceness_of(native_id: int) -> int | None:
    """The nice value of the thread with this native id (None where unsupported)."""
    if not _supported():
        return None
    return os.getpriority(os.PRIO_PROCESS, native_id)


def lower_this_thread(by: int = BACKGROUND_NICENESS) -> bool:
    """Make the calling thread ``by`` nicer than the main thread (never less nice than it
    already is); whether its priority is now lowered."""
    if not _supported():
        return False
    this = threading.get_native_id()
    try:
        main = os.getpriority(os.PRIO_PROCESS, os.getpid())
        target = min(MAX_NICENESS, main + by)
        if os.getpriority(os.PRIO_PROCESS, this) < target:
            os.setpriority(os.PRIO_PROCESS, this, target)
        return os.getpriority(os.PRIO_PROCESS, this) > main
    except OSError:  # a sandbox refusing it: the thread keeps its priority
        return False


def freeze_startup_objects() -> int:
    """Collect garbage once, then exempt every object alive now from later collections (they
    live as long as the process anyway); how many were frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
