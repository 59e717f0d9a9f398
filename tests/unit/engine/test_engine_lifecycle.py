"""Executions as a whole: creation, labels and variables, subflows, manual pause, kill,
restart and replay."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from engine_harness import ALICE, Harness, states

from perch.engine import new_execution, replay_execution, run_variables, transition
from perch.engine.effects import Audit, StartSubflow
from perch.engine.events import Kill, Pause, Restart, Resume, Start, TaskResult, TimerFired
from perch.engine.model import Label
from perch.engine.principal import Principal
from perch.engine.states import StateType
from perch.errors import AlreadyFinished, IllegalState, NotRunning, StaleResult
from perch.tasks import TaskOutcome

RETURN = "io.kestra.plugin.core.debug.Return"
SUBFLOW = "io.kestra.plugin.core.flow.Subflow"

PARENT = f"""
id: parent
namespace: company.team
labels:
  team: data
tasks:
  - id: call
    type: {SUBFLOW}
    namespace: company.team
    flowId: child
    inheritLabels: true
    inputs:
      who: "{{{{ execution.id }}}}"
  - id: last
    type: {RETURN}
    format: "{{{{ outputs.call.outputs.relay }}}}"
"""

CHILD = f"""
id: child
namespace: company.team
inputs:
  - id: who
    type: STRING
tasks:
  - id: call
    type: {SUBFLOW}
    namespace: company.team
    flowId: grandchild
  - id: relay
    type: {RETURN}
    format: "{{{{ outputs.call.outputs.id }}}}"
outputs:
  - id: relay
    type: STRING
    value: "{{{{ outputs.relay.value }}}}"
"""

GRANDCHILD = f"""
id: grandchild
namespace: company.team
tasks:
  - id: say
    type: {RETURN}
    format: "{{{{ labels.system.correlationId }}}}"
outputs:
  - id: id
    type: STRING
    value: "{{{{ outputs.say.value }}}}"
"""

NO_WAIT = f"""
id: no-wait
namespace: company.team
tasks:
  - id: call
    type: {SUBFLOW}
    namespace: company.team
    flowId: failing
    wait: false
  - id: next
    type: {RETURN}
    format: next
"""

FAILING = """
id: failing
namespace: company.team
tasks:
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
"""

TRANSMIT = f"""
id: transmit
namespace: company.team
inputs:
  - id: transmit
    type: BOOLEAN
tasks:
  - id: call
    type: {SUBFLOW}
    namespace: company.team
    flowId: failing
    transmitFailed: "{{{{ inputs.transmit }}}}"
"""

THREE = f"""
id: three
namespace: company.team
inputs:
  - id: name
    type: STRING
    defaults: world
variables:
  greeting: "hello {{{{ inputs.name }}}}"
tasks:
  - id: a
    type: {RETURN}
    format: a
  - id: b
    type: {RETURN}
    format: "{{{{ render(vars.greeting) }}}} {{{{ labels.system.username }}}}"
  - id: c
    type: {RETURN}
    format: c
"""

PAUSED = """
id: paused
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT1M
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: last
"""


@pytest.fixture
def h() -> Harness:
    return Harness([PARENT, CHILD, GRANDCHILD, NO_WAIT, FAILING, TRANSMIT, THREE, PAUSED])


def test_new_execution_labels_and_inputs(h: Harness) -> None:
    flow = h.flows[("company.team", "three")]
    execution = new_execution(
        flow,
        revision=3,
        inputs={"name": "bob"},
        now=h.clock.now(),
        principal=Principal("carol"),
        labels=(Label("env", "prod"),),
    )
    assert execution.state.current is StateType.CREATED
    assert execution.version == 0
    assert execution.flow_revision == 3
    assert execution.label("system.username") == "carol"
    assert execution.label("system.correlationId") == execution.id
    assert execution.label("env") == "prod"
    assert execution.inputs == {"name": "bob"}


def test_variables_inputs_vars_and_labels(h: Harness) -> None:
    done = h.start("three")
    assert done.state.current is StateType.SUCCESS
    assert h.run_of(done.id, "b").outputs == {"value": "hello world alice"}
    variables = run_variables(h.flow_of(done), done, h.run_of(done.id, "c"))
    assert variables["flow"] == {
        "id": "three",
        "namespace": "company.team",
        "revision": 1,
        "tenantId": "main",
    }
    assert variables["outputs"]["a"] == {"value": "a"}
    assert variables["tasks"]["b"] == {"state": "SUCCESS"}
    assert variables["labels"]["system"]["username"] == "alice"
    assert variables["vars"] == {"greeting": "hello {{ inputs.name }}"}
    assert variables["task"]["id"] == "c"
    assert variables["taskrun"]["attemptsCount"] == 0
    assert variables["execution"]["originalId"] == done.id


def test_start_twice_is_refused(h: Harness) -> None:
    done = h.start("three")
    with pytest.raises(IllegalState):
        h.apply(done.id, Start())


def test_a_queued_execution_starts(h: Harness) -> None:
    flow = h.flows[("company.team", "three")]
    queued = new_execution(flow, revision=1, inputs={}, now=h.clock.now(), principal=ALICE)
    queued = replace(queued, state=queued.state.with_state(StateType.QUEUED, h.clock.now()))
    result = transition(flow, queued, Start(), now=h.clock.now())
    assert result.execution.state.current is StateType.RUNNING
    assert states(result.execution) == ["CREATED", "QUEUED", "RUNNING"]


def test_subflow_chain_shares_one_correlation_id(h: Harness) -> None:
    done = h.start("parent", labels=(Label("env", "test"),))
    assert done.state.current is StateType.SUCCESS
    children = [e for e in h.executions.values() if e.flow_id == "child"]
    grandchildren = [e for e in h.executions.values() if e.flow_id == "grandchild"]
    assert len(children) == len(grandchildren) == 1
    for execution in (*children, *grandchildren):
        assert execution.label("system.correlationId") == done.id
        assert execution.state.current is StateType.SUCCESS
    assert children[0].label("team") == "data"  # inheritLabels
    assert children[0].inputs == {"who": done.id}
    assert children[0].parent is not None
    assert children[0].parent.execution_id == done.id
    call = h.run_of(done.id, "call")
    assert call.outputs is not None
    assert call.outputs["executionId"] == children[0].id
    assert call.outputs["state"] == "SUCCESS"
    assert h.run_of(done.id, "last").outputs == {"value": done.id}


def test_subflow_effect_carries_what_the_caller_needs(h: Harness) -> None:
    flow = h.flows[("company.team", "parent")]
    execution = new_execution(flow, revision=1, inputs={}, now=h.clock.now(), principal=ALICE)
    effects = transition(flow, execution, Start(ALICE), now=h.clock.now()).effects
    (start,) = [e for e in effects if isinstance(e, StartSubflow)]
    assert (start.namespace, start.flow_id, start.wait, start.transmit_failed) == (
        "company.team",
        "child",
        True,
        True,
    )
    assert start.correlation_id == execution.id
    assert start.inputs == {"who": execution.id}


def test_subflow_without_wait_succeeds_at_once(h: Harness) -> None:
    done = h.start("no-wait")
    assert done.state.current is StateType.SUCCESS
    assert [r.task_id for r in done.task_runs] == ["call", "next"]
    (child,) = [e for e in h.executions.values() if e.flow_id == "failing"]
    assert child.state.current is StateType.FAILED


@pytest.mark.parametrize(("transmit", "final"), [(True, "FAILED"), (False, "SUCCESS")])
def test_subflow_transmit_failed(h: Harness, transmit: bool, final: str) -> None:
    done = h.start("transmit", {"transmit": transmit})
    assert done.state.current.value == final


def test_manual_pause_lets_running_tasks_finish_and_starts_nothing(h: Harness) -> None:
    h.auto_work = False
    started = h.start("three")
    paused = h.pause(started.id)
    assert paused.state.current is StateType.PAUSED
    h.work_one()  # task a finishes while paused
    during = h.get(started.id)
    assert during.state.current is StateType.PAUSED
    assert [r.task_id for r in during.task_runs] == ["a"]
    assert during.task_runs[0].state.current is StateType.SUCCESS
    assert not h.jobs
    h.auto_work = True
    resumed = h.apply(started.id, Resume(ALICE))
    assert resumed.state.current is StateType.RUNNING
    h.run()
    assert h.get(started.id).state.current is StateType.SUCCESS
    assert [a.action for _, a in h.audits if _ == started.id] == ["CREATE", "PAUSE", "RESUME"]


def test_pause_of_a_non_running_execution_is_refused(h: Harness) -> None:
    done = h.start("three")
    with pytest.raises(NotRunning, match="The execution is not running"):
        h.apply(done.id, Pause(ALICE))


def test_kill_of_a_running_execution_rejects_late_results(h: Harness) -> None:
    h.auto_work = False
    started = h.start("three")
    execution_id, job = h.jobs.popleft()
    killed = h.kill(started.id)
    assert killed.state.current is StateType.KILLED
    assert states(killed)[-2:] == ["KILLING", "KILLED"]
    assert killed.task_runs[0].state.current is StateType.KILLED
    with pytest.raises(StaleResult):
        h.apply(execution_id, TaskResult(job.task_run_id, job.attempt, StateType.SUCCESS))
    with pytest.raises(AlreadyFinished):
        h.apply(started.id, Kill(ALICE))
    (audit,) = [a for _, a in h.audits if a.action == "KILL"]
    assert audit == Audit("KILL", ALICE, {"executionId": started.id, "to": "KILLED"})


def test_kill_to_cancelled(h: Harness) -> None:
    paused = h.start("paused")
    done = h.apply(paused.id, Kill(ALICE, StateType.CANCELLED))
    assert done.state.current is StateType.CANCELLED
    assert h.run_of(done.id, "wait").state.current is StateType.KILLED


def test_kill_racing_a_timer_gives_one_outcome(h: Harness) -> None:
    paused = h.start("paused")
    timer = h.timers[0].timer
    fired = TimerFired(timer.timer_id, timer.task_run_id, timer.action, timer.payload)
    h.clock.advance(timedelta(minutes=1))
    # The timer wins: the execution goes on and ends, and a kill that comes later is refused.
    after_timer = h.apply(paused.id, fired)
    h.run()
    assert h.get(paused.id).state.current is StateType.SUCCESS
    with pytest.raises(AlreadyFinished):
        h.apply(paused.id, Kill(ALICE))
    # The kill wins: the timer that fires afterwards changes nothing.
    other = h.start("paused")
    killed = h.kill(other.id)
    other_timer = TimerFired("t", killed.task_runs[0].id, "PAUSE_ELAPSED", {"state": "SUCCESS"})
    assert h.apply(other.id, other_timer).task_runs == killed.task_runs
    assert after_timer.id == paused.id


def test_kill_of_a_waiting_subflow_kills_the_child(h: Harness) -> None:
    h.auto_work = False
    started = h.start("parent")
    killed = h.kill(started.id)
    assert killed.state.current is StateType.KILLED
    (child,) = [e for e in h.executions.values() if e.flow_id == "child"]
    assert child.state.current is StateType.KILLED


def test_restart_of_a_failed_execution_reruns_the_failed_task(h: Harness) -> None:
    h.outcomes["b"] = lambda attempt: TaskOutcome(StateType.FAILED) if attempt == 1 else None
    failed = h.start("three")
    assert failed.state.current is StateType.FAILED
    assert [r.task_id for r in failed.task_runs] == ["a", "b"]
    done = h.restart(failed.id)
    assert done.id == failed.id
    assert done.state.current is StateType.SUCCESS
    assert states(done) == ["CREATED", "RUNNING", "FAILED", "RESTARTED", "RUNNING", "SUCCESS"]
    b = h.run_of(done.id, "b")
    assert [a.state.current for a in b.attempts] == [StateType.FAILED, StateType.SUCCESS]
    assert len(done.task_runs) == 3
    assert h.run_of(done.id, "a").attempts == failed.task_runs[0].attempts
    assert done.metadata["attemptNumber"] == 2
    assert done.label("system.restarted") == "true"


def test_restart_drops_the_error_handlers_that_ran(h: Harness) -> None:
    h.deploy(
        """
id: restart-errors
namespace: company.team
inputs:
  - id: fail
    type: BOOLEAN
    defaults: true
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: step
        type: io.kestra.plugin.core.debug.Return
        format: step
errors:
  - id: handler
    type: io.kestra.plugin.core.debug.Return
    format: handled
"""
    )
    h.outcomes["step"] = lambda attempt: TaskOutcome(StateType.FAILED) if attempt == 1 else None
    failed = h.start("restart-errors")
    assert [r.task_id for r in failed.task_runs] == ["seq", "step", "handler"]
    done = h.restart(failed.id)
    assert done.state.current is StateType.SUCCESS
    assert [r.task_id for r in done.task_runs] == ["seq", "step"]
    assert h.run_of(done.id, "seq").state.current is StateType.SUCCESS


def test_restart_of_a_successful_execution_is_refused(h: Harness) -> None:
    done = h.start("three")
    with pytest.raises(IllegalState):
        h.apply(done.id, Restart(ALICE))


def test_replay_from_a_task_run_is_a_new_execution(h: Harness) -> None:
    done = h.start("three")
    b = h.run_of(done.id, "b")
    replay = replay_execution(
        h.flow_of(done), done, task_run_id=b.id, now=h.clock.now(), principal=Principal("dan")
    )
    assert replay.id != done.id
    assert replay.original_id == done.id
    assert replay.state.current is StateType.RESTARTED
    assert [r.task_id for r in replay.task_runs] == ["a"]
    assert replay.task_runs[0].id != done.task_runs[0].id
    assert replay.label("system.replay") == "true"
    assert replay.label("system.username") == "dan"
    h.executions[replay.id] = replay
    h.apply(replay.id, Start(Principal("dan")))
    h.run()
    replayed = h.get(replay.id)
    assert replayed.state.current is StateType.SUCCESS
    assert [r.task_id for r in replayed.task_runs] == ["a", "b", "c"]
    assert h.get(done.id) == done
    assert any(a.action == "REPLAY" for eid, a in h.audits if eid == replay.id)


def test_replay_inside_a_flowable_reopens_its_parents(h: Harness) -> None:
    h.deploy(
        """
id: nested
namespace: company.team
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: one
        type: io.kestra.plugin.core.debug.Return
        format: one
      - id: two
        type: io.kestra.plugin.core.debug.Return
        format: two
  - id: three
    type: io.kestra.plugin.core.debug.Return
    format: three
"""
    )
    done = h.start("nested")
    two = h.run_of(done.id, "two")
    replay = replay_execution(
        h.flow_of(done), done, task_run_id=two.id, now=h.clock.now(), principal=ALICE
    )
    assert [(r.task_id, r.state.current.value) for r in replay.task_runs] == [
        ("seq", "RUNNING"),
        ("one", "SUCCESS"),
    ]
    h.executions[replay.id] = replay
    h.apply(replay.id, Start(ALICE))
    h.run()
    assert [r.task_id for r in h.get(replay.id).task_runs] == ["seq", "one", "two", "three"]
    assert h.get(replay.id).state.current is StateType.SUCCESS


def test_replay_from_the_start_is_a_fresh_execution(h: Harness) -> None:
    done = h.start("three")
    replay = replay_execution(
        h.flow_of(done), done, task_run_id=None, now=h.clock.now(), principal=ALICE
    )
    assert replay.state.current is StateType.CREATED
    assert replay.task_runs == ()
    assert replay.inputs == done.inputs
