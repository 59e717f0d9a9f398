"""``allowWarning``: a task (runnable or flowable) that ends in WARNING counts as SUCCESS, as in
Kestra's worker and ``guessFinalState``; with ``allowFailure`` too, a failure is a SUCCESS."""

from __future__ import annotations

import pytest
from engine_harness import Harness

from perch.engine.states import StateType
from perch.tasks import TaskOutcome

LOG = "io.kestra.plugin.core.log.Log"
FAIL = "io.kestra.plugin.core.execution.Fail"

WARNINGS = f"""
id: warnings
namespace: company.team
tasks:
  - id: noisy
    type: {LOG}
    message: noisy
    allowWarning: true
  - id: group
    type: io.kestra.plugin.core.flow.Sequential
    allowWarning: true
    tasks:
      - id: tolerated
        type: {FAIL}
        allowFailure: true
  - id: quiet_failure
    type: {FAIL}
    allowFailure: true
    allowWarning: true
"""

PLAIN = f"""
id: plain
namespace: company.team
tasks:
  - id: noisy
    type: {LOG}
    message: noisy
"""


@pytest.fixture
def h() -> Harness:
    return Harness([WARNINGS, PLAIN])


def test_allow_warning_turns_warnings_into_success(h: Harness) -> None:
    h.outcomes["noisy"] = lambda attempt: TaskOutcome(StateType.WARNING)
    done = h.start("warnings")
    assert done.state.current is StateType.SUCCESS
    assert h.run_of(done.id, "noisy").state.current is StateType.SUCCESS
    assert h.run_of(done.id, "tolerated").state.current is StateType.WARNING
    assert h.run_of(done.id, "group").state.current is StateType.SUCCESS
    assert h.run_of(done.id, "quiet_failure").state.current is StateType.SUCCESS


def test_without_allow_warning_a_warning_stays(h: Harness) -> None:
    h.outcomes["noisy"] = lambda attempt: TaskOutcome(StateType.WARNING)
    done = h.start("plain")
    assert done.state.current is StateType.WARNING
    assert h.run_of(done.id, "noisy").state.current is StateType.WARNING
