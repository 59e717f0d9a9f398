"""Serving the REST API with uvicorn on a background thread, beside the engine's loops."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import os
import socket
import threading
import time

import uvicorn

from perch.api import ApiSettings, create_app
from perch.api.app import prepare_routes
from perch.engine.ports import Store
from perch.errors import PerchError
from perch.ui import UiSettings, install_ui


class HttpServer:
    """uvicorn serving :func:`perch.api.create_app` on ``host:port`` until :meth:`stop`."""

    def __init__(
        self,
        store: Store,
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        settings: ApiSettings,
        reuse_port: bool = False,
        prepare: bool = True,
    ) -> None:
        """``reuse_port`` lets several processes listen on one port (SO_REUSEPORT: the kernel
        spreads the connections over them). ``prepare`` builds every route now (about a second
        of CPU) rather than on the first request to each: servers do, tests that start a
        server per test need not."""
        self._reuse_port = reuse_port
        self.app = create_app(store, settings)
        throttle = self.app.state.perch.authenticator.throttle
        install_ui(self.app, store, throttle, UiSettings(public_url=settings.public_url))
        if prepare:
            prepare_routes(self.app)
        with contextlib.suppress(ImportError):
            # anyio imports its asyncio backend on the first call sent to a thread; a module
            # import on the event loop would hold every request meanwhile.
            importlib.import_module("anyio._backends._asyncio")
        # Threads started now, not by the event loop in the middle of a burst of sign-ins.
        self.app.state.perch.authenticator.throttle.start()
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="uvloop" if _has_uvloop() else "asyncio",
            http="httptools",
            timeout_graceful_shutdown=5,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="perch-http", daemon=True)
        self._failure: BaseException | None = None
        self._socket: socket.socket | None = None

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        for server in getattr(self._server, "servers", []):
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return int(self._server.config.port)

    def _run(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._socket] if self._socket else None))
        except BaseException as exc:  # reported by start()
            self._failure = exc

    def start(self, timeout: float = 15.0) -> None:
        """Start serving; returns once the socket listens (or raises why it could not)."""
        host, port = self._server.config.host, self._server.config.port
        try:
            # Bound here rather than by uvicorn, which logs a bind failure and exits the
            # thread: a taken port must become one clear error for the caller.
            self._socket = socket.create_server(
                (host, port),
                family=socket.AF_INET6 if ":" in host else socket.AF_INET,
                reuse_port=self._reuse_port,
            )
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise PerchError(f"cannot listen on {host}:{port}: {reason}") from exc
        # Accepted connections inherit this: without it, Nagle's algorithm and delayed ACKs
        # add ~40 ms to a response written in two parts (headers, then body).
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._failure is not None or not self._thread.is_alive():
                raise PerchError(
                    f"the HTTP server could not start on "
                    f"{self._server.config.host}:{self._server.config.port}"
                    + (f": {self._failure}" if self._failure else "")
                )
            if time.monotonic() > deadline:
                raise PerchError("the HTTP server did not start in time")
            time.sleep(0.01)
        self._settle_public_url(host)

    def _settle_public_url(self, host: str) -> None:
        # Links in answers name the configured address, or else the one bound here: never the
        # Host header a caller sends.
        state = self.app.state.perch
        if state.settings.public_url is None:
            shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
            shown = f"[{shown}]" if ":" in shown else shown
            self.app.state.perch = dataclasses.replace(
                state,
                settings=dataclasses.replace(
                    state.settings, public_url=f"http://{shown}:{self.port}"
                ),
            )

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.app.state.perch.authenticator.throttle.stop()
        if self._socket is not None:
            self._socket.close()


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True
