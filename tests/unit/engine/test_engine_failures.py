"""Failures and what handles them: errors, finally, allowFailure, runIf, disabled, retry,
timeout, Fail, and flow outputs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from engine_harness import ALICE, Harness, run_states

from perch.engine.events import Resume, TaskResult, TaskStarted
from perch.engine.states import StateType
from perch.errors import StaleResult
from perch.tasks import TaskOutcome

LOG = "io.kestra.plugin.core.log.Log"
RETURN = "io.kestra.plugin.core.debug.Return"
FAIL = "io.kestra.plugin.core.execution.Fail"

GLOBAL_ERRORS = f"""
id: global-errors
namespace: company.team
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: ok
        type: {RETURN}
        format: ok
      - id: boom
        type: {FAIL}
        errorMessage: "broken {{{{ outputs.ok.value }}}}"
      - id: skipped
        type: {RETURN}
        format: never
errors:
  - id: e1
    type: {RETURN}
    format: e1
  - id: e2
    type: {RETURN}
    format: e2
finally:
  - id: f1
    type: {LOG}
    message: finally
"""

LOCAL_ERRORS = f"""
id: local-errors
namespace: company.team
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: boom
        type: {FAIL}
    errors:
      - id: local
        type: {RETURN}
        format: local
  - id: after
    type: {RETURN}
    format: never
errors:
  - id: global
    type: {RETURN}
    format: global
"""

ALLOW = f"""
id: allow
namespace: company.team
tasks:
  - id: wrapper
    type: io.kestra.plugin.core.flow.AllowFailure
    tasks:
      - id: boom
        type: {FAIL}
  - id: tolerated
    type: {FAIL}
    allowFailure: true
  - id: after
    type: {RETURN}
    format: after
"""

RUN_IF = f"""
id: run-if
namespace: company.team
tasks:
  - id: values
    type: io.kestra.plugin.core.output.OutputValues
    values:
      go: true
  - id: executed
    type: {LOG}
    message: yes
    runIf: "{{{{ outputs.values['values'].go }}}}"
  - id: notexecuted
    type: {LOG}
    message: no
    runIf: "{{{{ not outputs.values['values'].go }}}}"
  - id: broken
    type: {LOG}
    message: never
    runIf: "{{{{ nothing.here }}}}"
  - id: unreachable
    type: {LOG}
    message: never
"""

DISABLED = f"""
id: disabled
namespace: company.team
tasks:
  - id: one
    type: {LOG}
    message: one
  - id: two
    type: {LOG}
    message: two
    disabled: true
  - id: three
    type: {LOG}
    message: three
"""

RETRY = f"""
id: retry
namespace: company.team
tasks:
  - id: constant
    type: {RETURN}
    format: x
    retry:
      type: constant
      interval: PT10S
      maxAttempts: 3
  - id: exponential
    type: {RETURN}
    format: y
    retry:
      type: exponential
      interval: PT1S
      maxInterval: PT3S
      maxAttempts: 4
      warningOnRetry: true
"""

TIMEOUT = f"""
id: task-timeout
namespace: company.team
tasks:
  - id: slow
    type: {RETURN}
    format: slow
    timeout: PT5S
"""

FAIL_ON_CONDITION = f"""
id: fail-on-condition
namespace: company.team
inputs:
  - id: param
    type: STRING
tasks:
  - id: before
    type: {LOG}
    message: before
  - id: fail
    type: {FAIL}
    condition: "{{{{ inputs.param == 'fail' }}}}"
  - id: after
    type: {LOG}
    message: after
"""

OUTPUTS = f"""
id: outputs
namespace: company.team
inputs:
  - id: broken
    type: BOOLEAN
    defaults: false
tasks:
  - id: hello
    type: {RETURN}
    format: world
outputs:
  - id: greeting
    type: STRING
    value: "{{{{ inputs.broken ? missing.variable : outputs.hello.value }}}}"
"""

SLEEP = """
id: sleep
namespace: company.team
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: awake
"""


@pytest.fixture
def h() -> Harness:
    return Harness(
        [
            GLOBAL_ERRORS,
            LOCAL_ERRORS,
            ALLOW,
            RUN_IF,
            DISABLED,
            RETRY,
            TIMEOUT,
            FAIL_ON_CONDITION,
            OUTPUTS,
            SLEEP,
        ]
    )


def failing(error: str = "boom") -> TaskOutcome:
    return TaskOutcome(StateType.FAILED, error=error)


def test_global_errors_and_finally(h: Harness) -> None:
    done = h.start("global-errors")
    assert done.state.current is StateType.FAILED
    assert [r.task_id for r in done.task_runs] == ["seq", "ok", "boom", "e1", "e2", "f1"]
    assert h.log_messages(done.id, "boom") == ["broken ok"]
    assert h.run_of(done.id, "seq").state.current is StateType.FAILED


def test_local_errors_run_instead_of_global_ones(h: Harness) -> None:
    done = h.start("local-errors")
    assert done.state.current is StateType.FAILED
    assert [r.task_id for r in done.task_runs] == ["seq", "boom", "local", "global"]


def test_allow_failure_turns_failures_into_warnings(h: Harness) -> None:
    done = h.start("allow")
    assert done.state.current is StateType.WARNING
    assert h.run_of(done.id, "wrapper").state.current is StateType.WARNING
    assert h.run_of(done.id, "boom").state.current is StateType.FAILED
    assert h.run_of(done.id, "tolerated").state.current is StateType.WARNING
    assert h.run_of(done.id, "after").state.current is StateType.SUCCESS


def test_run_if_skips_and_a_broken_condition_fails(h: Harness) -> None:
    done = h.start("run-if")
    assert done.state.current is StateType.FAILED
    assert len(done.task_runs) == 4
    assert h.run_of(done.id, "executed").state.current is StateType.SUCCESS
    skipped = h.run_of(done.id, "notexecuted")
    assert run_states(skipped) == ["CREATED", "SKIPPED"]
    assert h.run_of(done.id, "broken").state.current is StateType.FAILED


def test_disabled_tasks_have_no_task_run(h: Harness) -> None:
    done = h.start("disabled")
    assert done.state.current is StateType.SUCCESS
    assert [r.task_id for r in done.task_runs] == ["one", "three"]


def test_constant_retry_until_success(h: Harness) -> None:
    h.outcomes["constant"] = lambda attempt: failing() if attempt < 3 else None
    started = h.start("retry")
    run = h.run_of(started.id, "constant")
    assert run.state.current is StateType.RETRYING
    assert [t.timer.due - h.clock.now() for t in h.timers] == [timedelta(seconds=10)]
    h.advance(timedelta(seconds=10))
    h.advance(timedelta(seconds=10))
    run = h.run_of(started.id, "constant")
    assert run.state.current is StateType.SUCCESS
    assert [a.state.current for a in run.attempts] == [
        StateType.FAILED,
        StateType.FAILED,
        StateType.SUCCESS,
    ]
    assert h.get(started.id).state.current is StateType.SUCCESS


def test_a_retry_falling_due_during_a_manual_pause_waits_for_the_resume(h: Harness) -> None:
    h.outcomes["constant"] = lambda attempt: failing() if attempt < 2 else None
    started = h.start("retry")
    assert h.run_of(started.id, "constant").state.current is StateType.RETRYING
    h.pause(started.id)
    h.advance(timedelta(seconds=30))  # the retry timer fires while paused by hand
    paused = h.get(started.id)
    assert paused.state.current is StateType.PAUSED
    run = h.run_of(started.id, "constant")
    assert run.state.current is StateType.RETRYING
    assert len(run.attempts) == 1
    assert not h.jobs
    h.apply(started.id, Resume(ALICE))
    h.run()
    run = h.run_of(started.id, "constant")
    assert [a.state.current for a in run.attempts] == [StateType.FAILED, StateType.SUCCESS]
    assert h.get(started.id).state.current is StateType.SUCCESS
    assert "dueRetries" not in h.get(started.id).metadata


def test_a_kill_during_a_manual_pause_drops_the_due_retries(h: Harness) -> None:
    h.outcomes["constant"] = lambda attempt: failing()
    started = h.start("retry")
    h.pause(started.id)
    h.advance(timedelta(seconds=30))
    killed = h.kill(started.id)
    assert killed.state.current is StateType.KILLED
    assert "dueRetries" not in killed.metadata
    assert not h.jobs


def test_constant_retry_gives_up_after_max_attempts(h: Harness) -> None:
    h.outcomes["constant"] = lambda attempt: failing()
    started = h.start("retry")
    h.advance(timedelta(minutes=5))
    run = h.run_of(started.id, "constant")
    assert len(run.attempts) == 3
    assert run.state.current is StateType.FAILED
    assert h.get(started.id).state.current is StateType.FAILED


def test_exponential_retry_delays_grow_up_to_the_maximum(h: Harness) -> None:
    h.outcomes["exponential"] = lambda attempt: failing() if attempt < 4 else None
    started = h.start("retry")
    delays = []
    while h.timers:
        delay = h.timers[0].timer.due - h.clock.now()
        delays.append(delay)
        h.advance(delay)
    assert delays == [timedelta(seconds=1), timedelta(seconds=2), timedelta(seconds=3)]
    run = h.run_of(started.id, "exponential")
    assert run.state.current is StateType.WARNING  # warningOnRetry
    assert h.get(started.id).state.current is StateType.WARNING


def test_task_timeout_fails_the_attempt_and_a_late_result_is_stale(h: Harness) -> None:
    h.auto_work = False
    started = h.start("task-timeout")
    # The worker starts the job and then hangs: it never reports.
    execution_id, job = h.jobs.popleft()
    h.apply(execution_id, TaskStarted(job.task_run_id, job.attempt, "w"))
    assert [t.timer.action for t in h.timers] == ["TASK_TIMEOUT"]
    h.advance(timedelta(seconds=5))
    done = h.get(started.id)
    assert done.state.current is StateType.FAILED
    assert any("timed out after PT5S" in m for m in h.log_messages(done.id, "slow"))
    with pytest.raises(StaleResult):
        h.apply(execution_id, TaskResult(job.task_run_id, job.attempt, StateType.SUCCESS))


@pytest.mark.parametrize(("param", "count", "final"), [("fail", 2, "FAILED"), ("ok", 3, "SUCCESS")])
def test_fail_on_condition(h: Harness, param: str, count: int, final: str) -> None:
    done = h.start("fail-on-condition", {"param": param})
    assert done.state.current.value == final
    assert len(done.task_runs) == count


def test_flow_outputs_are_rendered_at_the_end(h: Harness) -> None:
    done = h.start("outputs")
    assert done.state.current is StateType.SUCCESS
    assert done.outputs == {"greeting": "world"}


def test_a_flow_output_that_fails_to_render_fails_the_execution(h: Harness) -> None:
    done = h.start("outputs", {"broken": True})
    assert done.state.current is StateType.FAILED
    assert done.outputs is None


def test_sleep_is_a_timer_not_a_worker(h: Harness) -> None:
    started = h.start("sleep")
    assert not h.jobs
    assert h.run_of(started.id, "nap").state.current is StateType.RUNNING
    h.advance(timedelta(seconds=29))
    assert h.get(started.id).state.current is StateType.RUNNING
    h.advance(timedelta(seconds=1))
    assert h.get(started.id).state.current is StateType.SUCCESS


def test_a_result_for_an_old_attempt_is_stale(h: Harness) -> None:
    h.outcomes["constant"] = lambda attempt: failing() if attempt < 2 else None
    started = h.start("retry")
    run = h.run_of(started.id, "constant")
    with pytest.raises(StaleResult):
        h.apply(started.id, TaskResult(run.id, 1, StateType.SUCCESS))


def test_a_reclaimed_job_is_a_new_attempt_and_the_old_result_is_stale(h: Harness) -> None:
    h.auto_work = False
    started = h.start("task-timeout")
    _, job = h.jobs.popleft()
    h.apply(started.id, TaskStarted(job.task_run_id, 1, "lost-worker"))
    # The lease ended: another worker claims the job again, as attempt 2.
    h.apply(started.id, TaskStarted(job.task_run_id, 2, "new-worker"))
    run = h.run_of(started.id, "slow")
    assert [(a.state.current, a.worker_id) for a in run.attempts] == [
        (StateType.FAILED, "lost-worker"),
        (StateType.RUNNING, "new-worker"),
    ]
    with pytest.raises(StaleResult):
        h.apply(started.id, TaskResult(job.task_run_id, 1, StateType.SUCCESS))
    h.apply(started.id, TaskResult(job.task_run_id, 2, StateType.SUCCESS, {"value": "ok"}))
    assert h.get(started.id).state.current is StateType.SUCCESS


def test_a_flow_level_retry_applies_to_tasks_without_their_own() -> None:
    h = Harness(
        [
            f"""
id: flow-retry
namespace: company.team
retry:
  type: constant
  interval: PT2S
  maxAttempts: 2
tasks:
  - id: flaky
    type: {RETURN}
    format: flaky
"""
        ]
    )
    h.outcomes["flaky"] = lambda attempt: failing() if attempt == 1 else None
    started = h.start("flow-retry")
    assert h.run_of(started.id, "flaky").state.current is StateType.RETRYING
    h.advance(timedelta(seconds=2))
    assert h.get(started.id).state.current is StateType.SUCCESS
    assert len(h.run_of(started.id, "flaky").attempts) == 2


def test_a_task_run_that_loses_its_worker_at_every_start_is_failed_not_retried_forever(
    h: Harness,
) -> None:
    h.auto_work = False
    started = h.start("task-timeout")
    _, job = h.jobs.popleft()
    h.apply(started.id, TaskStarted(job.task_run_id, 1, "w1"))
    # The server dies while the attempt runs, every time: each claim after a restart is the
    # next attempt, and the earlier one is lost.
    h.apply(started.id, TaskStarted(job.task_run_id, 2, "w2"))
    h.apply(started.id, TaskStarted(job.task_run_id, 3, "w3"))
    after = h.apply(started.id, TaskStarted(job.task_run_id, 4, "w4"))
    run = h.run_of(started.id, "slow")
    assert run.state.current is StateType.FAILED
    assert len(run.attempts) == 3
    assert after.state.current is StateType.FAILED
    assert any("lost its worker 3 times" in m for m in h.log_messages(started.id, "slow"))
