"""Prometheus metrics: what every Perch process measures, and the text ``/metrics`` answers.

Histograms are observed where the work happens (a task run ends, a job is claimed, a person
decides, an HTTP request is answered). The counts that live in the database (executions by
state, paused executions, queue depths) are read at scrape time through ``counts``, a function
the process passes in, so that a scrape shows what the whole deployment holds, whichever
process answers it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)

_SHORT = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_LONG = (1.0, 10.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 86400.0, 3 * 86400.0, 7 * 86400.0)

HTTP_DURATION = Histogram(
    "perch_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route and status class.",
    ("method", "route", "status"),
    buckets=_SHORT,
    registry=REGISTRY,
)
TASK_DURATION = Histogram(
    "perch_task_duration_seconds",
    "Time one attempt of a task took in a worker, by task type and outcome.",
    ("type", "state"),
    buckets=(*_SHORT, 30.0, 60.0, 300.0, 900.0, 3600.0),
    registry=REGISTRY,
)
CLAIM_LATENCY = Histogram(
    "perch_claim_latency_seconds",
    "Time from a job's creation to a worker claiming it.",
    buckets=_SHORT,
    registry=REGISTRY,
)
TIME_TO_DECISION = Histogram(
    "perch_time_to_decision_seconds",
    "Time from a pause to the person's decision that resumed it.",
    buckets=_LONG,
    registry=REGISTRY,
)

EXECUTOR_CONFLICTS = Counter(
    "perch_executor_conflicts_total",
    "Batches of queued events an executor rolled back and retried because another process "
    "changed or locked the same executions: a compare-and-set conflict (version) or a lock "
    "cycle the database broke (deadlock).",
    ("reason",),
    registry=REGISTRY,
)
EXECUTOR_LEFT_EVENTS = Counter(
    "perch_executor_left_events_total",
    "Queued events an executor's claim saw and left to another executor, which was applying "
    "events to the same execution at that moment (counted at each claim that left them).",
    registry=REGISTRY,
)
for _reason in ("version", "deadlock"):
    EXECUTOR_CONFLICTS.labels(reason=_reason)  # shown at 0 before the first conflict

Counts = Callable[[], Mapping[str, Mapping[str, int]]]
"""Returns ``{"executions": {state: n}, "queue": {name: n}}``."""


class _DatabaseCounts(Collector):
    def __init__(self, counts: Counts) -> None:
        self._counts = counts

    def collect(self) -> Iterable[Metric]:
        counts = self._counts()
        executions = GaugeMetricFamily(
            "perch_executions", "Executions in the database, by state.", labels=["state"]
        )
        for state, number in sorted(counts.get("executions", {}).items()):
            executions.add_metric([state], number)
        yield executions
        paused = counts.get("executions", {}).get("PAUSED", 0)
        yield GaugeMetricFamily("perch_paused_executions", "Executions waiting.", value=paused)
        queue = GaugeMetricFamily(
            "perch_queue_depth",
            "Work items waiting: jobs for workers, timers, events for executors.",
            labels=["queue"],
        )
        for name, number in sorted(counts.get("queue", {}).items()):
            queue.add_metric([name], number)
        yield queue


def exposition(counts: Counts | None) -> bytes:
    """The Prometheus text of this process's metrics and, with ``counts``, the database's."""
    text = generate_latest(REGISTRY)
    if counts is not None:
        scrape = CollectorRegistry(auto_describe=False)
        scrape.register(_DatabaseCounts(counts))
        text += generate_latest(scrape)
    return text


CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
