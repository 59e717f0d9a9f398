"""Reading and writing ``kestra:///`` files from a running task, through the execution's file
hooks (:mod:`perch.engine.filehooks`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from perch.engine.filehooks import READ, WRITE
from perch.errors import TaskFileError
from perch.tasks.context import RunContext


def _hook(context: RunContext, name: str) -> Callable[..., Any]:
    hook = context.hooks.get(name)
    if hook is None:
        raise TaskFileError("Files are not available to this task")
    return hook


def read_file(context: RunContext, uri: str) -> bytes:
    """The bytes of a file of this execution (or of another of its namespace) by its URI."""
    content: bytes = _hook(context, READ)(uri, context.execution_id)
    return content


def write_file(context: RunContext, name: str, content: bytes) -> str:
    """Store ``content`` as this task run's file ``name``; its ``kestra:///`` URI."""
    uri: str = _hook(context, WRITE)(context.execution_id, context.task_run_id, name, content)
    return uri
