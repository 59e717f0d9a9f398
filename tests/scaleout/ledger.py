"""A side-effect ledger: a real HTTP server on loopback that the flows' HTTP tasks POST to.

Every task that does work posts ``{executionId, taskRunId, taskId, attempt}`` (``attempt`` is
``taskrun.attemptsCount``: 0 for the first attempt). The ledger records each post when it
arrives, before answering, so a worker killed while waiting for the answer still leaves its
post behind; the answer echoes the post, so the task's ``body`` output names what it sent.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Post:
    """One recorded side effect."""

    execution_id: str
    task_run_id: str
    task_id: str
    attempt: int
    fields: dict[str, Any]
    """The whole body (``value`` of a ForEach iteration, ``decision`` after a resume, …)."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A worker killed while its connection was open resets it: expected, not news.
        pass


class Ledger:
    """Records posts to ``/ledger``; answers each after a random delay in ``delay`` seconds
    (so that workers are often killed while a request is in flight)."""

    def __init__(self, delay: tuple[float, float] = (0.0, 0.0)) -> None:
        self._lock = threading.Lock()
        self._posts: list[Post] = []
        self.refused: list[str] = []
        """Requests that were not well-formed posts (each is a test failure)."""
        ledger = self
        low, high = delay

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                    post = Post(
                        execution_id=str(body["executionId"]),
                        task_run_id=str(body["taskRunId"]),
                        task_id=str(body["taskId"]),
                        attempt=int(body["attempt"]),
                        fields=body,
                    )
                except (ValueError, KeyError, TypeError):
                    with ledger._lock:
                        ledger.refused.append(f"{self.path}: {raw[:300]!r}")
                    self._answer(400, b'{"error": "not a ledger post"}')
                    return
                with ledger._lock:
                    ledger._posts.append(post)
                if high > 0:
                    time.sleep(random.uniform(low, high))
                self._answer(200, json.dumps(body).encode())

            def _answer(self, status: int, payload: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the worker that asked was killed

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/ledger"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> Ledger:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def posts(self) -> list[Post]:
        with self._lock:
            return list(self._posts)

    def by_task_run(self) -> dict[str, list[Post]]:
        found: dict[str, list[Post]] = defaultdict(list)
        for post in self.posts():
            found[post.task_run_id].append(post)
        return dict(found)
