"""Request bodies checked before any route reads them.

:class:`BoundedBodies` (outermost) counts a body as it streams and answers 413 once it passes
:data:`ANONYMOUS_LIMIT` for a caller without valid credentials, or the server's configured
limit for one with them; a ``Content-Length`` over the limit is refused before a byte is read.
Credentials are checked only when a body grows past the anonymous limit.

:class:`StrictJsonBodies` refuses, with 422, a JSON body holding ``NaN``, an infinity, a lone
surrogate or nesting deeper than :data:`perch.inputs.strictjson.MAX_DEPTH`: FastAPI's own parser
accepts them all, and such a value once stored broke pages for everyone. A big body is checked
on a worker thread (:func:`checked_json`), and the value it parsed to is kept for the route.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anyio.to_thread
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perch.api.errors import error_body
from perch.inputs import strictjson

if TYPE_CHECKING:
    from perch.api.auth import Authenticator
    from perch.engine.principal import Principal

ANONYMOUS_LIMIT = 64 * 1024
"""Bytes of body a caller may send before its credentials have been checked."""

WEBHOOK_LIMIT = 1024 * 1024
"""Bytes of body a webhook call may send (it has no credentials: its key is in the path)."""
WEBHOOK_PATH = "/executions/webhook/"

DEFAULT_LIMIT = 10 * 1024 * 1024 + ANONYMOUS_LIMIT
"""Bytes of body an authenticated caller may send, unless the server is told otherwise: 10 MB,
plus room for the form around a file of the largest size accepted (10 MB)."""


OFF_LOOP_JSON = 64 * 1024
"""Bytes of JSON body beyond which it is parsed and checked on a worker thread: on the event
loop, a 7.8 MB document held every other request (``/health`` too) for 0.43 s."""

PARSED_JSON = "strict_json"
"""Where :class:`StrictJsonBodies` leaves ``(body, value)`` in the request's state, so that a
route reading the same body need not parse it again."""


async def checked_json(body: bytes) -> Any:
    """:func:`perch.inputs.strictjson.loads` of ``body``, off the event loop when it is big."""
    if len(body) > OFF_LOOP_JSON:
        return await anyio.to_thread.run_sync(strictjson.loads, body)
    return strictjson.loads(body)


class _TooLarge(Exception):
    """Raised from ``receive`` once a body passes its limit."""


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            found: bytes = value
            return found
    return None


class BoundedBodies:
    """ASGI middleware: 413 for a body over its limit, counted before anything buffers it."""

    def __init__(
        self, app: ASGIApp, authenticator: Authenticator, limit: int = DEFAULT_LIMIT
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.limit = max(limit, ANONYMOUS_LIMIT)

    async def _limit_for(self, scope: Scope) -> int:
        """The limit of this request's caller: credentials are checked (off the event loop)
        and, when they hold, the principal is kept on this request only."""
        if scope.get("state", {}).get("principal") is not None:
            return self.limit  # the route checked the credentials before reading its body
        authorization = _header(scope, b"authorization")
        if authorization is None:
            return ANONYMOUS_LIMIT
        text = authorization.decode("latin-1")
        client = scope.get("client")
        address = str(client[0]) if client else None
        principal: Principal | None = await anyio.to_thread.run_sync(
            self.authenticator.from_header, text, address
        )
        if principal is None:
            return ANONYMOUS_LIMIT
        scope.setdefault("state", {})["principal"] = principal
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = ANONYMOUS_LIMIT
        checked = False
        if WEBHOOK_PATH in scope.get("path", ""):
            # No credentials to check: the same limit for every caller.
            limit, checked = WEBHOOK_LIMIT, True
        declared = _header(scope, b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            if not checked:
                limit, checked = await self._limit_for(scope), True
            if int(declared) > limit:
                await self._refuse(scope, receive, send, limit)
                return
        received = 0
        over = False
        started = False

        async def counting() -> Message:
            nonlocal received, limit, checked, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit and not checked:
                    limit, checked = await self._limit_for(scope), True
                if received > limit:
                    over = True
                    raise _TooLarge()
            return message

        async def watching(message: Message) -> None:
            nonlocal started
            if over:  # a route that caught the error must not answer in its place
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting, watching)
        except Exception:
            if not over:  # anything raised because the body was cut short is that 413
                raise
        if over and not started:
            await self._refuse(scope, receive, send, limit)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        message = f"Request entity too large: the body may have at most {limit} bytes"
        if limit == ANONYMOUS_LIMIT:
            message += " before the caller is authenticated"
        answer = JSONResponse(
            error_body(message, scope["path"]), status_code=413, headers={"Connection": "close"}
        )
        await answer(scope, receive, send)


def _is_json(scope: Scope) -> bool:
    for key, value in scope.get("headers", []):
        if key == b"content-type":
            kind: bytes = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json")
    return False


class StrictJsonBodies:
    """ASGI middleware: read a JSON body whole, check it, then hand it on unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body.strip():
            try:
                value = await checked_json(body)
            except strictjson.InvalidJson as error:
                answer = error_body(f"Invalid json: {error}", scope["path"])
                await JSONResponse(answer, status_code=422)(scope, receive, send)
                return
            except ValueError:
                pass  # not JSON at all: the route answers that in its own words
            else:
                scope.setdefault("state", {})[PARSED_JSON] = (body, value)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
