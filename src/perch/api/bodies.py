"""Request bodies checked before any route reads them.

:class:`StrictJsonBodies` refuses, with 422, a JSON body holding ``NaN``, an infinity, a lone
surrogate or nesting deeper than :data:`perch.inputs.strictjson.MAX_DEPTH`: FastAPI's own parser
accepts them all, and such a value once stored broke pages for everyone.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perch.api.errors import error_body
from perch.inputs import strictjson


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
                strictjson.loads(body)
            except strictjson.InvalidJson as error:
                answer = error_body(f"Invalid json: {error}", scope["path"])
                await JSONResponse(answer, status_code=422)(scope, receive, send)
                return
            except ValueError:
                pass  # not JSON at all: the route answers that in its own words
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
