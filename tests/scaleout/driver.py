"""Driving a Perch deployment over its REST API: deploy the mixed flows, start executions,
resume gates, wait for states and read every execution back — patiently, since the web
server may be down (killed, restarting) at any moment of a torture test."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.scaleout.mixed import NAMESPACE, flows

TERMINAL = ("SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED")


def call(
    client: httpx.Client, method: str, path: str, *, timeout: float = 60.0, **kwargs: Any
) -> httpx.Response:
    """The answer to a request, retried while the server cannot be reached or is starting
    (a request whose answer was lost is sent again: use only where that is harmless)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = client.request(method, path, **kwargs)
            if answer.status_code not in (502, 503) or time.monotonic() > deadline:
                return answer
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def deploy(client: httpx.Client, ledger_url: str) -> None:
    for source in flows(ledger_url):
        answer = call(
            client,
            "POST",
            "/api/v1/main/flows",
            content=source,
            headers={"Content-Type": "application/x-yaml"},
        )
        assert answer.status_code == 200, answer.text


def create(client: httpx.Client, plan: list[tuple[str, dict[str, str]]]) -> dict[str, str]:
    """Start one execution per ``(flow id, inputs)`` of ``plan``, a few at a time: their ids
    and flows."""

    def one(item: tuple[str, dict[str, str]]) -> tuple[str, str]:
        flow_id, inputs = item
        answer = client.post(f"/api/v1/main/executions/{NAMESPACE}/{flow_id}", data=inputs)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["id"]), flow_id

    with ThreadPoolExecutor(4) as pool:
        return dict(pool.map(one, plan))


def mixed_plan(count: int, naps: Callable[[], float]) -> list[tuple[str, dict[str, str]]]:
    """``count`` executions spread evenly over the started flows; each timed pause sleeps
    ``naps()`` seconds."""
    from tests.scaleout.mixed import STARTED

    plan: list[tuple[str, dict[str, str]]] = []
    for index in range(count):
        flow_id = STARTED[index % len(STARTED)]
        inputs = {"nap": f"PT{naps():.1f}S"} if flow_id == "timed" else {}
        plan.append((flow_id, inputs))
    random.shuffle(plan)
    return plan


def everything(client: httpx.Client) -> dict[str, dict[str, Any]]:
    """Every execution of the mixed namespace (the subflows' included), by id."""
    found: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        answer = call(
            client,
            "GET",
            "/api/v1/main/executions/search",
            params={"namespace": NAMESPACE, "size": 1000, "page": page},
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        found.update({e["id"]: e for e in body["results"]})
        if len(found) >= body["total"] or not body["results"]:
            return found
        page += 1


def count(client: httpx.Client, *states: str) -> int:
    answer = call(
        client,
        "GET",
        "/api/v1/main/executions/search",
        params={"namespace": NAMESPACE, "state": ",".join(states), "size": 1},
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["total"])


def wait_until(what: str, done: Callable[[], bool], timeout: float, poll: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(poll)


@dataclass
class Resumer:
    """Resumes gate executions over HTTP, each with its own decision token, sending a lost
    request again with the same token; remembers which resumes were acknowledged (204)."""

    client: httpx.Client
    acknowledged: dict[str, str] = field(default_factory=dict)
    """Execution id → the decision of the resume that got a 204."""
    unacknowledged: dict[str, str] = field(default_factory=dict)
    """Resumes whose answer was lost (the web server died): the decision they carried."""
    conflicts: list[str] = field(default_factory=list)
    """Executions a repeated resume found no longer paused (the lost one had been applied)."""

    def token_for(self, execution_id: str) -> str:
        return self.unacknowledged.get(execution_id) or f"ok-{uuid.uuid4().hex[:12]}"

    def resume(self, execution_id: str) -> bool:
        """One try: True once the execution's resume is settled (204, or 409 after a lost
        answer); False when it must be tried again (not paused yet, server unreachable)."""
        token = self.token_for(execution_id)
        try:
            answer = self.client.post(
                f"/api/v1/main/executions/{execution_id}/resume", json={"decision": token}
            )
        except httpx.TransportError:
            self.unacknowledged[execution_id] = token
            return False
        if answer.status_code == 204:
            self.unacknowledged.pop(execution_id, None)
            self.acknowledged[execution_id] = token
            return True
        if answer.status_code == 409 and execution_id in self.unacknowledged:
            self.conflicts.append(execution_id)
            return True
        assert answer.status_code in (409, 502, 503), (execution_id, answer.text)
        return False

    def decision_of(self, execution_id: str) -> str | None:
        """The decision the execution must show."""
        return self.acknowledged.get(execution_id) or self.unacknowledged.get(execution_id)
