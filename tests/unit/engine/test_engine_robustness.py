"""Bad values written by a flow author fail a task run; they never crash a transition."""

from __future__ import annotations

from datetime import timedelta

import pytest
from engine_harness import Harness

from perch.engine.states import StateType
from perch.tasks import TaskOutcome

LOG = "io.kestra.plugin.core.log.Log"

LIMITS = f"""
id: limits
namespace: company.team
inputs:
  - id: n
    type: STRING
  - id: which
    type: STRING
tasks:
  - id: pick
    type: io.kestra.plugin.core.flow.Switch
    value: "{{{{ inputs.which }}}}"
    cases:
      parallel:
        - id: fan
          type: io.kestra.plugin.core.flow.Parallel
          concurrent: "{{{{ inputs.n }}}}"
          tasks:
            - id: a
              type: {LOG}
              message: a
      foreach:
        - id: each
          type: io.kestra.plugin.core.flow.ForEach
          values: ["x", "y"]
          concurrencyLimit: "{{{{ inputs.n }}}}"
          tasks:
            - id: b
              type: {LOG}
              message: b
"""

MANY_RETRIES = f"""
id: many-retries
namespace: company.team
tasks:
  - id: flaky
    type: {LOG}
    message: flaky
    retry:
      type: exponential
      interval: PT1S
      maxInterval: PT1M
      maxAttempts: 200
"""

DUPLICATES = f"""
id: duplicates
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "a", "b"]
    tasks:
      - id: say
        type: {LOG}
        message: "{{{{ taskrun.value }}}}"
  - id: nulls
    type: io.kestra.plugin.core.flow.ForEach
    values: '["a", null]'
    tasks:
      - id: never
        type: {LOG}
        message: never
"""


@pytest.fixture
def h() -> Harness:
    return Harness([LIMITS, MANY_RETRIES, DUPLICATES])


@pytest.mark.parametrize(("which", "flowable"), [("parallel", "fan"), ("foreach", "each")])
def test_a_limit_that_is_not_an_integer_fails_the_flowable(
    h: Harness, which: str, flowable: str
) -> None:
    done = h.start("limits", {"n": "lots", "which": which})
    assert done.state.current is StateType.FAILED
    assert h.run_of(done.id, flowable).state.current is StateType.FAILED
    assert any("must render to an integer" in m for m in h.log_messages(done.id, flowable))


def test_exponential_retry_delays_stop_growing_at_the_maximum(h: Harness) -> None:
    h.outcomes["flaky"] = lambda attempt: TaskOutcome(StateType.FAILED) if attempt < 150 else None
    started = h.start("many-retries")
    for _ in range(160):
        if not h.timers:
            break
        h.advance(h.timers[0].timer.due - h.clock.now())
    done = h.get(started.id)
    assert done.state.current is StateType.SUCCESS
    assert len(h.run_of(done.id, "flaky").attempts) == 150
    assert h.clock.now() - done.state.start_date > timedelta(minutes=140)


def test_repeated_foreach_values_run_once_and_null_values_fail(h: Harness) -> None:
    done = h.start("duplicates")
    assert [r.value for r in h.runs_of(done.id, "say")] == ["a", "b"]
    assert h.run_of(done.id, "each").state.current is StateType.SUCCESS
    assert h.run_of(done.id, "nulls").state.current is StateType.FAILED
    assert h.runs_of(done.id, "never") == []
    assert done.state.current is StateType.FAILED


BROKEN_PAUSE = """
id: broken-pause
namespace: company.team
inputs:
  - id: wait
    type: STRING
    defaults: soon
tasks:
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: gate
        type: io.kestra.plugin.core.flow.Pause
        pauseDuration: "{{ inputs.wait }}"
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT1M
"""


def test_a_pause_with_a_broken_duration_fails_without_pausing() -> None:
    h = Harness([BROKEN_PAUSE])
    started = h.start("broken-pause")
    assert started.state.current is StateType.RUNNING
    gate = h.run_of(started.id, "gate")
    assert [s.state for s in gate.state.histories] == [
        StateType.CREATED,
        StateType.RUNNING,
        StateType.FAILED,
    ]
    h.advance(timedelta(minutes=1))
    assert h.get(started.id).state.current is StateType.FAILED


FAILING_BRANCH = """
id: failing-branch
namespace: company.team
inputs:
  - id: limit
    type: INT
tasks:
  - id: fan
    type: io.kestra.plugin.core.flow.Parallel
    concurrent: "{{ inputs.limit }}"
    tasks:
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
      - id: one
        type: io.kestra.plugin.core.log.Log
        message: one
      - id: two
        type: io.kestra.plugin.core.log.Log
        message: two
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    concurrencyLimit: "{{ inputs.limit }}"
    tasks:
      - id: step
        type: io.kestra.plugin.core.log.Log
        message: "{{ taskrun.value }}"
"""


@pytest.mark.parametrize(("limit", "started"), [(0, ["boom", "one", "two"]), (2, ["boom", "one"])])
def test_a_branch_that_fails_at_once_does_not_hold_back_those_started_with_it(
    limit: int, started: list[str]
) -> None:
    # Kestra creates the branches of a Parallel together (all of them with no limit): a
    # failure stops only the branches that were not started yet.
    h = Harness([FAILING_BRANCH])
    done = h.start("failing-branch", {"limit": limit})
    assert done.state.current is StateType.FAILED
    fan = h.run_of(done.id, "fan")
    assert [r.task_id for r in done.task_runs if r.parent_task_run_id == fan.id] == started
    assert all(h.run_of(done.id, t).state.current is StateType.SUCCESS for t in started[1:])
    assert h.runs_of(done.id, "each") == []


def test_a_negative_concurrency_limit_fails_the_flowable() -> None:
    h = Harness([FAILING_BRANCH])
    done = h.start("failing-branch", {"limit": -1})
    assert done.state.current is StateType.FAILED
    assert [r.task_id for r in done.task_runs] == ["fan"]


EACH_FAILING = """
id: each-failing
namespace: company.team
inputs:
  - id: limit
    type: INT
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    concurrencyLimit: "{{ inputs.limit }}"
    tasks:
      - id: check
        type: io.kestra.plugin.core.execution.Fail
        condition: "{{ taskrun.value == 'b' }}"
      - id: work
        type: io.kestra.plugin.core.log.Log
        message: "{{ taskrun.value }}"
"""


@pytest.mark.parametrize(("limit", "worked"), [(0, ["a", "c"]), (1, ["a"])])
def test_a_failing_iteration_stops_only_iterations_not_started(
    limit: int, worked: list[str]
) -> None:
    h = Harness([EACH_FAILING])
    done = h.start("each-failing", {"limit": limit})
    assert done.state.current is StateType.FAILED
    assert [r.value for r in h.runs_of(done.id, "work")] == worked
