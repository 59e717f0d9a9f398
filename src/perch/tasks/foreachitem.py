"""The worker's part of ForEachItem: cut the items file into batch files (``<id>_split``).

The items file is read as lines (``batch.separator``, a newline by default). A batch holds
``rows`` lines (1 by default), or lines up to about ``bytes`` (``10MB``, ``512KB``, ``100``), or
the lines are shared into ``partitions`` batches of about equal length. Each batch is stored as
a file of the task run, and ``splits.txt`` lists their URIs one a line (Kestra's ``splits``).
"""

from __future__ import annotations

import re

from perch.engine.foreachitem import BATCHES_OUTPUT, MAX_BATCHES
from perch.engine.states import StateType
from perch.errors import PerchError
from perch.flows.tasks.loops import Batch, ForEachItemSplit
from perch.tasks.context import RunContext, TaskOutcome
from perch.tasks.files import read_file, write_file

_SIZE = re.compile(r"^\s*(\d{1,15})\s*([KMGT]?B?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


class ForEachItemError(PerchError):
    """A ForEachItem cannot split its items (not an internal-storage file, a bad batch)."""


def parse_bytes(text: str) -> int:
    """``10MB`` → 10485760 (units are powers of 1024, as in Kestra)."""
    match = _SIZE.match(text)
    if match is None:
        raise ForEachItemError(f"batch.bytes: '{text}' is not a size such as 10MB, 512KB or 100")
    unit = match.group(2).upper()
    value = int(match.group(1)) * _UNITS[unit[:1] if unit not in ("", "B") else unit]
    if value <= 0:
        raise ForEachItemError("batch.bytes must be more than 0")
    return value


def _positive(context: RunContext, value: int | str, what: str) -> int:
    rendered = value if isinstance(value, int) else context.render(value)
    try:
        number = int(str(rendered).strip())
    except ValueError:
        raise ForEachItemError(f"batch.{what}: '{rendered}' is not a whole number") from None
    if number <= 0:
        raise ForEachItemError(f"batch.{what} must be 1 or more, got {number}")
    return number


def split_lines(context: RunContext, lines: list[bytes], batch: Batch) -> list[list[bytes]]:
    """The batches of ``lines`` that ``batch`` asks for."""
    if batch.partitions is not None:
        count = min(_positive(context, batch.partitions, "partitions"), len(lines)) or 1
        size, extra = divmod(len(lines), count)
        parts, start = [], 0
        for index in range(count):
            end = start + size + (1 if index < extra else 0)
            parts.append(lines[start:end])
            start = end
        return [part for part in parts if part]
    if batch.bytes is not None:
        limit = parse_bytes(context.render_text(batch.bytes))
        parts = []
        current: list[bytes] = []
        used = 0
        for line in lines:
            if current and used + len(line) > limit:
                parts.append(current)
                current, used = [], 0
            current.append(line)
            used += len(line)
        if current:
            parts.append(current)
        return parts
    rows = 1 if batch.rows is None else _positive(context, batch.rows, "rows")
    return [lines[i : i + rows] for i in range(0, len(lines), rows)]


def run_foreach_split(task: ForEachItemSplit, context: RunContext) -> TaskOutcome:
    """``<id>_split``: the batch files, and ``splits`` (the file listing them)."""
    uri = context.render_text(task.items).strip()
    if not uri.startswith("kestra://"):
        raise ForEachItemError(
            f"Unable to split the items from {uri}, this is not an internal storage URI!"
        )
    separator = "\n" if task.batch.separator is None else context.render_text(task.batch.separator)
    if not separator:
        raise ForEachItemError("batch.separator must not be empty")
    content = read_file(context, uri)
    mark = separator.encode("utf-8")
    lines = [piece + mark for piece in content.split(mark)]
    if lines and lines[-1] == mark:
        lines.pop()  # the separator ending the last line starts no new one
    elif lines:
        lines[-1] = lines[-1][: -len(mark)]
    batches = split_lines(context, lines, task.batch)
    if len(batches) > MAX_BATCHES:
        raise ForEachItemError(
            f"{len(batches)} batches, at most {MAX_BATCHES}: make them larger "
            "(batch.rows, batch.bytes or batch.partitions)"
        )
    uris = [
        write_file(context, f"{number}.txt", b"".join(batch))
        for number, batch in enumerate(batches, start=1)
    ]
    splits = write_file(context, "splits.txt", "\n".join(uris).encode("utf-8"))
    return TaskOutcome(
        StateType.SUCCESS,
        outputs={"splits": splits, BATCHES_OUTPUT: uris},
        logs=(("INFO", f"{len(uris)} batches from {len(lines)} lines"),),
    )
