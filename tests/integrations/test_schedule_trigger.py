"""Schedule triggers with a controllable clock, through the API: each cron date fires once (in
its time zone, with ``trigger.date``/``next``/``previous``), missed dates follow
``recoverMissedSchedules`` and ``lateMaximumDelay``, conditions skip dates, a restart or a
second scheduler never fires a date twice, and the trigger API shows the state, disables and
enables, and runs a backfill."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from perch.api import ApiSettings
from perch.engine.clock import FakeClock
from perch.engine.context import bind
from perch.engine.schedules import ScheduleLoop
from perch.engine.wakeup import SCHEDULES
from perch.httpserver import HttpServer
from perch.server import LocalRuntime
from tests.api.conftest import ADMIN, Api, open_test_store

START = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)  # a Monday, 08:30 in Paris


@dataclass
class Clocked:
    api: Api
    clock: FakeClock
    runtime: LocalRuntime

    def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        self.runtime.hub.notify([SCHEDULES])


def start_clocked(store: Any, clock: FakeClock, *, admin: bool = True) -> Clocked:
    from perch.identity import create_user

    if admin:
        create_user(store, ADMIN[0], ADMIN[1], superadmin=True)
    runtime = LocalRuntime(store, workers=2, clock=clock)
    runtime.start()
    server = HttpServer(store, port=0, settings=ApiSettings(), prepare=False)
    server.start()
    url = f"http://127.0.0.1:{server.port}"
    client = httpx.Client(base_url=url, auth=ADMIN, timeout=30)
    return Clocked(Api(url=url, client=client, store=store, server=server), clock, runtime)


def stop_clocked(running: Clocked) -> None:
    running.api.client.close()
    running.api.server.stop()
    running.runtime.stop()
    running.api.store.close()  # type: ignore[attr-defined]


@pytest.fixture
def clocked(backend: str, tmp_path: Path) -> Iterator[Clocked]:
    running = start_clocked(open_test_store(backend, tmp_path), FakeClock(START))
    yield running
    stop_clocked(running)


def scheduled(flow_id: str, cron: str, extra: str = "") -> str:
    return f"""\
id: {flow_id}
namespace: company.schedules
inputs:
  - id: day
    type: STRING
    defaults: none
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "run of {{{{ trigger.date }}}} with {{{{ inputs.day }}}}"
triggers:
  - id: every
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "{cron}"
{extra}"""


def executions(api: Api, flow_id: str) -> list[dict[str, Any]]:
    answer = api.client.get(
        "/api/v1/main/executions/search",
        params={"namespace": "company.schedules", "flowId": flow_id, "size": 100},
    )
    assert answer.status_code == 200, answer.text
    found = list(answer.json()["results"])
    return sorted(found, key=lambda e: e["trigger"]["variables"]["date"])


def settle(api: Api, flow_id: str, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The flow's executions once there are ``count`` (and a moment more, to see extras)."""
    deadline = time.monotonic() + timeout
    while len(executions(api, flow_id)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    return executions(api, flow_id)


def trigger_of(api: Api, flow_id: str) -> dict[str, Any]:
    answer = api.client.get(f"/api/v1/main/triggers/company.schedules/{flow_id}")
    assert answer.status_code == 200, answer.text
    [row] = answer.json()["results"]
    return dict(row)


def test_each_date_fires_once_in_its_time_zone(clocked: Clocked) -> None:
    api = clocked.api
    api.deploy(
        scheduled(
            "daily",
            "0 9 * * *",
            '    timezone: Europe/Paris\n    inputs:\n      day: "{{ trigger.date }}"\n',
        )
    )
    assert trigger_of(api, "daily")["nextExecutionDate"] == "2026-03-02T08:00:00Z"
    clocked.advance(timedelta(minutes=20))
    assert settle(api, "daily", 0) == []

    clocked.advance(timedelta(minutes=10, seconds=1))
    [run] = settle(api, "daily", 1)
    variables = run["trigger"]["variables"]
    assert run["trigger"]["type"] == "io.kestra.plugin.core.trigger.Schedule"
    assert variables["date"] == "2026-03-02T09:00:00+01:00"
    assert variables["next"] == "2026-03-03T09:00:00+01:00"
    assert variables["previous"] == "2026-03-01T09:00:00+01:00"
    assert run["inputs"] == {"day": "2026-03-02T09:00:00+01:00"}
    ended = api.wait(run["id"], lambda body: body["state"]["current"] == "SUCCESS")
    assert ended["state"]["current"] == "SUCCESS"

    for _ in range(3):
        clocked.advance(timedelta(seconds=1))
    assert len(settle(api, "daily", 2, timeout=0.5)) == 1
    state = trigger_of(api, "daily")
    assert state["executionId"] == run["id"]
    assert state["date"] == "2026-03-02T08:00:00Z"
    assert state["nextExecutionDate"] == "2026-03-03T08:00:00Z"

    clocked.advance(timedelta(days=1))
    assert len(settle(api, "daily", 2)) == 2


def test_missed_dates_follow_recover_missed_schedules(clocked: Clocked) -> None:
    api = clocked.api
    api.deploy(scheduled("all", "0 * * * *"))
    api.deploy(scheduled("last", "0 * * * *", "    recoverMissedSchedules: LAST\n"))
    api.deploy(scheduled("none", "0 * * * *", "    recoverMissedSchedules: NONE\n"))
    api.deploy(scheduled("late", "0 * * * *", "    lateMaximumDelay: PT1H\n"))
    clocked.advance(timedelta(hours=5))  # 12:30: 08:00 … 12:00 were missed
    dates = [e["trigger"]["variables"]["date"] for e in settle(api, "all", 5)]
    assert dates == [f"2026-03-02T{hour:02d}:00:00+00:00" for hour in range(8, 13)]
    [last] = settle(api, "last", 1)
    assert last["trigger"]["variables"]["date"] == "2026-03-02T12:00:00+00:00"
    assert settle(api, "none", 1, timeout=0.5) == []
    # Dates more than an hour late are skipped: only 12:00 (30 minutes late) runs.
    [late] = settle(api, "late", 1)
    assert late["trigger"]["variables"]["date"] == "2026-03-02T12:00:00+00:00"
    for flow_id in ("all", "last", "none", "late"):
        assert trigger_of(api, flow_id)["nextExecutionDate"] == "2026-03-02T13:00:00Z"


def test_conditions_skip_dates(clocked: Clocked) -> None:
    api = clocked.api
    extra = "    conditions:\n      - type: io.kestra.plugin.core.condition.Weekend\n"
    api.deploy(scheduled("weekends", "0 9 * * *", extra))
    clocked.advance(timedelta(days=7))  # Monday 07:30 to the next Monday 07:30
    dates = [e["trigger"]["variables"]["date"][:10] for e in settle(api, "weekends", 2)]
    assert dates == ["2026-03-07", "2026-03-08"]


def test_a_restart_fires_no_date_twice(tmp_path: Path) -> None:
    clock = FakeClock(START)
    first = start_clocked(open_test_store("sqlite", tmp_path), clock)
    first.api.deploy(scheduled("daily", "0 8 * * *"))
    first.advance(timedelta(hours=1))
    assert len(settle(first.api, "daily", 1)) == 1
    stop_clocked(first)

    second = start_clocked(open_test_store("sqlite", tmp_path), clock, admin=False)
    try:
        second.advance(timedelta(seconds=5))
        assert len(settle(second.api, "daily", 2, timeout=0.5)) == 1
        second.advance(timedelta(days=1))
        assert len(settle(second.api, "daily", 2)) == 2
    finally:
        stop_clocked(second)


def test_two_schedulers_fire_each_date_once(backend: str, tmp_path: Path) -> None:
    import os
    import uuid

    from perch.engine.principal import SYSTEM
    from perch.engine.service.flows import deploy_flow
    from perch.store import open_store

    if backend == "sqlite":
        stores = [open_store(None, data_dir=tmp_path / "data") for _ in range(2)]
    else:
        schema = f"sched_{uuid.uuid4().hex[:12]}"
        url = os.environ["PERCH_TEST_POSTGRES_URL"]
        stores = [open_store(url, schema=schema) for _ in range(2)]
    clock = FakeClock(START)
    for store in stores:
        bind(store, clock=clock)
    deploy_flow(stores[0], scheduled("minutely", "* * * * *"), SYSTEM)
    loops = [ScheduleLoop(store, batch=5) for store in stores]
    clock.advance(timedelta(minutes=30))  # 30 dates due at once, taken by both loops

    def drain(loop: ScheduleLoop) -> None:
        while loop.fire_due() > 0:
            pass

    threads = [threading.Thread(target=drain, args=(loop,)) for loop in loops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    from perch.engine.ports import ExecutionQuery

    with stores[0].transaction() as tx:
        page = tx.search_executions(
            ExecutionQuery(namespace="company.schedules", flow_id="minutely", size=100)
        )
    dates = [e.trigger["variables"]["date"] for e in page.results if e.trigger]  # type: ignore[index]
    assert len(dates) == 30
    assert len(set(dates)) == 30
    for store in stores:
        store.close()  # type: ignore[attr-defined]


def test_the_trigger_api_disables_enables_and_backfills(clocked: Clocked) -> None:
    api = clocked.api
    api.deploy(scheduled("hourly", "0 * * * *", "    recoverMissedSchedules: NONE\n"))
    name = {"namespace": "company.schedules", "flowId": "hourly", "triggerId": "every"}
    off = api.client.post(
        "/api/v1/main/triggers/set-disabled/by-triggers",
        json={"triggers": [name], "disabled": True},
    )
    assert off.status_code == 200, off.text
    assert off.json() == {"count": 1}
    clocked.advance(timedelta(hours=2))
    assert settle(api, "hourly", 1, timeout=0.5) == []
    on = api.client.put("/api/v1/main/triggers", json={**name, "disabled": False})
    assert on.status_code == 200, on.text
    assert on.json()["disabled"] is False
    assert on.json()["nextExecutionDate"] == "2026-03-02T10:00:00Z"  # NONE: from now on

    backfill = {
        "start": "2026-03-01T00:00:00Z",
        "end": "2026-03-01T03:00:00Z",
        "labels": {"why": "outage"},
    }
    started = api.client.put("/api/v1/main/triggers", json={**name, "backfill": backfill})
    assert started.status_code == 200, started.text
    assert started.json()["backfill"]["currentDate"].startswith("2026-03-01T00:00:00")
    clocked.runtime.hub.notify([SCHEDULES])
    runs = settle(api, "hourly", 4)
    assert [r["trigger"]["variables"]["date"] for r in runs] == [
        f"2026-03-01T{hour:02d}:00:00+00:00" for hour in range(4)
    ]
    labels = {label["key"]: label["value"] for label in runs[0]["labels"]}
    assert labels["why"] == "outage"
    assert labels["system.backfill"] == "true"
    after = trigger_of(api, "hourly")
    assert after.get("backfill") is None
    assert after["nextExecutionDate"] == "2026-03-02T10:00:00Z"

    none_left = api.client.post("/api/v1/main/triggers/backfill/delete", json=name)
    assert none_left.status_code == 400
    assert "No backfill found" in none_left.text
    search = api.client.get("/api/v1/main/triggers/search", params={"namespace": "company"})
    assert search.status_code == 200
    [found] = search.json()["results"]
    assert found["abstractTrigger"]["cron"] == "0 * * * *"
    assert found["triggerContext"]["triggerId"] == "every"
