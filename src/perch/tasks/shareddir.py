"""The worker's side of a WorkingDirectory: unpack the shared directory into a script's fresh
directory before it runs, pack it back after, and the two internal tasks (``inputFiles``,
``outputFiles``).

The archive is an uncompressed tar kept in the execution's files under the WorkingDirectory's
task run (:func:`perch.engine.workingdir.archive_uri`), so the next child finds it whichever
worker, on whichever machine, runs it. Only regular files and directories travel; links and
devices are skipped. Its size is bounded by ``PERCH_WORKINGDIR_MAX_BYTES`` (64 MiB by default,
never more than the largest file the store keeps): a child that leaves more fails with a message
that says so.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perch.engine.filehooks import MAX_FILE_BYTES, WRITE
from perch.engine.states import StateType
from perch.engine.workingdir import ARCHIVE_NAME
from perch.errors import NotFound
from perch.flows.tasks.workingdir import WorkingDirectoryInputs, WorkingDirectoryOutputs
from perch.tasks.context import RunContext, TaskOutcome
from perch.tasks.files import read_file
from perch.tasks.workdir import (
    ScriptError,
    Workspace,
    store_output_files,
    workspace,
    write_input_files,
)

MAX_BYTES_SETTING = "PERCH_WORKINGDIR_MAX_BYTES"
MAX_ENTRIES = 10_000


def max_archive_bytes() -> int:
    """The largest shared directory (as an archive) a WorkingDirectory may hold."""
    text = os.environ.get(MAX_BYTES_SETTING, "").strip()
    if not text:
        return MAX_FILE_BYTES
    try:
        value = int(text)
    except ValueError:
        raise ScriptError(f"{MAX_BYTES_SETTING}='{text}' is not a number of bytes") from None
    return max(1, min(value, MAX_FILE_BYTES))


def restore(context: RunContext, space: Workspace) -> None:
    """Unpack the shared directory into ``space.work`` (nothing when it has no archive yet)."""
    if context.shared_dir is None:
        return
    try:
        content = read_file(context, context.shared_dir)
    except NotFound:
        return
    try:
        with tarfile.open(fileobj=io.BytesIO(content), mode="r:") as archive:
            members = [m for m in archive.getmembers() if m.isfile() or m.isdir()]
            archive.extractall(space.work, members=members, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise ScriptError(f"The WorkingDirectory's files cannot be restored: {exc}") from None


def save(context: RunContext, space: Workspace, skip: set[Path]) -> None:
    """Pack ``space.work`` (less ``skip``) as the shared directory's new archive."""
    if context.shared_dir is None:
        return
    limit = max_archive_bytes()
    buffer = io.BytesIO()
    count = 0
    with tarfile.open(fileobj=buffer, mode="w:") as archive:
        for path in sorted(space.work.rglob("*")):
            if path in skip or path.is_symlink() or not (path.is_file() or path.is_dir()):
                continue
            count += 1
            if count > MAX_ENTRIES:
                raise ScriptError(f"The working directory holds over {MAX_ENTRIES} entries")
            archive.add(path, arcname=path.relative_to(space.work).as_posix(), recursive=False)
            if buffer.tell() > limit:
                raise ScriptError(_too_large(limit))
    content = buffer.getvalue()
    if len(content) > limit:
        raise ScriptError(_too_large(limit))
    owner = context.shared_dir.rstrip("/").rsplit("/", 2)[-2]  # the WorkingDirectory's run
    write: Callable[..., Any] = context.hooks[WRITE]
    write(context.execution_id, owner, ARCHIVE_NAME, content)


def _too_large(limit: int) -> str:
    return (
        f"The WorkingDirectory's files are over {limit} bytes (the {MAX_BYTES_SETTING} limit): "
        "keep large files in outputFiles of a single task, or raise the limit"
    )


def run_input_files(task: WorkingDirectoryInputs, context: RunContext) -> TaskOutcome:
    """``<id>_inputFiles``: write the WorkingDirectory's ``inputFiles`` as its first archive."""
    with workspace() as space:
        names = write_input_files(context, task.inputFiles, space)
        save(context, space, set())
    return TaskOutcome(StateType.SUCCESS, {"files": names})


def run_output_files(task: WorkingDirectoryOutputs, context: RunContext) -> TaskOutcome:
    """``<id>_outputFiles``: store the files of the shared directory that ``outputFiles`` match."""
    logs: list[tuple[str, str]] = []
    with workspace() as space:
        restore(context, space)
        patterns = [context.render_text(pattern) for pattern in task.outputFiles]
        files = store_output_files(
            context, patterns, space, set(), lambda message: logs.append(("WARN", message))
        )
    return TaskOutcome(StateType.SUCCESS, {"outputFiles": files or {}}, tuple(logs))
