"""What the race tests share: a light HTTP client for racers, and reading results through the API.

The server under test runs in the test's own process (one interpreter lock for both sides), so
the racers use ``http.client`` on kept-alive connections: httpx costs a few milliseconds of CPU
per request more, which, over the thousands of requests of a race, would double its time.
"""

from __future__ import annotations

import base64
import faulthandler
import http.client
import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from tests.api.conftest import ADMIN, Api

DONE = ("SUCCESS", "FAILED", "WARNING", "KILLED", "CANCELLED")
BOUNDARY = "perch-race-boundary"
IDLE_SECONDS = 1.0


def not_paused_message(execution_id: str) -> str:
    """Kestra's answer to resuming an execution that is not paused (409)."""
    return f"Illegal state: Execution '{execution_id}' is not paused, can't resume it"


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    """The JSON body, or None when there is none."""
    sent: float
    """``time.time()`` when the request was sent."""


class Racer:
    """One kept-alive HTTP/1.1 connection to the API, signed in as the administrator."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, 60)
        token = base64.b64encode(f"{ADMIN[0]}:{ADMIN[1]}".encode()).decode()
        self._auth = f"Basic {token}"
        self._used = time.monotonic()

    def request(self, method: str, path: str, fields: Mapping[str, str] | None = None) -> Answer:
        headers = {"Authorization": self._auth}
        body: bytes | None = None
        if fields is not None:
            body = multipart(fields)
            headers["Content-Type"] = f"multipart/form-data; boundary={BOUNDARY}"
        if time.monotonic() - self._used > IDLE_SECONDS:
            # The server closes idle connections (uvicorn after 5 s): a request sent on one it
            # is closing would fail, so a connection idle for a while is opened afresh.
            self._conn.close()
        sent = time.time()
        self._conn.request(method, path, body=body, headers=headers)
        try:
            response = self._conn.getresponse()
        except TimeoutError:
            # The server in this process never answered: where each of its threads stands.
            faulthandler.dump_traceback(all_threads=True)
            raise
        raw = response.read()
        self._used = time.monotonic()
        return Answer(response.status, json.loads(raw) if raw else None, sent)

    def close(self) -> None:
        self._conn.close()


def multipart(fields: Mapping[str, str]) -> bytes:
    """A multipart/form-data body of text fields, as ``curl -F name=value`` sends it."""
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    return ("".join(parts) + f"--{BOUNDARY}--\r\n").encode()


def run_threads(target: Callable[[int], None], count: int) -> None:
    """Run ``target(index)`` on ``count`` threads; re-raise the first failure."""
    failures: list[BaseException] = []

    def guarded(index: int) -> None:
        try:
            target(index)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def start_many(
    api: Api, namespace: str, flow_id: str, inputs: list[dict[str, str]], threads: int = 4
) -> list[dict[str, Any]]:
    """Start one execution per inputs dict over HTTP, a few at a time; their JSON, in order."""
    started: list[dict[str, Any] | None] = [None] * len(inputs)

    def start(first: int) -> None:
        racer = Racer(api.url)
        try:
            for index in range(first, len(inputs), threads):
                answer = racer.request(
                    "POST", f"/api/v1/main/executions/{namespace}/{flow_id}", inputs[index]
                )
                assert answer.status == 200, answer.body
                started[index] = answer.body
        finally:
            racer.close()

    run_threads(start, threads)
    return [body for body in started if body is not None]


def search(api: Api, flow_id: str) -> list[dict[str, Any]]:
    """Every execution of ``flow_id``, through the search API."""
    found: list[dict[str, Any]] = []
    page = 1
    while True:
        params: dict[str, Any] = {"flowId": flow_id, "size": 1000, "page": page}
        answer = api.client.get("/api/v1/main/executions/search", params=params)
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        found.extend(results)
        if len(results) < 1000:
            return found
        page += 1


def wait_all(
    api: Api, flow_id: str, count: int, states: tuple[str, ...], timeout: float = 120
) -> dict[str, dict[str, Any]]:
    """Wait until ``count`` executions of ``flow_id`` are in one of ``states``; all of them by
    id (the search answers whole executions, task runs included)."""
    deadline = time.monotonic() + timeout
    while True:
        found = search(api, flow_id)
        if sum(e["state"]["current"] in states for e in found) >= count:
            return {e["id"]: e for e in found}
        if time.monotonic() > deadline:
            seen = Counter(e["state"]["current"] for e in found)
            raise AssertionError(f"timed out waiting for {count} in {states}: {dict(seen)}")
        time.sleep(0.2)


def audits(api: Api, action: str) -> dict[str, list[dict[str, Any]]]:
    """The audit records of ``action``, by execution id."""
    by_execution: dict[str, list[dict[str, Any]]] = defaultdict(list)
    page = 1
    while True:
        answer = api.client.get(
            "/api/v1/main/auditlogs/search", params={"action": action, "size": 1000, "page": page}
        )
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        for record in results:
            by_execution[record["executionId"]].append(record)
        if len(results) < 1000:
            return by_execution
        page += 1


def history(body: dict[str, Any]) -> list[str]:
    """The state names of an execution's (or a task run's) history."""
    return [h["state"] for h in body["state"]["histories"]]


def runs_of(body: dict[str, Any], task_id: str) -> list[dict[str, Any]]:
    return [r for r in body["taskRunList"] or [] if r["taskId"] == task_id]
