"""Engine semantics as Kestra's: nulls in ForEach values, flow-level ``errors`` branches, and
retries of failing tasks (``Fail`` included) with and without ``allowFailure``."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.conformance.conftest import history, messages, only_run, run, runs_of

NS = "conf.semantics"

# Kestra's flows/valids/each-null.yaml (EachSequentialTest.eachNull)
EACH_NULL = f"""\
id: each-null
namespace: {NS}
tasks:
  - id: 1_each
    type: io.kestra.plugin.core.flow.ForEach
    values: '[1, null, {{"key": "my-key", "value": "my-value"}}, null]'
    tasks:
      - id: 1-1
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ task.id }}}} > {{{{ taskrun.value }}}}"
  - id: 2_end
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ task.id }}}}"
"""

# Kestra's flows/valids/errors.yaml (JdbcRunnerTest.errors), with a failing task added to the
# errors branch: the branch goes on past it, as Kestra's does.
ERRORS = f"""\
id: errors
namespace: {NS}
tasks:
  - id: failed
    type: io.kestra.plugin.core.execution.Fail
errors:
  - id: t2
    type: io.kestra.plugin.core.log.Log
    message: |
      {{%- for log in errorLogs() -%}}
      - task: {{{{ log.taskId }}}}, message: {{{{ log.message }}}}
      {{%- endfor -%}}
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: the errors branch fails too
  - id: t3
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: t3-t1
        type: io.kestra.plugin.core.flow.Parallel
        tasks:
          - id: t3-t1-t1
            type: io.kestra.plugin.core.flow.Parallel
            tasks:
              - id: t3-t1-t1-t1
                type: io.kestra.plugin.core.flow.Parallel
                tasks:
                  - id: t3-t1-t1-t1-last
                    type: io.kestra.plugin.core.log.Log
                    message: "t3-t1-t1-t1-last : {{{{ task.id }}}}"
"""

# Kestra's flows/valids/retry-fail.yaml (RetryCaseTest.retryFail), with a shorter interval
RETRY_FAIL = f"""\
id: retry-and-fail
namespace: {NS}
tasks:
  - id: keepFailingWithRetry
    type: io.kestra.plugin.core.execution.Fail
    retry:
      type: constant
      maxAttempt: 3
      interval: PT0.1S
  - id: thisTaskShouldNotBeExecuted
    type: io.kestra.plugin.core.log.Log
    message: "The previous task should fail"
errors:
  - id: error
    type: io.kestra.plugin.core.log.Log
    message: once
"""

# AllowFailureTest's allow-failure.yaml pattern around RetryCaseTest's retried failure: every
# attempt is recorded and the failure becomes a WARNING.
RETRY_ALLOWED = f"""\
id: retry-allowed
namespace: {NS}
tasks:
  - id: allowed
    type: io.kestra.plugin.core.flow.AllowFailure
    tasks:
      - id: ko
        type: io.kestra.plugin.core.execution.Fail
        retry:
          type: constant
          maxAttempts: 3
          interval: PT0.1S
  - id: task-level
    type: io.kestra.plugin.core.log.Log
    allowFailure: true
    message: "{{{{ taskrun.attemptsCount == 9 ? 'ok' : ko }}}}"
    retry:
      type: constant
      maxAttempts: 3
      interval: PT0.1S
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: done
"""


@pytest.fixture(scope="module")
def deployed(kapi: Api) -> Api:
    for source in (EACH_NULL, ERRORS, RETRY_FAIL, RETRY_ALLOWED):
        kapi.deploy(source)
    return kapi


def test_null_values_fail_the_foreach(deployed: Api) -> None:
    done = run(deployed, NS, "each-null")
    assert done["state"]["current"] == "FAILED"
    [each] = done["taskRunList"]
    assert each["taskId"] == "1_each"
    assert each["state"]["current"] == "FAILED"
    assert messages(deployed, done["id"], "1_each") == [
        'ForEach values hold 2 null values: [1, null, {"key": "my-key", "value": "my-value"}, null]'
    ]


def test_a_flow_errors_branch_runs_every_task(deployed: Api) -> None:
    done = run(deployed, NS, "errors")
    assert done["state"]["current"] == "FAILED"
    assert len(done["taskRunList"]) == 8
    assert only_run(done, "boom")["state"]["current"] == "FAILED"
    for task_id in ("t2", "t3", "t3-t1", "t3-t1-t1", "t3-t1-t1-t1", "t3-t1-t1-t1-last"):
        assert only_run(done, task_id)["state"]["current"] == "SUCCESS", task_id
    assert messages(deployed, done["id"], "t2") == ["- task: failed, message: Task failure"]
    assert messages(deployed, done["id"], "t3-t1-t1-t1-last") == [
        "t3-t1-t1-t1-last : t3-t1-t1-t1-last"
    ]


def test_a_retried_fail_records_every_attempt(deployed: Api) -> None:
    done = run(deployed, NS, "retry-and-fail")
    assert done["state"]["current"] == "FAILED"
    assert [r["taskId"] for r in done["taskRunList"]] == ["keepFailingWithRetry", "error"]
    failing = only_run(done, "keepFailingWithRetry")
    assert [a["state"]["current"] for a in failing["attempts"]] == ["FAILED"] * 3
    assert history(failing) == [
        "CREATED",
        *["RUNNING", "RETRYING"] * 2,
        "RUNNING",
        "FAILED",
    ]
    assert messages(deployed, done["id"], "keepFailingWithRetry") == ["Task failure"] * 3


def test_retries_under_allow_failure_end_warning(deployed: Api) -> None:
    done = run(deployed, NS, "retry-allowed")
    assert done["state"]["current"] == "WARNING"
    ko = only_run(done, "ko")
    assert ko["state"]["current"] == "FAILED"
    assert [a["state"]["current"] for a in ko["attempts"]] == ["FAILED"] * 3
    assert only_run(done, "allowed")["state"]["current"] == "WARNING"
    task_level = only_run(done, "task-level")
    assert task_level["state"]["current"] == "WARNING"
    assert [a["state"]["current"] for a in task_level["attempts"]] == ["FAILED"] * 3
    assert only_run(done, "last")["state"]["current"] == "SUCCESS"
    assert runs_of(done, "error") == []
