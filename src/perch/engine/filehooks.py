"""The files a running task reads and writes: FILE inputs, files sent with a resume, and the
files tasks produce (a script's ``outputFiles``), all in the store under ``kestra:///`` URIs.

The engine offers them to tasks as hooks of the execution's scope
(:meth:`perch.engine.context.EngineContext.hooks_for`), named ``files:read`` and
``files:write``, names no template function can call. A task reads a file of its own
execution, or of another execution of the same tenant and namespace (a subflow's outputs); it
writes under its own task run: ``<execution prefix><taskRunId>/<name>``. Each call is one short
transaction of its own.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from perch.engine.model import Execution
from perch.engine.ports import Store, Transaction
from perch.errors import NotFound, TaskFileError

READ: str = "files:read"
WRITE: str = "files:write"

SCHEME = "kestra:///"
MAX_FILE_BYTES = 64 * 1024 * 1024
"""The largest file a task may write (the store keeps the bytes in the database)."""

_NAME = re.compile(r"^[^\x00-\x1f\x7f\\]{1,255}$")


def prefix_of(namespace: str, flow_id: str, execution_id: str) -> str:
    """The URI under which every file of one execution lives (ends with ``/``)."""
    return f"{SCHEME}{namespace.replace('.', '/')}/{flow_id}/executions/{execution_id}/"


def _clean_name(name: str) -> str:
    parts = [part for part in name.split("/") if part not in ("", ".")]
    if not parts or ".." in parts or not all(_NAME.match(part) for part in parts):
        raise TaskFileError(f"'{name}' is not a usable file name")
    return "/".join(parts)


def file_hooks(store: Store) -> Callable[[str, str], Mapping[str, Callable[..., Any]]]:
    """The file hooks of executions of ``(tenant, namespace)`` on ``store``."""
    held = weakref.ref(store)

    def current() -> Store:
        found = held()
        if found is None:
            raise TaskFileError("The file store is closed")
        return found

    def scoped(tenant: str, namespace: str) -> Mapping[str, Callable[..., Any]]:
        def read(uri: str, execution_id: str) -> bytes:
            if not isinstance(uri, str) or not uri.startswith(SCHEME):
                raise TaskFileError(f"'{uri}' is not a kestra:/// file URI")
            missing = NotFound(f"File '{uri}' not found")
            # A reading transaction: read() may be called while this thread holds a write one.
            with current().transaction(readonly=True) as tx:  # type: ignore[call-arg]
                content = tx.get_file(uri)
                if content is None:
                    raise missing
                own = current_execution(tx, execution_id)
                if not uri.startswith(prefix_of(own.namespace, own.flow_id, own.id)):
                    owner = tx.file_execution(uri)
                    other = None if owner is None else tx.get_execution(owner)
                    if other is None or (other.tenant, other.namespace) != (tenant, namespace):
                        raise missing
            return content

        def write(execution_id: str, task_run_id: str, name: str, content: bytes) -> str:
            if len(content) > MAX_FILE_BYTES:
                raise TaskFileError(
                    f"File '{name}' is {len(content)} bytes, over the limit of {MAX_FILE_BYTES}"
                )
            clean = _clean_name(name)
            with current().transaction() as tx:
                own = current_execution(tx, execution_id)
                uri = f"{prefix_of(own.namespace, own.flow_id, own.id)}{task_run_id}/{clean}"
                if tx.get_file(uri) is not None:
                    tx.delete_file(uri)  # a new attempt writes its file again
                tx.put_file(uri, own.id, content, datetime.now(UTC))
            return uri

        def current_execution(tx: Transaction, execution_id: str) -> Execution:
            execution = tx.get_execution(execution_id)
            if execution is None or (execution.tenant, execution.namespace) != (tenant, namespace):
                raise TaskFileError(f"Execution '{execution_id}' is not this task's")
            return execution

        return {READ: read, WRITE: write}

    return scoped
