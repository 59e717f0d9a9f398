"""What one rendering may spend: time, output size and loop iterations.

A rendering (with every ``render()`` it nests) gets one :class:`Budget` when it starts. The
compiled code spends it: every loop iteration calls :meth:`Budget.tick` (a countdown of the
iterations left and a look at the clock), a template with tags writes through
:meth:`Budget.writer` (a count of the characters written), ``{% set %}`` checks the size of what
it binds, and the long calls (``range()``, ``jq``, ``render()``) check the clock or take the
time left as their own timeout. Over a budget, the rendering raises
:class:`perch.errors.TemplateBudgetError` naming the limit, and the task fails with it.

The limits are server settings (:func:`configure`; ``perch server local --template-*``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from time import monotonic, thread_time
from typing import Any, Final

from perch.errors import TemplateBudgetError


@dataclass(frozen=True, slots=True)
class Limits:
    """The budget of one rendering."""

    time: float = 2.0
    """Seconds of CPU time of the rendering thread (``--template-time-limit``,
    PERCH_TEMPLATE_TIME_LIMIT); a rendering also stops after :data:`WALL_FACTOR` times as much
    wall time, however little CPU it got."""
    output: int = 1 << 20
    """Characters of one rendered value (``--template-output-limit``)."""
    iterations: int = 1_000_000
    """Loop iterations, all loops together (``--template-loop-limit``)."""


WALL_FACTOR: Final = 5
"""The time limit counts the CPU time the rendering's own thread spends, so that a template
gives the same answer on an idle machine and on a loaded one (the work, not the machine's
business, is what is bounded). A rendering starved of CPU still ends after this many times the
limit in wall time, so no thread waits on it for ever."""
_CHECK_EVERY: Final = 64
"""Loop iterations between two looks at the clocks (reading the thread's CPU clock is a system
call; one iteration is bounded by the other limits meanwhile)."""

DEFAULT_LIMITS: Final = Limits()
SMALL: Final = 4096
"""A rendered string this short is under any output limit worth setting: it is not measured
again (the limit cannot be set below it)."""
_settings: list[Limits] = [DEFAULT_LIMITS]  # one cell: the limits in force


def configure(
    *, time: float | None = None, output: int | None = None, iterations: int | None = None
) -> Limits:
    """Set the limits of every rendering in this process; returns the previous ones."""
    previous = _settings[0]
    _settings[0] = Limits(
        time=previous.time if time is None else time,
        output=previous.output if output is None else max(output, SMALL),
        iterations=previous.iterations if iterations is None else iterations,
    )
    return previous


def limits() -> Limits:
    """The limits in force."""
    return _settings[0]


def _seconds(value: float) -> str:
    return f"{value:g} s"


class Budget:
    """What is left of one rendering's budget."""

    __slots__ = ("cpu_deadline", "deadline", "iterations", "limits", "written")

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.cpu_deadline = thread_time() + limits.time
        self.deadline = monotonic() + limits.time * WALL_FACTOR
        self.iterations = limits.iterations
        self.written = 0

    def remaining(self) -> float:
        """Seconds left (the less of CPU and wall time); raises when none are. A call that
        waits on something else (a ``jq`` process) takes it as its timeout."""
        left = min(self.cpu_deadline - thread_time(), self.deadline - monotonic())
        if left <= 0:
            raise self.out_of_time()
        return left

    def out_of_time(self) -> TemplateBudgetError:
        return TemplateBudgetError(
            f"The expression ran longer than the template time limit of "
            f"{_seconds(self.limits.time)}"
        )

    def check_time(self) -> None:
        if thread_time() > self.cpu_deadline or monotonic() > self.deadline:
            raise self.out_of_time()

    def tick(self) -> None:
        """One loop iteration."""
        left = self.iterations - 1
        self.iterations = left
        if left < 0:
            raise TemplateBudgetError(
                f"The loops ran more than the template limit of {self.limits.iterations} iterations"
            )
        if not left % _CHECK_EVERY:
            self.check_time()

    def too_large(self, size: int) -> TemplateBudgetError:
        return TemplateBudgetError(
            f"The rendered value is larger than the template output limit of "
            f"{self.limits.output} characters ({size} or more)"
        )

    def writer(self, append: Callable[[str], Any]) -> Callable[[str], None]:
        """``append``, counting what it writes against the output limit."""
        limit = self.limits.output

        def write(text: str) -> None:
            written = self.written + len(text)
            self.written = written
            if written > limit:
                raise self.too_large(written)
            append(text)

        return write

    def bound(self, value: Any) -> Any:
        """``value`` as ``{% set %}`` binds it: a string or list larger than the output limit
        is refused before it can double again."""
        if isinstance(value, str | list) and len(value) > self.limits.output:
            raise self.too_large(len(value))
        return value


_local = threading.local()


def current() -> Budget:
    """The budget of the rendering running on this thread (a fresh one outside any)."""
    budget: Budget | None = getattr(_local, "budget", None)
    if budget is None:
        return Budget(_settings[0])
    return budget


def enter() -> Budget | None:
    """Start spending: the outermost rendering on this thread opens a budget and gets it back
    (to pass to :func:`leave`); a nested one spends its parent's and gets None."""
    budget: Budget | None = getattr(_local, "budget", None)
    if budget is not None:
        budget.check_time()
        return None
    budget = Budget(_settings[0])
    _local.budget = budget
    return budget


def leave(opened: Budget | None) -> None:
    if opened is not None:
        _local.budget = None


def check_size(value: Any, opened: Budget | None) -> None:
    """Refuse a rendered value over the output limit (strings by length, lists and maps by
    a bounded walk that stops as soon as the limit is passed)."""
    limit = _settings[0].output if opened is None else opened.limits.output
    size = len(value) if type(value) is str else _size(value, limit)
    if size > limit:
        raise (opened or Budget(_settings[0])).too_large(size)


def check_made(size: int) -> None:
    """Refuse a string of ``size`` characters that a filter, a function or ``~`` is about to
    make (or just made) when it is over the output limit: without this, a few ``replace``
    filters in a row could build gigabytes before the rendered value is measured at the end."""
    budget: Budget | None = getattr(_local, "budget", None)
    limit = (budget.limits if budget is not None else _settings[0]).output
    if size > limit:
        raise TemplateBudgetError(
            f"A value made while rendering is larger than the template output limit of "
            f"{limit} characters ({size} or more)"
        )


def concat(*parts: str) -> str:
    """``a ~ b ~ c``: the parts glued, refused before gluing when over the output limit."""
    if len(parts) > 1:
        size = 0
        for part in parts:
            size += len(part)
        if size > SMALL:
            check_made(size)
    return "".join(parts)


def _size(value: Any, limit: int) -> int:
    if isinstance(value, str):
        return len(value)
    if not isinstance(value, dict | list | tuple):
        return 8
    total = 2
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, dict):
            total += 2 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            total += len(item) + 2
            stack.extend(item)
        else:
            total += 8
        if total > limit:
            return total
    return total
