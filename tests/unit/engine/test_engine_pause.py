"""Pause and resume, as Kestra does them (kestra-facts §1.3, §8.1), on the in-memory harness."""

from __future__ import annotations

from datetime import timedelta

import pytest
from engine_harness import ALICE, Harness, run_states, states

from perch.engine import resume_declarations
from perch.engine.effects import CancelTimers
from perch.engine.events import Resume
from perch.engine.states import StateType
from perch.errors import InputValidationError, NotPaused

PAUSE_THEN_RETURN = """
id: approve
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "done by {{ outputs.wait.resumed.by }}"
"""

ON_RESUME = """
id: ask
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: answer
        type: STRING
      - id: note
        type: STRING
        required: false
  - id: last
    type: io.kestra.plugin.core.output.OutputValues
    values:
      answer: "{{ outputs.wait.onResume.answer }}"
      note: "{{ outputs.wait.onResume.note ?? 'MISSING' }}"
"""

BEHAVIOR = """
id: timed
namespace: company.team
inputs:
  - id: behavior
    type: STRING
    defaults: RESUME
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1S
    behavior: "{{ inputs.behavior }}"
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: after
"""

TIMEOUT = """
id: timeout
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    timeout: PT1S
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: after
"""

TIMEOUT_ALLOWED = TIMEOUT.replace("id: timeout", "id: timeout-allowed").replace(
    "    timeout: PT1S", "    timeout: PT1S\n    allowFailure: true"
)

LONG = """
id: long
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1M
    onResume:
      - id: reason
        type: STRING
  - id: last
    type: io.kestra.plugin.core.output.OutputValues
    values:
      reason: "{{ outputs.wait.onResume.reason }}"
"""

ON_PAUSE = """
id: notify
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT0.5S
    onPause:
      id: hello
      type: io.kestra.plugin.core.log.Log
      message: "paused {{ execution.id }}"
"""

ERRORS_FINALLY = """
id: guarded
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    timeout: PT0.25S
    errors:
      - id: on_error
        type: io.kestra.plugin.core.log.Log
        message: pause failed
    finally:
      - id: on_finally
        type: io.kestra.plugin.core.log.Log
        message: pause over
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: not reached
afterExecution:
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "ended {{ execution.state }}"
"""

TWO_PAUSES = """
id: branches
namespace: company.team
tasks:
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: left
        type: io.kestra.plugin.core.flow.Pause
      - id: right
        type: io.kestra.plugin.core.flow.Pause
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: after
"""


@pytest.fixture
def h() -> Harness:
    return Harness(
        [
            PAUSE_THEN_RETURN,
            ON_RESUME,
            BEHAVIOR,
            TIMEOUT,
            TIMEOUT_ALLOWED,
            LONG,
            ON_PAUSE,
            ERRORS_FINALLY,
            TWO_PAUSES,
        ]
    )


def test_pause_then_resume_succeeds_with_kestra_histories(h: Harness) -> None:
    paused = h.start("approve")
    assert paused.state.current is StateType.PAUSED
    assert len(paused.task_runs) == 1
    assert run_states(paused.task_runs[0]) == ["CREATED", "RUNNING", "PAUSED"]

    done = h.resume(paused.id)

    assert states(done) == ["CREATED", "RUNNING", "PAUSED", "RESTARTED", "RUNNING", "SUCCESS"]
    assert len(done.task_runs) == 2
    wait = h.run_of(done.id, "wait")
    assert run_states(wait) == ["CREATED", "RUNNING", "PAUSED", "SUCCESS"]
    assert wait.outputs is not None
    assert wait.outputs["resumed"]["by"] == "alice"
    assert wait.outputs["resumed"]["to"] == "SUCCESS"
    assert "T" in wait.outputs["resumed"]["on"]
    assert wait.outputs["resumed"]["on"].endswith("Z")
    assert h.run_of(done.id, "last").outputs == {"value": "done by alice"}
    assert done.metadata["attemptNumber"] == 2
    assert "Flow restarted" in h.log_messages(done.id)
    assert [a.action for _, a in h.audits if _ == done.id] == ["CREATE", "RESUME"]


def test_resume_of_a_non_paused_execution_is_a_conflict(h: Harness) -> None:
    paused = h.start("approve")
    h.resume(paused.id)
    with pytest.raises(NotPaused, match="is not paused") as caught:
        h.apply(paused.id, Resume(ALICE))
    assert caught.value.resumed_by == "alice"


def test_resume_declarations_of_a_running_execution_raise(h: Harness) -> None:
    done = h.resume(h.start("approve").id)
    with pytest.raises(NotPaused):
        resume_declarations(h.flow_of(done), done)


def test_required_on_resume_input_missing_keeps_it_paused(h: Harness) -> None:
    paused = h.start("ask")
    with pytest.raises(InputValidationError) as caught:
        h.resume(paused.id, {})
    assert [p.input_id for p in caught.value.problems] == ["answer"]
    assert h.get(paused.id).state.current is StateType.PAUSED


def test_optional_on_resume_input_missing_falls_back(h: Harness) -> None:
    done = h.resume(h.start("ask").id, {"answer": "yes"})
    assert done.state.current is StateType.SUCCESS
    values = h.run_of(done.id, "last").outputs
    assert values == {"values": {"answer": "yes", "note": "MISSING"}}
    assert h.run_of(done.id, "wait").outputs["onResume"] == {"answer": "yes", "note": None}  # type: ignore[index]


@pytest.mark.parametrize(
    ("behavior", "final", "count"),
    [
        ("RESUME", StateType.SUCCESS, 2),
        ("WARN", StateType.WARNING, 2),
        ("FAIL", StateType.FAILED, 1),
        ("CANCEL", StateType.CANCELLED, 1),
    ],
)
def test_pause_duration_behaviors(h: Harness, behavior: str, final: StateType, count: int) -> None:
    paused = h.start("timed", {"behavior": behavior})
    assert paused.state.current is StateType.PAUSED
    h.advance(timedelta(milliseconds=999))
    assert h.get(paused.id).state.current is StateType.PAUSED
    h.advance(timedelta(milliseconds=1))
    done = h.get(paused.id)
    assert done.state.current is final
    assert len(done.task_runs) == count
    wait = h.run_of(done.id, "wait")
    assert wait.state.current is final
    assert run_states(wait).count("PAUSED") == 1
    assert wait.outputs is not None
    assert wait.outputs["resumed"] == {"by": None, "on": "2026-01-01T00:00:01Z", "to": final.value}


def test_timeout_fails_the_pause(h: Harness) -> None:
    paused = h.start("timeout")
    h.advance(timedelta(seconds=1))
    done = h.get(paused.id)
    assert done.state.current is StateType.FAILED
    assert len(done.task_runs) == 1
    assert run_states(done.task_runs[0]).count("FAILED") == 1


def test_timeout_with_allow_failure_warns_and_goes_on(h: Harness) -> None:
    paused = h.start("timeout-allowed")
    h.advance(timedelta(seconds=1))
    done = h.get(paused.id)
    assert done.state.current is StateType.WARNING
    assert len(done.task_runs) == 2
    assert h.run_of(done.id, "wait").state.current is StateType.WARNING


def test_kill_of_a_timed_pause_is_immediate_and_final(h: Harness) -> None:
    paused = h.start("long")
    killed = h.kill(paused.id)
    assert killed.state.current is StateType.KILLED
    assert states(killed) == ["CREATED", "RUNNING", "PAUSED", "RESTARTED", "KILLING", "KILLED"]
    assert h.run_of(killed.id, "wait").state.current is StateType.KILLED
    assert not h.timers
    h.advance(timedelta(minutes=5))
    assert h.get(paused.id) == killed
    assert h.runs_of(killed.id, "last") == []


def test_manual_resume_during_a_duration_keeps_the_values_and_cancels_the_timer(
    h: Harness,
) -> None:
    paused = h.start("long")
    timer = h.timers[0].timer
    h.clock.advance(timedelta(seconds=10))
    done = h.resume(paused.id, {"reason": "approved"})
    assert done.state.current is StateType.SUCCESS
    assert len(done.task_runs) == 2
    assert h.run_of(done.id, "last").outputs == {"values": {"reason": "approved"}}
    assert not h.timers
    wait = h.run_of(done.id, "wait")
    assert run_states(wait).count("PAUSED") == 1
    assert run_states(wait).count("RUNNING") == 1
    # Even if the old timer row had survived, firing it changes nothing.
    from perch.engine.events import TimerFired

    after = h.apply(
        done.id, TimerFired(timer.timer_id, timer.task_run_id, timer.action, timer.payload)
    )
    assert after.task_runs == done.task_runs
    assert after.state == done.state


def test_resume_cancels_the_pause_timers_in_the_same_transition(h: Harness) -> None:
    from perch.engine import transition

    paused = h.start("long")
    result = transition(
        h.flow_of(paused), paused, Resume(ALICE, {"reason": "ok"}), now=h.clock.now()
    )
    wait = paused.task_runs[0]
    assert CancelTimers((wait.id,)) in result.effects


def test_on_pause_runs_when_the_pause_begins(h: Harness) -> None:
    paused = h.start("notify")
    assert paused.state.current is StateType.PAUSED
    hello = h.run_of(paused.id, "hello")
    assert hello.state.current is StateType.SUCCESS
    assert h.log_messages(paused.id, "hello") == [f"paused {paused.id}"]
    h.advance(timedelta(milliseconds=500))
    done = h.get(paused.id)
    assert done.state.current is StateType.SUCCESS
    assert len(done.task_runs) == 2
    assert done.task_runs[-1].task_id == "hello"


def test_pause_errors_finally_and_after_execution(h: Harness) -> None:
    paused = h.start("guarded")
    h.advance(timedelta(milliseconds=250))
    done = h.get(paused.id)
    assert done.state.current is StateType.FAILED
    assert sorted(r.task_id for r in done.task_runs) == ["after", "on_error", "on_finally", "wait"]
    assert h.run_of(done.id, "wait").state.current is StateType.FAILED
    for task_id in ("on_error", "on_finally", "after"):
        assert h.run_of(done.id, task_id).state.current is StateType.SUCCESS
    assert h.log_messages(done.id, "after") == ["ended FAILED"]


def test_another_paused_branch_keeps_the_execution_paused(h: Harness) -> None:
    paused = h.start("branches")
    left = h.run_of(paused.id, "left")
    right = h.run_of(paused.id, "right")
    assert paused.state.current is StateType.PAUSED
    h.apply(paused.id, Resume(ALICE, {}, task_run_id=left.id))
    assert h.get(paused.id).state.current is StateType.PAUSED
    h.apply(paused.id, Resume(ALICE, {}, task_run_id=right.id))
    h.run()
    done = h.get(paused.id)
    assert done.state.current is StateType.SUCCESS
    assert len(done.task_runs) == 4


def test_resume_of_a_task_run_that_is_not_paused_is_a_conflict(h: Harness) -> None:
    paused = h.start("branches")
    left = h.run_of(paused.id, "left")
    h.apply(paused.id, Resume(ALICE, {}, task_run_id=left.id))
    with pytest.raises(NotPaused):
        h.apply(paused.id, Resume(ALICE, {}, task_run_id=left.id))


RESTART_PAUSE = """
id: restart-pause
namespace: company.team
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: a
  - id: b
    type: io.kestra.plugin.core.log.Log
    message: b
  - id: hold
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1S
    tasks:
      - id: c
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.attemptsCount == 1 ? 'ok' : undefined_on_first_try }}"
      - id: d
        type: io.kestra.plugin.core.debug.Return
        format: d
"""

FOREACH_PAUSES = """
id: foreach-pauses
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    concurrencyLimit: 2
    tasks:
      - id: hold
        type: io.kestra.plugin.core.flow.Pause
        pauseDuration: PT1S
"""


def test_restart_after_a_failure_inside_a_resumed_pause() -> None:
    h = Harness([RESTART_PAUSE])
    started = h.start("restart-pause")
    h.advance(timedelta(seconds=1))
    failed = h.get(started.id)
    assert failed.state.current is StateType.FAILED
    assert [r.task_id for r in failed.task_runs] == ["a", "b", "hold", "c"]
    h.auto_work = False
    restarted = h.restart(started.id)
    assert restarted.state.current is StateType.RUNNING
    assert len(restarted.task_runs) == 4
    h.auto_work = True
    h.run()
    done = h.get(started.id)
    assert done.state.current is StateType.SUCCESS
    assert len(done.task_runs) == 5
    hold = h.run_of(done.id, "hold")
    assert run_states(hold).count("PAUSED") == 1
    assert len(h.run_of(done.id, "c").attempts) == 2
    assert h.run_of(done.id, "c").outputs == {"value": "ok"}


def test_pauses_inside_a_foreach_with_a_concurrency_limit() -> None:
    h = Harness([FOREACH_PAUSES])
    started = h.start("foreach-pauses")
    assert started.state.current is StateType.PAUSED
    assert len(h.runs_of(started.id, "hold")) == 2
    h.advance(timedelta(seconds=1))
    assert h.get(started.id).state.current is StateType.PAUSED
    h.advance(timedelta(seconds=1))
    done = h.get(started.id)
    assert done.state.current is StateType.SUCCESS
    assert len(done.task_runs) == 4


def test_resume_values_are_data_never_templates(h: Harness) -> None:
    paused = h.start("long")
    done = h.resume(paused.id, {"reason": "{{ execution.id }}"})
    assert h.run_of(done.id, "last").outputs == {"values": {"reason": "{{ execution.id }}"}}
