"""Races over the real API (uvicorn on loopback, the engine's loops beside it), on SQLite and
PostgreSQL, at scale: 64 people resuming each of 200 executions at once, 1,000 resumes sent
within 50 ms of their pause's ``pauseDuration`` timer, kills racing resumes. Each race has
exactly one winner, the winner's decision is the one applied, and the state history and the
audit trail say who won.

These grow the service-level races of ``tests/runtime/test_pause_resume.py`` (32 resumes of
one execution, a timer, a kill and a resume at once) to the scale-out sizes, through HTTP.
"""

from __future__ import annotations

import os
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

import tests.api.conftest as api_fixtures
from tests.api.conftest import Api
from tests.integrations.conftest import Receiver
from tests.scaleout.racing import (
    DONE,
    Answer,
    Racer,
    audits,
    history,
    not_paused_message,
    run_threads,
    runs_of,
    start_many,
    wait_all,
)

api = api_fixtures.api
backend = api_fixtures.backend

MANUAL_RESUME = ["CREATED", "RUNNING", "PAUSED", "RESTARTED", "RUNNING", "SUCCESS"]
PAUSE_ENDED = ["CREATED", "RUNNING", "PAUSED", "SUCCESS"]


def warm_sign_in(api: Api) -> None:
    """One request first: racers share the administrator's account, whose password is then
    checked once (a burst of first checks is refused with 429 beyond the throttle's queue)."""
    assert api.client.get("/api/v1/main/executions/search").status_code == 200


def parse_date(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- 64 people resuming each of 200 executions at once ----------------------------------------

APPROVE = """\
id: approve
namespace: perch.races
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: choice
        type: STRING
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "decided {{ outputs.wait.onResume.choice }}"
"""

FULL = os.environ.get("PERCH_RACE_FULL") == "1"
"""The issue's sizes (``PERCH_RACE_FULL=1``); CI runs an eighth of each, with the same racers
and jitter, to stay within its time."""
EXECUTIONS = 200 if FULL else 25
RACERS = 64


def test_64_concurrent_resumes_of_each_of_200_executions_give_one_204_each(api: Api) -> None:
    api.deploy(APPROVE)
    ids = [e["id"] for e in start_many(api, "perch.races", "approve", [{}] * EXECUTIONS)]
    wait_all(api, "approve", EXECUTIONS, ("PAUSED",))
    warm_sign_in(api)
    barrier = threading.Barrier(RACERS)
    answers: dict[str, list[tuple[str, Answer]]] = {i: [] for i in ids}
    lock = threading.Lock()

    def racer(index: int) -> None:
        client = Racer(api.url)
        choice = f"racer-{index}"
        try:
            for execution_id in ids:
                barrier.wait()
                answer = client.request(
                    "POST", f"/api/v1/main/executions/{execution_id}/resume", {"choice": choice}
                )
                with lock:
                    answers[execution_id].append((choice, answer))
        finally:
            client.close()

    run_threads(racer, RACERS)

    done = wait_all(api, "approve", EXECUTIONS, DONE)
    resumes, conflicts = audits(api, "RESUME"), audits(api, "CONFLICT")
    for execution_id in ids:
        given = answers[execution_id]
        statuses = Counter(answer.status for _, answer in given)
        assert statuses == {204: 1, 409: RACERS - 1}, (execution_id, statuses)
        [winner] = [choice for choice, answer in given if answer.status == 204]
        for _, answer in given:
            if answer.status == 409:
                assert answer.body["message"] == not_paused_message(execution_id)
                assert answer.body["resumedBy"] == "admin"
        execution = done[execution_id]
        assert execution["state"]["current"] == "SUCCESS"
        assert history(execution) == MANUAL_RESUME
        [wait] = runs_of(execution, "wait")
        assert history(wait) == PAUSE_ENDED
        assert wait["outputs"]["onResume"] == {"choice": winner}
        assert wait["outputs"]["resumed"]["by"] == "admin"
        assert len(runs_of(execution, "after")) == 1
        [record] = resumes[execution_id]
        assert record["detail"]["values"] == {"choice": winner}
        assert len(conflicts[execution_id]) == RACERS - 1


# --- a resume racing the pauseDuration timer, 1,000 times ------------------------------------

TIMED = """\
id: timed
namespace: perch.races
inputs:
  - id: delay
    type: STRING
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: "{{ inputs.delay }}"
    onResume:
      - id: who
        type: STRING
        defaults: timer
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.wait.onResume.who ?? 'the timer' }}"
"""

TRIALS = 1000 if FULL else 125
JITTER = 0.05
SPACING = 0.01
"""Seconds between two pauses' due times: the trials end one after the other, not in a crowd
that would delay every request far beyond the jitter."""
SENDERS = 8
CREATORS = 4


class DueTimes:
    """Each pause's duration chosen when its execution is created, so that every pause ends
    after all are created (then the race is not slowed by the creations), ``SPACING`` apart:
    the time the creations will take is estimated from how long the first ones took."""

    def __init__(self, count: int) -> None:
        self._count = count
        self._began = time.time()
        self._created = 0
        self._lock = threading.Lock()

    def delay(self, index: int) -> float:
        now = time.time()
        with self._lock:
            pace = (now - self._began) / self._created if self._created else 0.05
            self._created += 1
        finish = self._began + pace * self._count * 1.25 + 1.0
        return max(finish + index * SPACING - now, 0.5)


def test_1000_resumes_racing_the_pause_timer_have_one_winner_each(
    api: Api,
) -> None:
    """Each resume is sent at its pause's due time ± up to 50 ms: the timer (a row the
    scheduler claims) and the resume (a request) meet the same compare-and-set. Either the
    resume gets 204 and its values stay (no timer fires after it), or the timer ended the pause
    and the resume gets Kestra's 409."""
    api.deploy(TIMED)
    warm_sign_in(api)
    rng = random.Random(7)
    due: dict[str, datetime] = {}
    planned: queue.PriorityQueue[tuple[float, str]] = queue.PriorityQueue()
    answers: dict[str, Answer] = {}
    created = threading.Event()
    times = DueTimes(TRIALS)

    def creator(first: int) -> None:
        client = Racer(api.url)
        try:
            for index in range(first, TRIALS, CREATORS):
                delay = f"PT{times.delay(index):.3f}S"
                path = "/api/v1/main/executions/perch.races/timed"
                answer = client.request("POST", path, {"delay": delay})
                assert answer.status == 200, answer.body
                [wait] = runs_of(answer.body, "wait")
                assert history(wait)[-1] == "PAUSED"
                paused_at = parse_date(wait["state"]["histories"][-1]["date"])
                at = paused_at + timedelta(seconds=float(delay[2:-1]))
                due[answer.body["id"]] = at
                planned.put((at.timestamp() + rng.uniform(-JITTER, JITTER), answer.body["id"]))
        finally:
            client.close()

    def sender(_: int) -> None:
        client = Racer(api.url)
        try:
            while True:
                try:
                    at, execution_id = planned.get(timeout=0.2)
                except queue.Empty:
                    if created.is_set():
                        return
                    continue
                time.sleep(max(0.0, at - time.time()))
                answers[execution_id] = client.request(
                    "POST", f"/api/v1/main/executions/{execution_id}/resume", {"who": "person"}
                )
        finally:
            client.close()

    finished: list[int] = []

    def role(index: int) -> None:
        if index < SENDERS:
            sender(index)
            return
        try:
            creator(index - SENDERS)
        finally:
            finished.append(index)
            if len(finished) == CREATORS:
                created.set()

    run_threads(role, SENDERS + CREATORS)

    done = wait_all(api, "timed", TRIALS, DONE)
    resumes, conflicts = audits(api, "RESUME"), audits(api, "CONFLICT")
    winners: Counter[str] = Counter()
    for execution_id, at in due.items():
        answer, execution = answers[execution_id], done[execution_id]
        [wait] = runs_of(execution, "wait")
        resumed = wait["outputs"]["resumed"]
        assert execution["state"]["current"] == "SUCCESS", execution_id
        assert history(execution) == MANUAL_RESUME, execution_id
        assert history(wait) == PAUSE_ENDED, execution_id
        assert len(runs_of(execution, "after")) == 1
        if answer.status == 204:
            winners["resume"] += 1
            assert resumed["by"] == "admin"
            assert wait["outputs"]["onResume"] == {"who": "person"}
            [record] = resumes[execution_id]
            assert record["detail"]["values"] == {"who": "person"}
            assert execution_id not in conflicts
        else:
            winners["timer"] += 1
            assert answer.status == 409, answer
            assert answer.body["message"] == not_paused_message(execution_id)
            assert "resumedBy" not in answer.body  # the timer is nobody
            assert resumed["by"] is None
            assert wait["outputs"]["onResume"] is None
            assert parse_date(resumed["on"]) >= at  # a timer never fires early
            assert execution_id not in resumes
            assert len(conflicts[execution_id]) == 1
    print(f"resume vs timer: {dict(winners)}")


# --- kill racing resume ----------------------------------------------------------------------

GUARDED = """\
id: guarded
namespace: perch.races
inputs:
  - id: ledger
    type: STRING
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: effect
    type: io.kestra.plugin.core.http.Request
    uri: "{{ inputs.ledger }}/{{ execution.id }}"
    method: POST
    body: "{{ outputs.wait.resumed.by }}"
"""

KILL_TRIALS = 100 if FULL else 20


@pytest.fixture
def ledger() -> Iterator[Receiver]:
    """A loopback HTTP receiver recording each side effect of the flows after their pause."""
    running = Receiver().start()
    yield running
    running.stop()


def test_kill_racing_resume_has_one_winner(api: Api, ledger: Receiver) -> None:
    """A kill and a resume sent at once: if the kill wins, nothing after the Pause runs (the
    ledger never hears of that execution); if the resume wins, the kill either finds the
    execution finished (409) or kills what still runs, as Kestra does."""
    api.deploy(GUARDED)
    inputs = [{"ledger": f"{ledger.url}/ledger"}] * KILL_TRIALS
    ids = [e["id"] for e in start_many(api, "perch.races", "guarded", inputs)]
    for index, execution_id in enumerate(ids):
        # Half the effects answer slowly: a kill that comes after the resume catches them.
        ledger.reply(f"/ledger/{execution_id}", delay=0.3 if index % 2 else 0.0)
    wait_all(api, "guarded", KILL_TRIALS, ("PAUSED",))
    warm_sign_in(api)
    barrier = threading.Barrier(2)
    rng = random.Random(11)
    # Mostly within 4 ms of each other (a positive offset delays the kill, a negative one the
    # resume); every fourth kill comes late, after a quick effect has likely ended the flow.
    offsets = [0.1 if i % 4 == 2 else rng.uniform(-0.004, 0.004) for i in range(len(ids))]
    answers: dict[tuple[str, str], Answer] = {}

    def side(index: int) -> None:
        client = Racer(api.url)
        try:
            for execution_id, offset in zip(ids, offsets, strict=True):
                barrier.wait()
                if (offset > 0) == (index == 0):
                    time.sleep(abs(offset))
                if index == 0:
                    path = f"/api/v1/main/executions/{execution_id}/kill"
                    answers[(execution_id, "kill")] = client.request("DELETE", path)
                else:
                    path = f"/api/v1/main/executions/{execution_id}/resume"
                    answers[(execution_id, "resume")] = client.request("POST", path, {})
        finally:
            client.close()

    run_threads(side, 2)

    done = wait_all(api, "guarded", KILL_TRIALS, DONE)
    time.sleep(0.5)  # a side effect a killed execution wrongly dispatched would arrive by now
    kills, resumes = audits(api, "KILL"), audits(api, "RESUME")
    outcomes: Counter[str] = Counter()
    for execution_id in ids:
        kill, resume = answers[(execution_id, "kill")], answers[(execution_id, "resume")]
        execution = done[execution_id]
        [wait] = runs_of(execution, "wait")
        effects = runs_of(execution, "effect")
        heard = ledger.at(f"/ledger/{execution_id}")
        assert (kill.status, resume.status) != (409, 409), execution_id
        assert kill.status in (202, 409), kill
        assert resume.status in (204, 409), resume
        assert len(kills.get(execution_id, [])) == (kill.status == 202)
        assert len(resumes.get(execution_id, [])) == (resume.status == 204)
        if resume.status == 409:
            outcomes["kill won"] += 1
            assert resume.body["message"] == not_paused_message(execution_id)
            assert resume.body["killedBy"] == "admin"
            assert execution["state"]["current"] == "KILLED"
            assert history(execution)[-4:] == ["PAUSED", "RESTARTED", "KILLING", "KILLED"]
            assert wait["state"]["current"] == "KILLED"
            assert wait["outputs"]["resumed"]["to"] == "KILLING"
            assert effects == [], execution_id
            assert heard == [], execution_id
            continue
        assert wait["state"]["current"] == "SUCCESS"
        assert wait["outputs"]["resumed"]["by"] == "admin"
        assert len(effects) <= 1
        assert len(heard) <= 1
        if kill.status == 409:
            outcomes["resume won, then the flow ended"] += 1
            assert (
                kill.body["message"]
                == "Illegal state: Execution is already finished, can't kill it"
            )
            assert execution["state"]["current"] == "SUCCESS"
            assert [e["state"]["current"] for e in effects] == ["SUCCESS"]
            assert [r.body for r in heard] == [b"admin"]
        else:
            outcomes["resume won, then the kill stopped the rest"] += 1
            assert execution["state"]["current"] == "KILLED"
            assert history(execution)[-3:] == ["RUNNING", "KILLING", "KILLED"]
            assert [e["state"]["current"] for e in effects] == ["KILLED"]
    print(f"kill vs resume: {dict(outcomes)}")


# --- a burst of requests when the remembered sign-in expires -----------------------------------


def test_a_burst_when_the_remembered_password_check_expires_is_not_refused(api: Api) -> None:
    """Basic credentials are checked once and remembered for a while; when that ends in the
    middle of a race, the racers' requests wait for one new check rather than each making
    their own and being refused (429) by the password-check throttle."""
    authenticator = api.server.app.state.perch.authenticator
    authenticator.BASIC_TTL = 1.0  # an instance attribute: this server's only
    warm_sign_in(api)
    time.sleep(1.1)
    barrier = threading.Barrier(RACERS)
    statuses: list[int] = []

    def racer(_: int) -> None:
        client = Racer(api.url)
        try:
            barrier.wait()
            statuses.append(client.request("GET", "/api/v1/main/executions/search").status)
        finally:
            client.close()

    run_threads(racer, RACERS)
    assert Counter(statuses) == {200: RACERS}
