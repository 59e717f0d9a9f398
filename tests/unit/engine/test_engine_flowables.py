"""If, Switch, Parallel, Sequential, ForEach: the task-run counts of kestra-facts §8.2.

The fixture flows are written for Perch, with the shapes the Kestra tests describe.
"""

from __future__ import annotations

import pytest
from engine_harness import Harness

from perch.engine.states import StateType

LOG = "io.kestra.plugin.core.log.Log"
RETURN = "io.kestra.plugin.core.debug.Return"

IF_ELSE = f"""
id: if-else
namespace: company.team
inputs:
  - id: param
    type: STRING
tasks:
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{{{ inputs.param }}}}"
    then:
      - id: yes
        type: {LOG}
        message: yes
    else:
      - id: no
        type: {LOG}
        message: no
"""

IF_ONLY = f"""
id: if-only
namespace: company.team
inputs:
  - id: flag
    type: BOOLEAN
tasks:
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{{{ inputs.flag }}}}"
    then:
      - id: yes
        type: {LOG}
        message: yes
"""

SWITCH = f"""
id: switch
namespace: company.team
inputs:
  - id: choice
    type: STRING
tasks:
  - id: route
    type: io.kestra.plugin.core.flow.Switch
    value: "{{{{ inputs.choice }}}}"
    cases:
      FIRST:
        - id: t1
          type: {RETURN}
          format: one
      SECOND:
        - id: t2
          type: {RETURN}
          format: two
        - id: t2_sub
          type: {RETURN}
          format: two-bis
      THIRD:
        - id: t3
          type: io.kestra.plugin.core.flow.Sequential
          tasks:
            - id: failing
              type: io.kestra.plugin.core.execution.Fail
          errors:
            - id: handled
              type: {RETURN}
              format: handled
    defaults:
      - id: fallback
        type: {RETURN}
        format: default
"""

SWITCH_IMPOSSIBLE = f"""
id: switch-impossible
namespace: company.team
inputs:
  - id: choice
    type: STRING
tasks:
  - id: route
    type: io.kestra.plugin.core.flow.Switch
    value: "{{{{ inputs.choice }}}}"
    cases:
      NO:
        - id: never
          type: {RETURN}
          format: never
"""

PARALLEL = f"""
id: parallel
namespace: company.team
tasks:
  - id: fan
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
{"".join(f"      - {{id: p{i}, type: {LOG}, message: p{i}}}{chr(10)}" for i in range(6))}
  - id: last
    type: {RETURN}
    format: last
"""

PARALLEL_NESTED = f"""
id: parallel-nested
namespace: company.team
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.Parallel
    concurrent: 2
    tasks:
      - id: a
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: a1
            type: {RETURN}
            format: a1
          - id: a2
            type: io.kestra.plugin.core.flow.Parallel
            tasks:
              - id: a2x
                type: {RETURN}
                format: x
              - id: a2y
                type: {RETURN}
                format: y
      - id: b
        type: io.kestra.plugin.core.flow.Parallel
        tasks:
          - id: b1
            type: {RETURN}
            format: b1
          - id: b2
            type: {RETURN}
            format: b2
      - id: c
        type: {RETURN}
        format: c
  - id: last
    type: {RETURN}
    format: last
"""

SEQUENTIAL = f"""
id: sequential
namespace: company.team
tasks:
  - id: s1
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: r1
        type: {RETURN}
        format: r1
      - id: s2
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: r2
            type: {RETURN}
            format: r2
          - id: r3
            type: {RETURN}
            format: r3
          - id: s3
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: r4
                type: {RETURN}
                format: r4
              - id: r5
                type: {RETURN}
                format: "{{{{ outputs.r4.value }}}}-r5"
      - id: r6
        type: {RETURN}
        format: r6
  - id: r7
    type: {RETURN}
    format: r7
  - id: r8
    type: {RETURN}
    format: r8
"""

FOREACH = f"""
id: foreach
namespace: company.team
inputs:
  - id: limit
    type: INT
    defaults: 1
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["v1", "v2", "v3"]
    concurrencyLimit: "{{{{ inputs.limit }}}}"
    tasks:
      - id: first
        type: {RETURN}
        format: "{{{{ taskrun.value }}}}"
      - id: second
        type: {RETURN}
        format: "{{{{ taskrun.value }}}}-{{{{ outputs.first[taskrun.value].value }}}}"
"""

EACH_PARALLEL = f"""
id: each-parallel
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.EachParallel
    value: '["a", "b", {{"c": 1}}]'
    tasks:
      - id: l1
        type: {LOG}
        message: "{{{{ taskrun.value }}}}"
      - id: l2
        type: {LOG}
        message: two
  - id: last
    type: {RETURN}
    format: last
"""

FOREACH_IF = f"""
id: foreach-if
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["value 1", "value 2", "value 3"]
    tasks:
      - id: before
        type: {RETURN}
        format: "{{{{ taskrun.value }}}}"
      - id: when
        type: io.kestra.plugin.core.flow.If
        condition: "{{{{ taskrun.value equals 'value 2' }}}}"
        then:
          - id: inside
            type: {RETURN}
            format: "{{{{ parent.taskrun.value }}}}"
  - id: after_if
    type: {RETURN}
    format: done
"""


@pytest.fixture
def h() -> Harness:
    return Harness(
        [
            IF_ELSE,
            IF_ONLY,
            SWITCH,
            SWITCH_IMPOSSIBLE,
            PARALLEL,
            PARALLEL_NESTED,
            SEQUENTIAL,
            FOREACH,
            EACH_PARALLEL,
            FOREACH_IF,
        ]
    )


@pytest.mark.parametrize("param", ["true", "1", "yes"])
def test_if_truthy_runs_then(h: Harness, param: str) -> None:
    done = h.start("if-else", {"param": param})
    assert done.state.current is StateType.SUCCESS
    assert [r.task_id for r in done.task_runs] == ["check", "yes"]
    assert h.run_of(done.id, "check").outputs == {"evaluationResult": True}


@pytest.mark.parametrize("param", ["false", "0", "-0", " false "])
def test_if_falsy_runs_else(h: Harness, param: str) -> None:
    done = h.start("if-else", {"param": param})
    assert done.state.current is StateType.SUCCESS
    assert [r.task_id for r in done.task_runs] == ["check", "no"]


@pytest.mark.parametrize(("flag", "count"), [(True, 2), (False, 1)])
def test_if_without_else(h: Harness, flag: bool, count: int) -> None:
    done = h.start("if-only", {"flag": flag})
    assert done.state.current is StateType.SUCCESS
    assert len(done.task_runs) == count


@pytest.mark.parametrize(
    ("choice", "second", "defaults"),
    [("FIRST", "t1", False), ("SECOND", "t2", False), ("OTHER", "fallback", True)],
)
def test_switch_cases_and_defaults(h: Harness, choice: str, second: str, defaults: bool) -> None:
    done = h.start("switch", {"choice": choice})
    assert done.state.current is StateType.SUCCESS
    assert done.task_runs[1].task_id == second
    assert h.run_of(done.id, "route").outputs == {"value": choice, "defaults": defaults}


def test_switch_case_with_local_errors_fails_after_handling(h: Harness) -> None:
    done = h.start("switch", {"choice": "THIRD"})
    assert done.state.current is StateType.FAILED
    assert [r.task_id for r in done.task_runs] == ["route", "t3", "failing", "handled"]
    assert h.run_of(done.id, "handled").state.current is StateType.SUCCESS


def test_switch_without_match_or_defaults_fails(h: Harness) -> None:
    done = h.start("switch-impossible", {"choice": "impossible"})
    assert done.state.current is StateType.FAILED
    assert len(done.task_runs) == 1


def test_parallel_runs_eight_task_runs(h: Harness) -> None:
    h.auto_work = False
    started = h.start("parallel")
    # Every branch is dispatched at once (concurrent: 0), the last task waits for them all.
    assert len(h.jobs) == 6
    assert len(started.task_runs) == 7
    h.auto_work = True
    h.run()
    done = h.get(started.id)
    assert done.state.current is StateType.SUCCESS
    assert len(done.task_runs) == 8
    assert done.task_runs[-1].task_id == "last"


def test_parallel_nested_with_a_concurrency_limit(h: Harness) -> None:
    h.auto_work = False
    started = h.start("parallel-nested")
    top_level = [
        r.task_id for r in started.task_runs if r.parent_task_run_id == started.task_runs[0].id
    ]
    assert top_level == ["a", "b"]  # concurrent: 2
    h.auto_work = True
    h.run()
    done = h.get(started.id)
    assert done.state.current is StateType.SUCCESS
    assert len(done.task_runs) == 11


def test_sequential_runs_eleven_task_runs_in_order(h: Harness) -> None:
    done = h.start("sequential")
    assert done.state.current is StateType.SUCCESS
    assert len(done.task_runs) == 11
    assert h.run_of(done.id, "r5").outputs == {"value": "r4-r5"}
    assert [r.task_id for r in done.task_runs if not r.task_id.startswith("s")] == [
        "r1",
        "r2",
        "r3",
        "r4",
        "r5",
        "r6",
        "r7",
        "r8",
    ]


@pytest.mark.parametrize("limit", [1, 2, 0])
def test_foreach_runs_seven_task_runs(h: Harness, limit: int) -> None:
    h.auto_work = False
    started = h.start("foreach", {"limit": limit})
    assert len(h.jobs) == (3 if limit == 0 else limit)
    h.auto_work = True
    h.run()
    done = h.get(started.id)
    assert done.state.current is StateType.SUCCESS
    assert len(done.task_runs) == 7
    seconds = {r.value: r.outputs for r in h.runs_of(done.id, "second")}
    assert seconds == {f"v{i}": {"value": f"v{i}-v{i}"} for i in (1, 2, 3)}


def test_each_parallel_runs_eight_task_runs(h: Harness) -> None:
    done = h.start("each-parallel")
    assert done.state.current is StateType.SUCCESS
    assert len(done.task_runs) == 8
    assert sorted(h.log_messages(done.id, "l1")) == ["a", "b", '{"c":1}']


def test_if_inside_foreach(h: Harness) -> None:
    done = h.start("foreach-if")
    assert done.state.current is StateType.SUCCESS
    # each + 3 x (before, when) + one inside + after_if
    assert len(done.task_runs) == 9
    assert [r.outputs for r in h.runs_of(done.id, "inside")] == [{"value": "value 2"}]
    assert h.run_of(done.id, "after_if").state.current is StateType.SUCCESS
