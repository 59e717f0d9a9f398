"""A stacked bar chart of executions per day and state, laid out here and drawn as SVG by the
template (no script, no chart library): one bar per day, one segment per state, each with its
count as a ``<title>`` tooltip, the day's total above the bar and the scale on the left.
"""

from __future__ import annotations

from dataclasses import dataclass

from perch.engine.service.overview import ExecutionsByDay

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 24, 44


@dataclass(frozen=True, slots=True)
class Segment:
    state: str
    count: int
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    """Under the bar: ``Mon 04``."""
    day: str
    """ISO date."""
    total: int
    center: float
    top: float
    segments: list[Segment]


@dataclass(frozen=True, slots=True)
class Tick:
    value: int
    y: float


@dataclass(frozen=True, slots=True)
class Chart:
    bars: list[Bar]
    ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50… at or above ``value`` (at least 1)."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def bar_chart(data: ExecutionsByDay) -> Chart:
    """The geometry of ``data``'s chart, in the SVG's own units."""
    top_value = nice_ceiling(max((d.total for d in data.days), default=0))
    plot_height = HEIGHT - TOP - BOTTOM
    slot = (WIDTH - LEFT - RIGHT) / max(len(data.days), 1)
    width = slot * 0.6
    baseline = HEIGHT - BOTTOM

    def y_of(value: float) -> float:
        return baseline - plot_height * value / top_value

    bars = []
    for index, day in enumerate(data.days):
        x = LEFT + slot * index + (slot - width) / 2
        stacked = 0
        segments = []
        for state in data.states:
            count = day.counts.get(state, 0)
            if not count:
                continue
            upper, lower = y_of(stacked + count), y_of(stacked)
            stacked += count
            title = f"{day.day.isoformat()}: {count} {state}"
            segments.append(Segment(state, count, x, upper, width, lower - upper, title))
        bars.append(
            Bar(
                label=day.day.strftime("%a %d"),
                day=day.day.isoformat(),
                total=day.total,
                center=x + width / 2,
                top=y_of(day.total),
                segments=segments,
            )
        )
    return Chart(bars, [Tick(v, y_of(v)) for v in range(0, top_value + 1, tick_step(top_value))])


def tick_step(top_value: int) -> int:
    """Between the scale's lines: a fifth of a top of 5, 10, 50… a half of 2, 20…"""
    if top_value >= 5 and top_value % 5 == 0:
        return top_value // 5
    if top_value % 2 == 0:
        return top_value // 2
    return top_value
