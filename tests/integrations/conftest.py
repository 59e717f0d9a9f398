"""What the integration tests share: a recording HTTP receiver on loopback, a reset of the
outbound network policy, and helpers to run a flow through the API and read its task runs.

The receiver is a real threaded HTTP server: each request is recorded whole (method, path,
headers, body, and for a multipart body its parts with their names and file names) before it
is answered as the test asked (status, headers, body, a delay, a redirect).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

import tests.api.conftest as api_fixtures
from perch.api import ApiSettings
from perch.engine.ports import Store
from perch.httpserver import HttpServer
from perch.server import LocalRuntime
from perch.tasks.network import configure_network
from tests.api.conftest import ADMIN, Api, open_test_store, state_is, stop_api

api = api_fixtures.api
backend = api_fixtures.backend


@dataclass(frozen=True)
class Part:
    name: str | None
    filename: str | None
    content_type: str
    content: bytes


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    client_port: int = 0
    """The port the request came from: two requests from one port shared a connection."""

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def parts(self) -> list[Part]:
        """The parts of a multipart/form-data body."""
        head = f"Content-Type: {self.header('content-type')}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + self.body)
        assert message.is_multipart(), self.header("content-type")
        found = []
        for part in message.iter_parts():
            payload = part.get_payload(decode=True)
            found.append(
                Part(
                    name=part.get_param("name", header="content-disposition"),
                    filename=part.get_filename(),
                    content_type=part.get_content_type(),
                    content=payload if isinstance(payload, bytes) else b"",
                )
            )
        return found


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0
    times: int | None = None
    """Answer this way this many times, then fall back to the default reply."""
    chunked: bool = False


class Receiver:
    """A threaded HTTP server on ``host`` recording every request (HTTPS with ``tls``)."""

    def __init__(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> None:
        self.requests: list[Recorded] = []
        self.replies: dict[str, Reply] = {}
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = dict(self.headers.items())
                peer = self.client_address[1]
                recorded = Recorded(self.command, self.path, headers, body, peer)
                reply = receiver._take(self.path.split("?")[0])
                with receiver._changed:
                    receiver.requests.append(recorded)
                    receiver._changed.notify_all()
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    if reply.chunked:
                        self.send_header("Transfer-Encoding", "chunked")
                        self.end_headers()
                        for start in range(0, len(reply.body), 1024):
                            chunk = reply.body[start : start + 1024]
                            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.write(b"0\r\n\r\n")
                    else:
                        self.send_header("Content-Length", str(len(reply.body)))
                        self.end_headers()
                        self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.host = host
        self.port = self._server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _take(self, path: str) -> Reply:
        with self._lock:
            reply = self.replies.get(path)
            if reply is None:
                return Reply()
            if reply.times is not None:
                reply.times -= 1
                if reply.times <= 0:
                    del self.replies[path]
            return reply

    def reply(self, path: str, **kwargs: Any) -> None:
        """Answer requests to ``path`` with :class:`Reply` ``kwargs``."""
        with self._lock:
            self.replies[path] = Reply(**kwargs)

    def at(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.split("?")[0] == path]

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def default_network_policy() -> Iterator[None]:
    """Each test starts and ends with the default policy (tests that change it are undone)."""
    configure_network()
    yield
    configure_network()


def run_flow(
    api: Api,
    source: str,
    *,
    inputs: dict[str, str] | None = None,
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None,
    states: tuple[str, ...] = ("SUCCESS", "FAILED", "WARNING", "KILLED"),
    timeout: float = 20.0,
) -> dict[str, Any]:
    """Deploy ``source``, start it over HTTP and wait for it to end; the execution's JSON."""
    flow = api.deploy(source)
    answer = api.client.post(
        f"/api/v1/main/executions/{flow['namespace']}/{flow['id']}",
        data=inputs or {},
        files=files,
    )
    assert answer.status_code == 200, answer.text
    return api.wait(answer.json()["id"], state_is(*states), timeout=timeout)


def task_run(execution: dict[str, Any], task_id: str) -> dict[str, Any]:
    runs = [run for run in execution["taskRunList"] if run["taskId"] == task_id]
    assert len(runs) == 1, [run["taskId"] for run in execution["taskRunList"]]
    return runs[0]


def errors_of(api: Api, execution: dict[str, Any], task_id: str) -> list[str]:
    """The ERROR log lines of one task of the execution."""
    lines = api.client.get(f"/api/v1/logs/{execution['id']}").json()
    return [
        line["message"]
        for line in lines
        if line.get("taskId") == task_id and line["level"] == "ERROR"
    ]


def start_linked_api(store: Store) -> Api:
    """:func:`tests.api.conftest.start_api` with ``appLink()`` wired to the API's address, as
    ``perch server local`` wires it."""
    from perch.identity import create_user

    create_user(store, ADMIN[0], ADMIN[1], superadmin=True)
    address: dict[str, str] = {}
    runtime = LocalRuntime(store, workers=2, public_url=lambda: address.get("url"))
    runtime.start()
    server = HttpServer(store, port=0, settings=ApiSettings(), prepare=False)
    server.start()
    url = address["url"] = f"http://127.0.0.1:{server.port}"
    client = httpx.Client(base_url=url, auth=ADMIN, timeout=30)
    linked = Api(url=url, client=client, store=store, server=server)
    linked._runtime = runtime  # type: ignore[attr-defined]
    return linked


@pytest.fixture
def linked_api(backend: str, tmp_path: Path) -> Iterator[Api]:
    """A fresh API server on each backend whose executions can render ``appLink()``."""
    running = start_linked_api(open_test_store(backend, tmp_path))
    yield running
    stop_api(running)
