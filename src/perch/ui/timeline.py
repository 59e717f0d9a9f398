"""The task runs of an execution on a timeline: one bar per task run, placed by its start and
its end (or now, while it runs), as shares of the execution's whole span."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from perch.engine.model import Execution


@dataclass(frozen=True, slots=True)
class Bar:
    task_id: str
    value: str | None
    state: str
    start: datetime
    end: datetime | None
    duration: timedelta
    left: float
    """Where the bar starts, in percent of the span."""
    width: float
    attempts: int
    depth: int


def timeline(execution: Execution, now: datetime) -> list[Bar]:
    """The bars of ``execution``'s task runs, in the order they started."""
    runs = sorted(execution.task_runs, key=lambda r: r.state.start_date)
    if not runs:
        return []
    begin = min(execution.state.start_date, runs[0].state.start_date)
    finish = execution.state.end_date or now
    ends = [r.state.end_date or now for r in runs]
    finish = max([finish, *ends])
    span = max((finish - begin).total_seconds(), 0.001)
    parents = {r.id: r.parent_task_run_id for r in runs}
    bars = []
    for run, end in zip(runs, ends, strict=True):
        start = run.state.start_date
        depth, parent = 0, run.parent_task_run_id
        while parent is not None and depth < 20:
            depth, parent = depth + 1, parents.get(parent)
        left = (start - begin).total_seconds() / span * 100
        width = max((end - start).total_seconds() / span * 100, 0.5)
        bars.append(
            Bar(
                task_id=run.task_id,
                value=None if run.value is None else str(run.value),
                state=run.state.current.value,
                start=start,
                end=run.state.end_date,
                duration=end - start,
                left=round(min(left, 99.5), 2),
                width=round(min(width, 100 - min(left, 99.5)), 2),
                attempts=len(run.attempts),
                depth=depth,
            )
        )
    return bars
