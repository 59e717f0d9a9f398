"""ASGI middleware: how long each HTTP request took, by method, route template and status
class, into :data:`perch.metrics.HTTP_DURATION` (the route template, never the raw path, so
that ids do not make a series each)."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perch.metrics import HTTP_DURATION


class TimedRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_DURATION.labels(scope.get("method", ""), template, f"{status // 100}xx").observe(
                time.perf_counter() - started
            )
