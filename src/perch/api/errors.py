"""The one table from Perch's error classes to HTTP status codes, and the JSON error body.

Bodies follow Kestra's: ``{"message": "<prefix>: <text>", "_links": {"self": {"href": path}}}``,
with ``_embedded.errors[{message, path}]`` listing each bad input or flow problem. A class not
in the table takes the entry of its nearest listed ancestor.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from perch.api.refusals import record_refusal
from perch.errors import (
    AccessError,
    AlreadyExists,
    AlreadyFinished,
    BadRequest,
    BodyTooLarge,
    BulkInvalid,
    ConcurrentUpdate,
    FlowValidationError,
    Forbidden,
    IllegalState,
    InputValidationError,
    KvExpired,
    NotAssigned,
    NotFound,
    NotPaused,
    NotRunning,
    PerchError,
    TooManyAttempts,
    Unauthenticated,
)

# class -> (status, message prefix); the most specific class wins.
STATUS: dict[type[PerchError], tuple[int, str]] = {
    PerchError: (422, "Illegal argument"),
    InputValidationError: (422, "Invalid entity"),
    FlowValidationError: (422, "Invalid entity"),
    NotFound: (404, "Not Found"),
    IllegalState: (409, "Illegal state"),
    NotPaused: (409, "Illegal state"),
    AlreadyFinished: (409, "Illegal state"),
    NotRunning: (422, "Illegal argument"),
    ConcurrentUpdate: (409, "Conflict"),
    BulkInvalid: (400, ""),
    BadRequest: (400, "Bad request"),
    AlreadyExists: (409, "Conflict"),
    AccessError: (403, "Forbidden"),
    Unauthenticated: (401, "Unauthorized"),
    Forbidden: (403, "Forbidden"),
    NotAssigned: (403, ""),  # Kestra's words alone: "Access denied to resume this execution"
    TooManyAttempts: (429, "Too many requests"),
    BodyTooLarge: (413, "Request entity too large"),
    KvExpired: (410, "Gone"),
}

AUTHENTICATE = 'Basic realm="Perch", charset="UTF-8"'


def status_of(exc: PerchError) -> tuple[int, str]:
    """The status code and message prefix of an error, from :data:`STATUS`."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return STATUS[PerchError]


def error_body(
    message: str, path: str, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message, "_links": {"self": {"href": path}}}
    if errors:
        body["_embedded"] = {"errors": errors}
    return body


def _details(exc: PerchError) -> list[dict[str, Any]] | None:
    if isinstance(exc, InputValidationError):
        return [
            {"message": p.message, "path": p.input_id, "input": p.input_id} for p in exc.problems
        ]
    if isinstance(exc, FlowValidationError):
        return [
            {"message": p.message, "path": p.path, "line": p.line, "column": p.column}
            for p in exc.problems
        ]
    return None


async def _perch_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, PerchError)
    status, prefix = status_of(exc)
    message = f"{prefix}: {exc.message}" if prefix else exc.message
    body = error_body(message, request.url.path, _details(exc))
    if isinstance(exc, BulkInvalid):
        # Kestra's BulkErrorResponse: the bare message and each refused id with why.
        body["message"] = exc.message
        body["invalids"] = [{"invalidValue": i, "message": why} for i, why in exc.invalids]
    if isinstance(exc, NotPaused) and exc.killed_by:
        body["killedBy"] = exc.killed_by
    elif isinstance(exc, NotPaused) and exc.resumed_by:
        body["resumedBy"] = exc.resumed_by
    await record_refusal(request, exc, status)
    headers = {"WWW-Authenticate": AUTHENTICATE} if status == 401 else None
    if isinstance(exc, TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after)}
    return JSONResponse(body, status_code=status, headers=headers)


async def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "message": str(e.get("msg", "invalid")),
            "path": ".".join(str(p) for p in e.get("loc", ())),
        }
        for e in exc.errors()
    ]
    summary = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
    return JSONResponse(
        error_body(f"Invalid entity: {summary}", request.url.path, errors), status_code=422
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    status, message = exc.status_code, str(exc.detail)
    if status == 400 and message == _UNREADABLE_BODY:
        # FastAPI's answer to a body that is not even text; Kestra answers bad JSON with 422.
        status, message = 422, "Invalid json: the body cannot be read"
    headers = dict(exc.headers or {})
    if status == 405:
        headers["Allow"] = allowed_methods(request)
    return JSONResponse(error_body(message, request.url.path), status_code=status, headers=headers)


def allowed_methods(request: Request) -> str:
    """Every method the API documents at this path.

    Starlette's 405 names only the methods of the first route whose path matched, while a path
    such as ``/flows/{namespace}/{id}`` is served by three routes (GET, PUT, DELETE). The table
    is built once from the OpenAPI document, which lists every route with its methods.
    """
    table: list[tuple[re.Pattern[str], int, set[str]]] | None = getattr(
        request.app.state, "allow_table", None
    )
    if table is None:
        table = []
        for path, operations in request.app.openapi().get("paths", {}).items():
            regex, _, converters = compile_path(path)
            served = {m.upper() for m in operations if m != "parameters"}
            table.append((regex, len(converters), served))
        request.app.state.allow_table = table
    # The most literal templates win, as in routing: `/flows/validate` is not `/flows/{ns}`.
    matching = [
        (params, served) for regex, params, served in table if regex.match(request.url.path)
    ]
    fewest = min((params for params, _ in matching), default=0)
    methods: set[str] = set()
    for params, served in matching:
        if params == fewest:
            methods |= served
    return ", ".join(sorted(methods))


class RejectNul:
    """Answer 422 to a path or query holding a NUL character, before any route reads it.

    PostgreSQL refuses NUL in text values; without this, any route passing one on to the store
    would fail with a 500 instead of saying what is wrong with the request.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            if "\x00" in scope["path"] or b"\x00" in query or b"%00" in query.lower():
                body = error_body(
                    "Illegal argument: the request holds a NUL character", scope["path"]
                )
                await JSONResponse(body, status_code=422)(scope, receive, send)
                return
        await self.app(scope, receive, send)


_UNREADABLE_BODY = "There was an error parsing the body"


def install(app: FastAPI) -> None:
    """Register the handlers that turn errors into Kestra-shaped JSON bodies."""
    app.add_exception_handler(PerchError, _perch_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_middleware(RejectNul)
