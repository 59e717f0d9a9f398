"""``/health``, ``/ready`` and ``/metrics`` for the processes that serve no API (executor,
scheduler, worker): a small HTTP server on its own port, answering what the web server's
routes of the same names answer."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from perch.engine.context import reading
from perch.engine.ports import Store
from perch.metrics import CONTENT_TYPE, exposition


def _counts(store: Store) -> dict[str, dict[str, int]]:
    with reading(store) as tx:
        return tx.deployment_counts()


def readiness(store: Store) -> str | None:
    """Why the process should take no work now (None: ready)."""
    check = getattr(store, "readiness", None)
    found: str | None = check() if check is not None else None
    return found


class HealthServer:
    """Answers the three paths on ``host:port`` (0: any free port) in a daemon thread."""

    def __init__(self, store: Store, role: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/health":
                    self._answer(200, {"status": "UP", "role": role})
                elif path == "/ready":
                    problem = readiness(owner.store)
                    if problem is None:
                        self._answer(200, {"status": "UP", "role": role})
                    else:
                        self._answer(503, {"status": "DOWN", "role": role, "reason": problem})
                elif path == "/metrics":
                    body = exposition(lambda: _counts(owner.store))
                    self._send(200, CONTENT_TYPE, body)
                else:
                    self._answer(404, {"message": "Not Found"})

            def _answer(self, status: int, body: dict[str, str]) -> None:
                self._send(status, "application/json", json.dumps(body).encode())

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.store = store
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="perch-health", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
