"""The file hooks a running task reads and writes ``kestra:///`` files through: its own
execution's files, files of another execution of the same namespace, never one of another
namespace; writes land under the task run, and a second attempt replaces the first's file."""

from __future__ import annotations

import pytest
from tests.api.conftest import Api, state_is

from perch.engine.context import context_for
from perch.engine.filehooks import MAX_FILE_BYTES, READ, WRITE
from perch.errors import NotFound, TaskFileError

FLOW = """\
id: {flow_id}
namespace: {namespace}
inputs:
  - id: doc
    type: FILE
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
"""


def _started(api: Api, namespace: str, flow_id: str, content: bytes) -> tuple[str, str]:
    api.deploy(FLOW.format(flow_id=flow_id, namespace=namespace))
    answer = api.client.post(
        f"/api/v1/main/executions/{namespace}/{flow_id}",
        files=[("doc", ("doc.txt", content, "text/plain"))],
    )
    assert answer.status_code == 200, answer.text
    execution_id: str = answer.json()["id"]
    paused = api.wait(execution_id, state_is("PAUSED"))
    uri: str = paused["inputs"]["doc"]
    return execution_id, uri


def test_a_task_reads_files_of_its_namespace_and_writes_under_its_task_run(api: Api) -> None:
    own_id, own_uri = _started(api, "company.team", "first", b"first bytes")
    sibling_id, sibling_uri = _started(api, "company.team", "second", b"second bytes")
    _, foreign_uri = _started(api, "company.other", "third", b"other bytes")
    ctx = context_for(api.store)
    with api.store.transaction() as tx:
        execution = tx.get_execution(own_id)
    assert execution is not None
    hooks = ctx.hooks_for(execution)
    assert hooks[READ](own_uri, own_id) == b"first bytes"
    assert hooks[READ](sibling_uri, own_id) == b"second bytes"
    with pytest.raises(NotFound, match="not found"):
        hooks[READ](foreign_uri, own_id)
    with pytest.raises(TaskFileError, match="not a kestra:/// file URI"):
        hooks[READ]("/etc/passwd", own_id)

    uri = hooks[WRITE](own_id, "run1", "out/result.txt", b"v1")
    assert uri.endswith(f"/executions/{own_id}/run1/out/result.txt")
    assert hooks[WRITE](own_id, "run1", "out/result.txt", b"v2") == uri
    assert hooks[READ](uri, own_id) == b"v2"
    with pytest.raises(TaskFileError, match="not a usable file name"):
        hooks[WRITE](own_id, "run1", "../escape.txt", b"x")
    with pytest.raises(TaskFileError, match="over the limit"):
        hooks[WRITE](own_id, "run1", "big.bin", b"x" * (MAX_FILE_BYTES + 1))
    with pytest.raises(TaskFileError, match="is not this task's"):
        hooks[WRITE](sibling_id + "x", "run1", "a.txt", b"x")
