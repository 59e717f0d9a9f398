"""``/ui/executions/{namespace}/{flowId}/{id}/logs/follow``: the execution page's log lines as
server-sent events, so that the page shows them as they are written.

The stream sends every line at or above ``level`` (those already written first) as one
``line`` event each, wakes on the engine's change notifications (:mod:`perch.engine.watch`),
and ends with an ``end`` event once the execution is terminated and its last lines are sent.
Each event is JSON of plain text fields; the page's script puts them in the list as text.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from perch.engine import service
from perch.engine.model import Execution, LogEntry
from perch.engine.ports import Store
from perch.engine.watch import changes
from perch.errors import ExecutionNotFound
from perch.ui.render import moment
from perch.ui.routes.execution import LEVELS, _execution
from perch.ui.session import StateDep, ViewerDep

router = APIRouter()

HEARTBEAT_SECONDS = 15.0
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _event(name: str, data: Any) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _line(entry: LogEntry) -> dict[str, str]:
    return {
        "time": moment(entry.timestamp),
        "level": entry.level,
        "task": entry.task_id or "",
        "message": entry.message,
    }


def _snapshot(
    store: Store, execution_id: str, level: str | None
) -> tuple[Execution, list[LogEntry]]:
    # The execution first: seen terminated, the lines read next include its last ones.
    execution = service.get_execution(store, execution_id)
    return execution, service.logs(store, execution_id, min_level=level)


async def _events(store: Store, execution_id: str, level: str | None) -> AsyncIterator[str]:
    sent: Counter[LogEntry] = Counter()
    last = time.monotonic()
    async with aclosing(changes(store, execution_id)) as wakes:
        async for _ in wakes:
            try:
                current, entries = await anyio.to_thread.run_sync(
                    _snapshot, store, execution_id, level
                )
            except ExecutionNotFound:
                return
            unsent = Counter(entries) - sent
            for entry in entries:
                if unsent[entry] > 0:
                    unsent[entry] -= 1
                    sent[entry] += 1
                    last = time.monotonic()
                    yield _event("line", _line(entry))
            if current.state.current.is_terminated:
                yield _event("end", {"state": current.state.current.value})
                return
            if time.monotonic() - last >= HEARTBEAT_SECONDS:
                last = time.monotonic()
                yield ": keep-alive\n\n"


@router.get("/executions/{namespace}/{flowId}/{executionId}/logs/follow")
def follow_logs(  # noqa: PLR0917 - path and query parameters
    viewer: ViewerDep,
    state: StateDep,
    namespace: str,
    flowId: str,
    executionId: str,
    level: Annotated[str | None, Query(max_length=8)] = None,
) -> StreamingResponse:
    store = state.store
    execution = _execution(store, viewer, namespace, flowId, executionId)
    chosen = level if level in LEVELS else None
    return StreamingResponse(
        _events(store, execution.id, chosen), media_type="text/event-stream", headers=HEADERS
    )
