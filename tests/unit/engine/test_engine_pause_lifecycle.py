"""The rest of kestra-facts §1.3: exact state histories, kill while paused, restart of a paused
execution, who resumed, typed resume values, and pauses in parallel branches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from engine_harness import ALICE, Harness, run_states, states

from perch.engine.events import Kill, Pause, Restart, Resume
from perch.engine.principal import Principal
from perch.engine.states import StateType
from perch.errors import IllegalState, NotPaused, NotRunning

RETURN = "io.kestra.plugin.core.debug.Return"
PAUSE = "io.kestra.plugin.core.flow.Pause"

GATE = f"""
id: gate
namespace: company.team
tasks:
  - id: gate
    type: {PAUSE}
    onResume:
      - id: note
        type: STRING
        required: false
  - id: after
    type: {RETURN}
    format: "by={{{{ outputs.gate.resumed.by ?? 'nobody' }}}} to={{{{ outputs.gate.resumed.to }}}}"
"""

TIMED = f"""
id: timed-gate
namespace: company.team
tasks:
  - id: gate
    type: {PAUSE}
    pauseDuration: PT10M
  - id: after
    type: {RETURN}
    format: "by={{{{ outputs.gate.resumed.by ?? 'nobody' }}}} to={{{{ outputs.gate.resumed.to }}}}"
"""

TYPED = f"""
id: typed-resume
namespace: company.team
tasks:
  - id: form
    type: {PAUSE}
    onResume:
      - id: day
        type: DATE
      - id: at
        type: DATETIME
      - id: count
        type: INT
      - id: ok
        type: BOOLEAN
      - id: within
        type: DURATION
      - id: ratio
        type: FLOAT
  - id: use
    type: io.kestra.plugin.core.output.OutputValues
    values:
      next: "{{{{ outputs.form.onResume.count + 1 }}}}"
      ok: "{{{{ outputs.form.onResume.ok }}}}"
      day: "{{{{ outputs.form.onResume.day }}}}"
"""

BRANCHES = f"""
id: two-approvals
namespace: company.team
tasks:
  - id: fan
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: left
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: left_gate
            type: {PAUSE}
          - id: left_done
            type: {RETURN}
            format: left
      - id: right
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: right_gate
            type: {PAUSE}
          - id: right_done
            type: {RETURN}
            format: right
      - id: busy
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: busy_one
            type: {RETURN}
            format: one
          - id: busy_two
            type: {RETURN}
            format: two
  - id: joined
    type: {RETURN}
    format: joined
"""

SIMPLE = f"""
id: simple
namespace: company.team
tasks:
  - id: one
    type: {RETURN}
    format: one
  - id: two
    type: {RETURN}
    format: two
"""


@pytest.fixture
def h() -> Harness:
    return Harness([GATE, TIMED, TYPED, BRANCHES, SIMPLE])


def test_pause_and_resume_histories_are_exact(h: Harness) -> None:
    paused = h.start("gate")
    assert states(paused) == ["CREATED", "RUNNING", "PAUSED"]
    # Right after the resume transition: RESTARTED then RUNNING, with the restart logged.
    resumed = h.apply(paused.id, Resume(ALICE, {"note": None}))
    assert states(resumed) == ["CREATED", "RUNNING", "PAUSED", "RESTARTED", "RUNNING"]
    h.run()
    done = h.get(paused.id)
    assert states(done) == ["CREATED", "RUNNING", "PAUSED", "RESTARTED", "RUNNING", "SUCCESS"]
    gate = h.run_of(done.id, "gate")
    assert run_states(gate) == ["CREATED", "RUNNING", "PAUSED", "SUCCESS"]
    assert run_states(h.run_of(done.id, "after")) == ["CREATED", "RUNNING", "SUCCESS"]
    assert done.state.end_date == done.state.histories[-1].date
    assert paused.state.end_date == paused.state.histories[-1].date  # paused: has an end date


def test_a_manual_resume_names_the_principal(h: Harness) -> None:
    done = h.resume(h.start("gate").id, {}, principal=Principal("bob"))
    assert h.run_of(done.id, "after").outputs == {"value": "by=bob to=SUCCESS"}
    gate = h.run_of(done.id, "gate")
    assert gate.outputs is not None
    assert gate.outputs["onResume"] == {"note": None}


def test_a_timer_resume_names_nobody(h: Harness) -> None:
    started = h.start("timed-gate")
    h.advance(timedelta(minutes=10))
    done = h.get(started.id)
    assert done.state.current is StateType.SUCCESS
    assert h.run_of(done.id, "after").outputs == {"value": "by=nobody to=SUCCESS"}
    gate = h.run_of(done.id, "gate")
    assert gate.outputs == {
        "onResume": None,
        "resumed": {"by": None, "on": "2026-01-01T00:10:00Z", "to": "SUCCESS"},
    }


def test_kill_of_a_paused_execution(h: Harness) -> None:
    paused = h.start("gate")
    killed = h.apply(paused.id, Kill(Principal("carol")))
    assert states(killed) == ["CREATED", "RUNNING", "PAUSED", "RESTARTED", "KILLING", "KILLED"]
    gate = h.run_of(killed.id, "gate")
    assert run_states(gate) == ["CREATED", "RUNNING", "PAUSED", "KILLED"]
    assert gate.outputs is not None
    assert gate.outputs["resumed"]["to"] == "KILLING"
    assert gate.outputs["resumed"]["by"] == "carol"
    assert h.runs_of(killed.id, "after") == []
    with pytest.raises(NotPaused):
        h.apply(paused.id, Resume(ALICE))


def test_kill_of_a_paused_execution_to_cancelled(h: Harness) -> None:
    paused = h.start("timed-gate")
    done = h.apply(paused.id, Kill(ALICE, StateType.CANCELLED))
    assert states(done) == ["CREATED", "RUNNING", "PAUSED", "RESTARTED", "KILLING", "CANCELLED"]
    assert h.run_of(done.id, "gate").state.current is StateType.KILLED
    assert not h.timers
    h.advance(timedelta(hours=1))
    assert h.get(done.id) == done


def test_manual_pause_of_a_running_execution_then_resume(h: Harness) -> None:
    h.auto_work = False
    started = h.start("simple")
    paused = h.pause(started.id)
    assert states(paused) == ["CREATED", "RUNNING", "PAUSED"]
    assert [r.state.current for r in paused.task_runs] == [StateType.CREATED]
    with pytest.raises(NotRunning):
        h.apply(started.id, Pause(ALICE))
    h.work_one()
    assert [r.task_id for r in h.get(started.id).task_runs] == ["one"]
    h.auto_work = True
    h.resume(started.id)
    done = h.get(started.id)
    assert done.state.current is StateType.SUCCESS
    assert [r.task_id for r in done.task_runs] == ["one", "two"]
    assert states(done) == ["CREATED", "RUNNING", "PAUSED", "RUNNING", "SUCCESS"]


def test_pause_of_a_paused_or_finished_execution_is_refused(h: Harness) -> None:
    paused = h.start("gate")
    with pytest.raises(NotRunning, match="The execution is not running"):
        h.apply(paused.id, Pause(ALICE))
    done = h.resume(paused.id)
    with pytest.raises(NotRunning):
        h.apply(done.id, Pause(ALICE))


def test_restart_of_a_paused_execution_lets_the_pause_go_on(h: Harness) -> None:
    paused = h.start("timed-gate")
    assert len(h.timers) == 1
    done = h.restart(paused.id)
    assert done.state.current is StateType.SUCCESS
    assert states(done) == ["CREATED", "RUNNING", "PAUSED", "RESTARTED", "RUNNING", "SUCCESS"]
    gate = h.run_of(done.id, "gate")
    assert run_states(gate) == ["CREATED", "RUNNING", "PAUSED", "RUNNING", "SUCCESS"]
    assert len(done.task_runs) == 2
    assert not h.timers
    assert done.metadata["attemptNumber"] == 2
    assert h.run_of(done.id, "after").outputs == {"value": "by=alice to=SUCCESS"}


def test_restart_of_a_manually_paused_execution_has_nothing_to_restart(h: Harness) -> None:
    h.auto_work = False
    started = h.start("simple")
    h.pause(started.id)
    with pytest.raises(IllegalState, match="No task run to restart"):
        h.apply(started.id, Restart(ALICE))


def test_resume_values_are_typed_and_stored_as_json(h: Harness) -> None:
    paused = h.start("typed-resume")
    done = h.resume(
        paused.id,
        {
            "day": "2026-03-04",
            "at": "2026-03-04T10:15:00+02:00",
            "count": "41",
            "ok": "true",
            "within": "PT90M",
            "ratio": "0.5",
        },
    )
    assert done.state.current is StateType.SUCCESS
    form = h.run_of(done.id, "form")
    assert form.outputs is not None
    assert form.outputs["onResume"] == {
        "day": "2026-03-04",
        "at": "2026-03-04T08:15:00Z",
        "count": 41,
        "ok": True,
        "within": "PT1H30M",
        "ratio": 0.5,
    }
    assert h.run_of(done.id, "use").outputs == {
        "values": {"next": 42, "ok": True, "day": "2026-03-04"}
    }


def test_two_paused_branches_keep_the_execution_paused_until_both_resume(h: Harness) -> None:
    paused = h.start("two-approvals")
    assert paused.state.current is StateType.PAUSED
    # A pause blocks only its own branch: the busy branch ran to its end meanwhile.
    assert h.run_of(paused.id, "busy").state.current is StateType.SUCCESS
    assert h.run_of(paused.id, "busy_two").state.current is StateType.SUCCESS
    first = h.resume(paused.id)  # the first paused task run
    assert first.state.current is StateType.PAUSED
    assert h.run_of(first.id, "left_gate").state.current is StateType.SUCCESS
    assert h.run_of(first.id, "left_done").state.current is StateType.SUCCESS
    assert h.run_of(first.id, "right_gate").state.current is StateType.PAUSED
    assert h.runs_of(first.id, "joined") == []
    assert states(first) == ["CREATED", "RUNNING", "PAUSED"]
    done = h.resume(paused.id)
    assert done.state.current is StateType.SUCCESS
    assert len(done.task_runs) == 11
    assert states(done) == ["CREATED", "RUNNING", "PAUSED", "RESTARTED", "RUNNING", "SUCCESS"]
    assert done.metadata["attemptNumber"] == 2
    with pytest.raises(NotPaused):
        h.resume(paused.id)
