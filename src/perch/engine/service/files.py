"""Uploaded FILE inputs: where their bytes are kept and the URI an input's value holds.

A file given for the FILE input ``doc`` of an execution is stored under
``kestra:///<namespace as path>/<flowId>/executions/<executionId>/inputs/doc/<filename>``, the
address Kestra gives it too, so flows that pass ``{{ inputs.doc }}`` along keep working. The
bytes are written in the transaction that creates the execution: an invalid create stores none.
A file sent with a resume for an ``onResume`` FILE input is kept the same way, under
``<execution>/<taskRunId>/resume/<input>/<filename>``, written in the resume's transaction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from perch.engine.executor import reading
from perch.engine.model import Execution
from perch.engine.ports import Store
from perch.errors import InputProblem, InputValidationError, NotFound
from perch.flows import Flow
from perch.inputs import InputBase, InputType

SCHEME = "kestra:///"
MAX_FILENAME = 255

# Path separators and control characters never reach a URI: a filename names one file.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\]")


@dataclass(frozen=True, slots=True)
class Upload:
    """A file sent for an input: the name the client gave it, and its bytes."""

    filename: str
    content: bytes


def execution_prefix(namespace: str, flow_id: str, execution_id: str) -> str:
    """The URI under which every file of one execution lives (ends with ``/``)."""
    return f"{SCHEME}{namespace.replace('.', '/')}/{flow_id}/executions/{execution_id}/"


def file_uris(flow: Flow, uploads: Mapping[str, Upload], execution_id: str) -> dict[str, str]:
    """The URI each upload gets, by input id. Raises :class:`InputValidationError` naming each
    upload sent for an input that is not a FILE input, or whose filename is unusable."""
    prefix = execution_prefix(flow.namespace, flow.id, execution_id)
    return upload_uris(flow.inputs or [], uploads, f"{prefix}inputs/")


def resume_uris(
    declarations: Sequence[InputBase],
    uploads: Mapping[str, Upload],
    execution: Execution,
    task_run_id: str,
) -> dict[str, str]:
    """:func:`file_uris` for the ``onResume`` inputs of the paused task run ``task_run_id``:
    ``<execution prefix><taskRunId>/resume/<input>/<filename>``."""
    prefix = execution_prefix(execution.namespace, execution.flow_id, execution.id)
    return upload_uris(declarations, uploads, f"{prefix}{task_run_id}/resume/")


def upload_uris(
    declarations: Sequence[InputBase], uploads: Mapping[str, Upload], prefix: str
) -> dict[str, str]:
    """The URI ``<prefix><input>/<filename>`` each upload gets, by input id (see
    :func:`file_uris`)."""
    declared = {d.id: d for d in declarations}
    problems: list[InputProblem] = []
    uris: dict[str, str] = {}
    for input_id, upload in uploads.items():
        declaration = declared.get(input_id)
        if declaration is None:
            continue  # as any value for an undeclared input: ignored
        if declaration.input_type is not InputType.FILE:
            problems.append(
                InputProblem(input_id, f"a file was sent, but `{input_id}` is not a FILE input")
            )
            continue
        name = _filename(upload.filename)
        if name is None:
            problems.append(InputProblem(input_id, "the file has no usable name"))
            continue
        uris[input_id] = f"{prefix}{input_id}/{name}"
    if problems:
        raise InputValidationError(problems)
    return uris


def _filename(given: str) -> str | None:
    # Browsers on Windows may send a full path; keep its last part only.
    name = re.split(r"[/\\]", given)[-1].strip()
    name = _UNSAFE.sub("_", name)
    if not name or name in (".", "..") or len(name) > MAX_FILENAME:
        return None
    return name


def read_file(store: Store, execution: Execution, uri: str) -> bytes:
    """The bytes of one of the execution's files; :class:`NotFound` for any other URI."""
    prefix = execution_prefix(execution.namespace, execution.flow_id, execution.id)
    if not uri.startswith(prefix):
        raise NotFound(f"File '{uri}' not found in execution '{execution.id}'")
    with reading(store) as tx:
        content = tx.get_file(uri)
    if content is None:
        raise NotFound(f"File '{uri}' not found in execution '{execution.id}'")
    return content
