"""Live following by server-sent events: ``GET /executions/{executionId}/follow`` and
``GET /logs/{executionId}/follow``.

Both streams wake on the engine's change notifications (:mod:`perch.engine.watch`), re-read the
database, and send what is new:

- an execution stream sends the execution as a ``start`` event, a ``progress`` event on each
  change, and ``end`` once it is terminated (a PAUSED execution is not: the stream stays open
  until it is resumed or killed, or the client leaves). Kestra puts those names in the SSE
  ``id`` field, so a browser that reconnects after the end sends ``Last-Event-ID: end``; it gets
  204, which tells an ``EventSource`` to stop reconnecting.
- a log stream sends every line that passes the filters as a ``progress`` event (the lines
  already written first), and closes once the execution is terminated and its last lines sent.

A comment line goes out when nothing was sent for :data:`HEARTBEAT_SECONDS`, so proxies keep
the connection open. A client that disconnects cancels its stream, which unsubscribes it.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from perch.api.auth import PrincipalDep
from perch.api.context import StoreDep, TenantDep
from perch.api.convert import execution_in, shown_execution
from perch.api.routes.logs import ExecutionIdPath, LogFilter, LogFilterDep, log_json, read_logs
from perch.api.shapes import ERRORS, OmitUnsetRoute
from perch.engine import service
from perch.engine.model import Execution, LogEntry
from perch.engine.ports import Store
from perch.engine.watch import changes
from perch.errors import ExecutionNotFound

router = APIRouter(route_class=OmitUnsetRoute)

HEARTBEAT_SECONDS = 15.0
"""Longest silence on a stream before a comment line is sent (proxies close idle ones)."""

HEARTBEAT = ": keep-alive\n\n"

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "id": {"type": "string", "description": "`start`, `progress` or `end`"},
        "event": {"type": "string"},
        "data": {"type": "string", "description": "One JSON document"},
    },
}


def _stream_doc(what: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": what,
            # Before OpenAPI 3.2 the schema of an event stream describes one event.
            "content": {"text/event-stream": {"schema": _EVENT}},
        },
        204: {"description": "The stream already ended (`Last-Event-ID: end`)"},
        **ERRORS,
    }


def sse_event(event_id: str, data: Any) -> str:
    """One event: Kestra's event name in ``id``, the JSON on one ``data`` line."""
    return f"id: {event_id}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def is_over(execution: Execution) -> bool:
    """Whether following the execution is done (PAUSED is not an end: it will go on)."""
    return execution.state.current.is_terminated


Step = Callable[[], Awaitable[tuple[list[str], bool]]]
"""Reads the database and returns the events to send and whether the stream ends after them."""


async def _paced(store: Store, execution_id: str, step: Step) -> AsyncIterator[str]:
    """Run ``step`` at once and after each change of the execution; a heartbeat after long
    silences."""
    last_sent = time.monotonic()
    async with aclosing(changes(store, execution_id)) as wakes:
        async for _ in wakes:
            events, done = await step()
            for event in events:
                yield event
            if events:
                last_sent = time.monotonic()
            if done:
                return
            if time.monotonic() - last_sent >= HEARTBEAT_SECONDS:
                last_sent = time.monotonic()
                yield HEARTBEAT


async def _read(function: Callable[..., Any], *args: Any) -> Any:
    # The store is blocking: read in a worker thread, keep the event loop free.
    return await anyio.to_thread.run_sync(function, *args)


def execution_events(store: Store, execution_id: str) -> AsyncIterator[str]:
    """The events of one execution's stream (see the module docstring)."""
    sent_version: int | None = None

    async def step() -> tuple[list[str], bool]:
        nonlocal sent_version
        try:
            execution, shown = await _read(_snapshot, store, execution_id)
        except ExecutionNotFound:  # deleted while followed
            return [], True
        events: list[str] = []
        if sent_version is None:
            events.append(sse_event("start", shown))
        elif execution.version != sent_version:
            events.append(sse_event("progress", shown))
        sent_version = execution.version
        if is_over(execution):
            events.append(sse_event("end", shown))
        return events, is_over(execution)

    return _paced(store, execution_id, step)


def _snapshot(store: Store, execution_id: str) -> tuple[Execution, dict[str, Any]]:
    execution = service.get_execution(store, execution_id)
    return execution, shown_execution(store, execution)


def log_events(store: Store, execution: Execution, filters: LogFilter) -> AsyncIterator[str]:
    """The events of one execution's log stream (see the module docstring)."""
    # Lines have no id; a multiset of those sent tells the new ones apart even when a line
    # committed late sorts before lines already sent.
    sent: Counter[LogEntry] = Counter()

    async def step() -> tuple[list[str], bool]:
        try:
            current, entries = await _read(_log_snapshot, store, execution.id, filters)
        except ExecutionNotFound:
            return [], True
        unsent = Counter(entries) - sent
        events: list[str] = []
        for entry in entries:
            if unsent[entry] > 0:
                unsent[entry] -= 1
                sent[entry] += 1
                events.append(sse_event("progress", log_json(current, entry)))
        return events, is_over(current)

    return _paced(store, execution.id, step)


def _log_snapshot(
    store: Store, execution_id: str, filters: LogFilter
) -> tuple[Execution, list[LogEntry]]:
    # The execution first: when it is seen terminated, the lines read next include every line
    # committed with (or before) its last transition.
    execution = service.get_execution(store, execution_id)
    return execution, read_logs(store, execution_id, filters)


def _stream(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


@router.get(
    "/executions/{executionId}/follow",
    tags=["Executions"],
    summary="Follow an execution's changes (server-sent events)",
    response_class=StreamingResponse,
    responses=_stream_doc(
        "Events `start`, `progress`, `end` (in the SSE `id`), each with the execution JSON"
    ),
)
def follow_execution(
    executionId: ExecutionIdPath,
    request: Request,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
) -> Response:
    """Stream the execution as it changes, until it is terminated."""
    execution = execution_in(store, tenant, executionId, principal)
    if request.headers.get("last-event-id") == "end" and is_over(execution):
        return Response(status_code=204)
    return _stream(execution_events(store, executionId))


@router.get(
    "/logs/{executionId}/follow",
    tags=["Logs"],
    summary="Follow an execution's log lines (server-sent events)",
    response_class=StreamingResponse,
    responses=_stream_doc("One `progress` event per log line (LogEntry JSON)"),
)
def follow_logs(
    executionId: ExecutionIdPath,
    filters: LogFilterDep,
    store: StoreDep,
    tenant: TenantDep,
    principal: PrincipalDep,
) -> Response:
    """Stream the log lines, those already written first, until the execution is terminated."""
    execution = execution_in(store, tenant, executionId, principal)
    return _stream(log_events(store, execution, filters))
