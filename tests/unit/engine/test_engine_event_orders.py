"""Property: whatever order events arrive in, the state machine stays consistent."""

from __future__ import annotations

from datetime import timedelta

from engine_harness import ALICE, Harness
from hypothesis import given, settings
from hypothesis import strategies as st

from perch.engine.effects import ScheduleTimer
from perch.engine.events import Kill, Pause, Restart, Resume, TaskResult, TaskStarted, TimerFired
from perch.engine.model import Execution
from perch.engine.states import StateType
from perch.errors import PerchError

FLOW = """
id: racy
namespace: company.team
tasks:
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: approve
        type: io.kestra.plugin.core.flow.Pause
        pauseDuration: PT1M
      - id: work
        type: io.kestra.plugin.core.debug.Return
        format: work
        retry:
          type: constant
          interval: PT1S
          maxAttempts: 2
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: last
"""

BRANCHES = """
id: racy
namespace: company.team
tasks:
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: left
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: approve
            type: io.kestra.plugin.core.flow.Pause
            pauseDuration: PT1M
          - id: after_approve
            type: io.kestra.plugin.core.debug.Return
            format: ok
      - id: right
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: work
            type: io.kestra.plugin.core.debug.Return
            format: work
            retry:
              type: constant
              interval: PT1S
              maxAttempts: 2
          - id: work2
            type: io.kestra.plugin.core.debug.Return
            format: work2
          - id: approve2
            type: io.kestra.plugin.core.flow.Pause
            timeout: PT1M
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: last
errors:
  - id: handler
    type: io.kestra.plugin.core.debug.Return
    format: handled
"""
"""Two pauses in branches that go on while the other is paused, with errors: the same
properties must hold."""

ACTIONS = st.sampled_from(
    [
        "resume",
        "resume",
        "kill",
        "timer",
        "timer",
        "start",
        "succeed",
        "fail",
        "stale",
        "pause",
        "restart",
        "tick",
    ]
)


def _check(execution: Execution, before: Execution) -> None:
    current = execution.state.current
    for run in execution.task_runs:
        history = [h.state for h in run.state.histories]
        # A pause is left at most once per time it was entered: never resumed twice.
        assert history.count(StateType.PAUSED) <= 1
        after_pause = (
            history[history.index(StateType.PAUSED) + 1 :] if StateType.PAUSED in history else []
        )
        assert sum(s in (StateType.SUCCESS, StateType.WARNING) for s in after_pause) <= 1
        if current.is_terminated:
            assert run.state.current.is_terminated or run.state.current is StateType.RETRYING
    if current is StateType.PAUSED:
        assert execution.metadata.get("manualPause") or any(
            r.state.current is StateType.PAUSED for r in execution.task_runs
        )
    # Once a pause was resumed (by a person, its timer or a kill), how is never rewritten.
    earlier = {run.id: run for run in before.task_runs}
    for run in execution.task_runs:
        old = earlier.get(run.id)
        if old is not None and old.outputs and "resumed" in old.outputs:
            assert run.outputs == old.outputs
    if before.state.current.is_terminated and execution.state != before.state:
        assert StateType.RESTARTED in [h.state for h in execution.state.histories[-3:]]


@settings(max_examples=150, deadline=None)
@given(st.lists(ACTIONS, max_size=25))
def test_random_event_orders_stay_consistent(actions: list[str]) -> None:
    _drive(FLOW, actions)


@settings(max_examples=150, deadline=None)
@given(st.lists(ACTIONS, max_size=30))
def test_random_event_orders_with_paused_branches_stay_consistent(actions: list[str]) -> None:
    _drive(BRANCHES, actions)


def _drive(source: str, actions: list[str]) -> None:
    h = Harness([source], auto_work=False)
    execution_id = h.start("racy").id
    started: dict[tuple[str, int], bool] = {}
    seen: list[ScheduleTimer] = []
    for action in actions:
        seen.extend(t.timer for t in h.timers if t.timer not in seen)
        before = h.get(execution_id)
        try:
            if action == "resume":
                h.apply(execution_id, Resume(ALICE, {}))
            elif action == "kill":
                h.apply(execution_id, Kill(ALICE))
            elif action == "pause":
                h.apply(execution_id, Pause(ALICE))
            elif action == "restart":
                h.apply(execution_id, Restart(ALICE))
            elif action == "timer" and seen:
                # Any timer ever written may fire, even one a resume or kill deleted: a
                # scheduler may have claimed it just before the deletion committed.
                timer = seen.pop(0)
                h.apply(
                    execution_id,
                    TimerFired(timer.timer_id, timer.task_run_id, timer.action, timer.payload),
                )
            elif action == "tick":
                h.clock.advance(timedelta(seconds=30))
            elif action == "start" and h.jobs:
                _, job = h.jobs[0]
                h.apply(execution_id, TaskStarted(job.task_run_id, job.attempt, "w"))
                started[(job.task_run_id, job.attempt)] = True
            elif action in ("succeed", "fail") and h.jobs:
                _, job = h.jobs.popleft()
                state = StateType.SUCCESS if action == "succeed" else StateType.FAILED
                h.apply(execution_id, TaskResult(job.task_run_id, job.attempt, state))
            elif action == "stale":
                run = h.get(execution_id).task_runs[-1]
                h.apply(execution_id, TaskResult(run.id, 99, StateType.SUCCESS))
        except PerchError:
            assert h.get(execution_id) == before
            continue
        _check(h.get(execution_id), before)
