"""Pause as Kestra's: a ``timeout`` fails the Pause once (its ``tasks`` never run, its
``errors`` and ``finally`` do), and a FILE ``onResume`` input reads back in later tasks."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api, state_is
from tests.api.hitl import paused
from tests.conformance.conftest import ENDED, history, messages, only_run, run, runs_of

NS = "conf.pause"

# Kestra's flows/valids/pause-timeout.yaml (PauseTest.runTimeout), with a shorter timeout
PAUSE_TIMEOUT = f"""\
id: pause-timeout
namespace: {NS}
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    timeout: PT0.3S
    tasks:
      - id: ko
        type: io.kestra.plugin.core.log.Log
        message: "trigger 1 seconds pause"
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ task.id }}}}"
"""

# Kestra 1.x's pause-timeout-allow-failure.yaml (PauseTest.runTimeoutAllowFailure)
PAUSE_TIMEOUT_ALLOWED = f"""\
id: pause-timeout-allow-failure
namespace: {NS}
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    timeout: PT0.3S
    allowFailure: true
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ task.id }}}}"
"""

# Kestra 1.x's pause-errors-finally-after-execution.yaml (PauseTest)
PAUSE_ERRORS = f"""\
id: pause-errors-finally-after-execution
namespace: {NS}
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    timeout: PT0.3S
    errors:
      - id: logError
        type: io.kestra.plugin.core.log.Log
        message: the pause failed
    finally:
      - id: logFinally
        type: io.kestra.plugin.core.log.Log
        message: finally
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: never
afterExecution:
  - id: logAfter
    type: io.kestra.plugin.core.log.Log
    message: after
"""

# Kestra's flows/valids/pause_on_resume.yaml (PauseTest.runOnResume), plus a read() of the file
PAUSE_ON_RESUME = f"""\
id: pause_on_resume
namespace: {NS}
tasks:
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: asked
        type: STRING
      - id: data
        type: FILE
        required: false
  - id: last
    type: io.kestra.plugin.core.output.OutputValues
    values:
      asked: "{{{{ outputs.pause.onResume.asked }}}}"
      data: "{{{{ outputs.pause.onResume.data }}}}"
  - id: content
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ read(outputs.pause.onResume.data) }}}}"
"""


@pytest.fixture(scope="module")
def deployed(kapi: Api) -> Api:
    for source in (PAUSE_TIMEOUT, PAUSE_TIMEOUT_ALLOWED, PAUSE_ERRORS, PAUSE_ON_RESUME):
        kapi.deploy(source)
    return kapi


def test_a_timeout_fails_the_pause_once_without_its_tasks(deployed: Api) -> None:
    done = run(deployed, NS, "pause-timeout")
    assert done["state"]["current"] == "FAILED"
    [pause] = done["taskRunList"]
    assert history(pause) == ["CREATED", "RUNNING", "PAUSED", "FAILED"]
    assert pause["outputs"]["resumed"]["to"] == "FAILED"
    assert pause["outputs"]["resumed"]["by"] is None
    assert messages(deployed, done["id"], "ko") == []
    # As Kestra's markAs: the execution went on (RESTARTED) to end FAILED.
    assert [h["state"] for h in done["state"]["histories"]] == [
        "CREATED",
        "RUNNING",
        "PAUSED",
        "RESTARTED",
        "RUNNING",
        "FAILED",
    ]


def test_a_timeout_with_allow_failure_ends_warning(deployed: Api) -> None:
    done = run(deployed, NS, "pause-timeout-allow-failure")
    assert done["state"]["current"] == "WARNING"
    assert len(done["taskRunList"]) == 2
    assert history(only_run(done, "pause")) == ["CREATED", "RUNNING", "PAUSED", "WARNING"]
    assert only_run(done, "last")["state"]["current"] == "SUCCESS"


def test_a_timeout_runs_the_pause_errors_and_finally(deployed: Api) -> None:
    done = run(deployed, NS, "pause-errors-finally-after-execution")
    assert done["state"]["current"] == "FAILED"
    assert len(done["taskRunList"]) == 4
    pause = only_run(done, "pause")
    assert history(pause) == ["CREATED", "RUNNING", "PAUSED", "RUNNING", "FAILED"]
    for task_id in ("logError", "logFinally", "logAfter"):
        assert only_run(done, task_id)["state"]["current"] == "SUCCESS", task_id
    assert runs_of(done, "log") == []


def test_a_file_given_at_resume_is_read_by_a_later_task(deployed: Api) -> None:
    [execution_id] = paused(deployed, NS, "pause_on_resume")
    # The legacy encoding of ExecutionControllerTest: a `files` part named after the input.
    resumed = deployed.client.post(
        f"/api/v1/main/executions/{execution_id}/resume",
        data={"asked": "restarted"},
        files=[("files", ("data", execution_id.encode(), "text/plain"))],
    )
    assert resumed.status_code == 204, resumed.text
    done = deployed.wait(execution_id, state_is(*ENDED))
    assert done["state"]["current"] == "SUCCESS"
    values = only_run(done, "last")["outputs"]["values"]
    assert values["asked"] == "restarted"
    assert values["data"].startswith("kestra://")
    assert messages(deployed, execution_id, "content") == [execution_id]
    assert history(only_run(done, "pause")) == ["CREATED", "RUNNING", "PAUSED", "SUCCESS"]
