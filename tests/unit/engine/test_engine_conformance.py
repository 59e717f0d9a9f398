"""More of kestra-facts §8.2, fixture by fixture: the asserted task-run counts and states.

Every flow here is written for Perch with the shape the Kestra test describes (ids, messages
and values are ours).
"""

from __future__ import annotations

import pytest
from engine_harness import Harness, run_states, states

from perch.engine.states import StateType

LOG = "io.kestra.plugin.core.log.Log"
RETURN = "io.kestra.plugin.core.debug.Return"
FAIL = "io.kestra.plugin.core.execution.Fail"
SEQUENTIAL = "io.kestra.plugin.core.flow.Sequential"
PARALLEL = "io.kestra.plugin.core.flow.Parallel"

FAIL_ON_SWITCH = f"""
id: route-or-fail
namespace: company.team
inputs:
  - id: route
    type: STRING
tasks:
  - id: router
    type: io.kestra.plugin.core.flow.Switch
    value: "{{{{ inputs.route }}}}"
    cases:
      left:
        - id: go_left
          type: {RETURN}
          format: left
      right:
        - id: go_right
          type: {RETURN}
          format: right
      missing:
        - id: stop
          type: {FAIL}
"""

SEQ_ERRORS = f"""
id: seq-errors
namespace: company.team
tasks:
  - id: outer
    type: {SEQUENTIAL}
    tasks:
      - id: first
        type: {RETURN}
        format: "{{{{ task.id }}}} at {{{{ taskrun.startDate }}}}"
      - id: inner
        type: {SEQUENTIAL}
        tasks:
          - id: breaks
            type: {FAIL}
          - id: never_a
            type: {RETURN}
            format: a
          - id: never_b
            type: {RETURN}
            format: b
__LOCAL__
__GLOBAL__
"""

_HANDLERS = f"""errors:
  - id: handler_one
    type: {RETURN}
    format: "handled by {{{{ task.id }}}}"
  - id: handler_two
    type: {RETURN}
    format: "handled by {{{{ task.id }}}}"
"""

SEQ_GLOBAL_ERRORS = (
    SEQ_ERRORS.replace("id: seq-errors", "id: seq-global-errors")
    .replace("__LOCAL__\n", "")
    .replace("__GLOBAL__", _HANDLERS)
)
SEQ_LOCAL_ERRORS = (
    SEQ_ERRORS.replace("id: seq-errors", "id: seq-local-errors")
    .replace("__GLOBAL__\n", "")
    .replace("__LOCAL__", "\n".join("        " + line for line in _HANDLERS.splitlines()))
)

ERROR_LOGS = f"""
id: error-logs
namespace: company.team
tasks:
  - id: broken
    type: {FAIL}
    errorMessage: "nothing to see"
errors:
  - id: report
    type: {LOG}
    message: |
      {{%- for entry in errorLogs() -%}}
      * {{{{ entry.taskId }}}} said {{{{ entry.message }}}}
      {{%- endfor -%}}
  - id: deep
    type: {PARALLEL}
    tasks:
      - id: deep1
        type: {PARALLEL}
        tasks:
          - id: deep2
            type: {PARALLEL}
            tasks:
              - id: deep3
                type: {PARALLEL}
                tasks:
                  - id: bottom
                    type: {LOG}
                    message: "bottom {{{{ task.id }}}}"
"""

FAILED_FIRST = f"""
id: failed-first
namespace: company.team
tasks:
  - id: needs_missing
    type: {RETURN}
    format: "{{{{ no_such_variable }}}}"
  - id: unreachable
    type: {RETURN}
    format: never
"""

ALLOW_FAILURE = f"""
id: tolerant
namespace: company.team
inputs:
  - id: crash
    type: BOOLEAN
    defaults: false
tasks:
  - id: top
    type: {SEQUENTIAL}
    tasks:
      - id: tolerate
        type: io.kestra.plugin.core.flow.AllowFailure
        tasks:
          - id: inner_seq
            type: {SEQUENTIAL}
            tasks:
              - id: ok_before
                type: {RETURN}
                format: before
              - id: ko
                type: {FAIL}
              - id: never_after
                type: {RETURN}
                format: after
        errors:
          - id: tolerate_error
            type: {RETURN}
            format: "handled in {{{{ task.id }}}}"
      - id: keep_going
        type: {RETURN}
        format: going
  - id: choose
    type: io.kestra.plugin.core.flow.Switch
    value: "{{{{ inputs.crash }}}}"
    cases:
      "true":
        - id: crash
          type: {FAIL}
    defaults:
      - id: finish
        type: {RETURN}
        format: finished
errors:
  - id: global_error
    type: {RETURN}
    format: global
"""

OUTPUT_VALUES = """
id: output-values
namespace: company.team
tasks:
  - id: values
    type: io.kestra.plugin.core.output.OutputValues
    values:
      first: abc
      number: 42
      info: "{{ task.id }}/{{ taskrun.attemptsCount }}"
"""

FLOW_OUTPUTS = f"""
id: flow-outputs
namespace: company.team
inputs:
  - id: broken
    type: BOOLEAN
    defaults: false
tasks:
  - id: say
    type: {RETURN}
    format: "{{{{ flow.id }}}}"
  - id: nums
    type: io.kestra.plugin.core.output.OutputValues
    values:
      one: "1"
      two: "2"
outputs:
  - id: whole
    type: STRING
    value: "{{{{ inputs.broken ? not_defined_anywhere : outputs.say }}}}"
  - id: count
    type: INT
    value: "{{{{ outputs.nums['values'].two }}}}"
  - id: pair
    type: ARRAY
    value:
      - "{{{{ outputs.nums['values'].one }}}}"
      - "{{{{ outputs.nums['values'].two }}}}"
  - id: data
    type: JSON
    value: "{{{{ outputs.nums['values'] }}}}"
"""

VARIABLES = f"""
id: variables
namespace: company.team
variables:
  base: "1"
  middle: "{{{{ vars.base }}}} > 2"
  top: "{{{{ vars.middle }}}} > 3"
tasks:
  - id: rendered
    type: {RETURN}
    format: "{{{{ render(vars.top) }}}}"
  - id: raw
    type: {RETURN}
    format: "{{{{ vars.top }}}}"
"""

IF_IN_FOREACH = f"""
id: if-in-foreach
namespace: company.team
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.ForEach
    values: ["one", "two", "three"]
    tasks:
      - id: head
        type: {RETURN}
        format: "head {{{{ taskrun.value }}}}"
      - id: test
        type: io.kestra.plugin.core.flow.If
        condition: "{{{{ taskrun.value == 'two' }}}}"
        then:
          - id: matched
            type: {RETURN}
            format: "matched {{{{ parent.taskrun.value }}}}"
"""

EACH_SEQUENTIAL = f"""
id: each-sequential
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.EachSequential
    value: '["first", "second", "third"]'
    tasks:
      - id: echo
        type: {RETURN}
        format: "{{{{ task.id }}}} {{{{ taskrun.value }}}}"
      - id: shield
        type: io.kestra.plugin.core.flow.AllowFailure
        tasks:
          - id: picky
            type: {LOG}
            message: "{{{{ parent.taskrun.value == 'first' ? 'fine' : undefined_thing }}}}"
  - id: end
    type: {RETURN}
    format: end
"""

FOREACH_INPUT = f"""
id: foreach-input
namespace: company.team
inputs:
  - id: list
    type: STRING
    defaults: '["x", 2, {{"k": "v"}}]'
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{{{ inputs.list }}}}"
    tasks:
      - id: show
        type: {RETURN}
        format: "<{{{{ taskrun.value }}}}>"
"""


@pytest.fixture
def h() -> Harness:
    return Harness(
        [
            FAIL_ON_SWITCH,
            SEQ_GLOBAL_ERRORS,
            SEQ_LOCAL_ERRORS,
            ERROR_LOGS,
            FAILED_FIRST,
            ALLOW_FAILURE,
            OUTPUT_VALUES,
            FLOW_OUTPUTS,
            VARIABLES,
            IF_IN_FOREACH,
            EACH_SEQUENTIAL,
            FOREACH_INPUT,
        ]
    )


def test_fail_on_switch_without_a_matching_case(h: Harness) -> None:
    done = h.start("route-or-fail", {"route": "elsewhere"})
    assert done.state.current is StateType.FAILED
    assert len(done.task_runs) == 1
    router = h.run_of(done.id, "router")
    assert router.state.current is StateType.FAILED
    assert router.outputs == {"value": "elsewhere", "defaults": True}


def test_fail_on_switch_case_that_fails(h: Harness) -> None:
    done = h.start("route-or-fail", {"route": "missing"})
    assert done.state.current is StateType.FAILED
    assert [r.task_id for r in done.task_runs] == ["router", "stop"]
    assert h.run_of(done.id, "router").state.current is StateType.FAILED


def test_sequential_with_global_errors(h: Harness) -> None:
    done = h.start("seq-global-errors")
    assert done.state.current is StateType.FAILED
    assert [r.task_id for r in done.task_runs] == [
        "outer",
        "first",
        "inner",
        "breaks",
        "handler_one",
        "handler_two",
    ]
    assert h.run_of(done.id, "inner").state.current is StateType.FAILED
    assert h.run_of(done.id, "outer").state.current is StateType.FAILED
    assert h.run_of(done.id, "handler_two").outputs == {"value": "handled by handler_two"}
    assert h.run_of(done.id, "handler_one").parent_task_run_id is None


def test_sequential_with_local_errors(h: Harness) -> None:
    done = h.start("seq-local-errors")
    assert done.state.current is StateType.FAILED
    assert len(done.task_runs) == 6
    inner = h.run_of(done.id, "inner")
    assert inner.state.current is StateType.FAILED
    for handler in ("handler_one", "handler_two"):
        run = h.run_of(done.id, handler)
        assert run.parent_task_run_id == inner.id
        assert run.state.current is StateType.SUCCESS
    assert h.runs_of(done.id, "never_a") == []


def test_error_logs_reach_the_error_branch(h: Harness) -> None:
    done = h.start("error-logs")
    assert done.state.current is StateType.FAILED
    assert len(done.task_runs) == 7
    assert h.log_messages(done.id, "report") == ["* broken said nothing to see"]
    assert h.log_messages(done.id, "bottom") == ["bottom bottom"]


def test_failed_first_fails_again_on_every_restart(h: Harness) -> None:
    failed = h.start("failed-first")
    assert failed.state.current is StateType.FAILED
    assert [r.task_id for r in failed.task_runs] == ["needs_missing"]
    assert any("no_such_variable" in m for m in h.log_messages(failed.id, "needs_missing"))
    again = h.restart(failed.id)
    assert again.state.current is StateType.FAILED
    assert len(again.task_runs) == 1
    assert states(again)[-4:] == ["FAILED", "RESTARTED", "RUNNING", "FAILED"]
    third = h.restart(failed.id)
    assert third.state.current is StateType.FAILED
    assert states(third).count("RESTARTED") == 2
    assert len(third.task_runs[0].attempts) == 3
    assert third.metadata["attemptNumber"] == 3


def _tolerated(h: Harness, execution_id: str) -> None:
    expected = {
        "top": StateType.WARNING,
        "tolerate": StateType.WARNING,
        "inner_seq": StateType.FAILED,
        "ok_before": StateType.SUCCESS,
        "ko": StateType.FAILED,
        "tolerate_error": StateType.SUCCESS,
        "keep_going": StateType.SUCCESS,
    }
    for task_id, state in expected.items():
        assert h.run_of(execution_id, task_id).state.current is state, task_id
    assert h.runs_of(execution_id, "never_after") == []


def test_allow_failure_flow_warns(h: Harness) -> None:
    done = h.start("tolerant")
    assert done.state.current is StateType.WARNING
    assert len(done.task_runs) == 9
    _tolerated(h, done.id)
    assert h.runs_of(done.id, "global_error") == []
    assert h.run_of(done.id, "finish").state.current is StateType.SUCCESS


def test_allow_failure_flow_with_a_crash_fails(h: Harness) -> None:
    done = h.start("tolerant", {"crash": True})
    assert done.state.current is StateType.FAILED
    assert len(done.task_runs) == 10
    _tolerated(h, done.id)
    assert h.run_of(done.id, "choose").state.current is StateType.FAILED
    assert h.run_of(done.id, "crash").state.current is StateType.FAILED
    assert h.run_of(done.id, "global_error").state.current is StateType.SUCCESS


def test_output_values(h: Harness) -> None:
    done = h.start("output-values")
    assert done.state.current is StateType.SUCCESS
    assert len(done.task_runs) == 1
    assert done.task_runs[0].outputs == {
        "values": {"first": "abc", "number": 42, "info": "values/0"}
    }


def test_flow_outputs_are_rendered_and_typed(h: Harness) -> None:
    done = h.start("flow-outputs")
    assert done.state.current is StateType.SUCCESS
    assert done.outputs == {
        "whole": '{"value":"flow-outputs"}',
        "count": 2,
        "pair": ["1", "2"],
        "data": {"one": "1", "two": "2"},
    }


def test_flow_outputs_that_fail_to_render_leave_none_and_fail(h: Harness) -> None:
    done = h.start("flow-outputs", {"broken": True})
    assert done.state.current is StateType.FAILED
    assert done.outputs is None
    assert all(r.state.current is StateType.SUCCESS for r in done.task_runs)


def test_render_of_nested_variables(h: Harness) -> None:
    done = h.start("variables")
    assert h.run_of(done.id, "rendered").outputs == {"value": "1 > 2 > 3"}
    # Without render(), flow variables are not rendered (Kestra's vars are raw text).
    assert h.run_of(done.id, "raw").outputs == {"value": "{{ vars.middle }} > 3"}


def test_if_in_a_foreach_has_eight_task_runs(h: Harness) -> None:
    done = h.start("if-in-foreach")
    assert done.state.current is StateType.SUCCESS
    assert len(done.task_runs) == 8
    matched = h.run_of(done.id, "matched")
    assert matched.state.current is StateType.SUCCESS
    assert matched.outputs == {"value": "matched two"}
    assert matched.value == "two"
    tests = {r.value: r.outputs for r in h.runs_of(done.id, "test")}
    assert tests == {
        "one": {"evaluationResult": False},
        "two": {"evaluationResult": True},
        "three": {"evaluationResult": False},
    }


def test_each_sequential_with_tolerated_failures_warns(h: Harness) -> None:
    done = h.start("each-sequential")
    assert done.state.current is StateType.WARNING
    assert len(done.task_runs) == 11
    shields = {r.value: r.state.current for r in h.runs_of(done.id, "shield")}
    assert shields == {
        "first": StateType.SUCCESS,
        "second": StateType.WARNING,
        "third": StateType.WARNING,
    }
    assert h.run_of(done.id, "each").state.current is StateType.WARNING
    assert h.run_of(done.id, "end").state.current is StateType.SUCCESS
    assert h.log_messages(done.id, "picky")[0] == "fine"


def test_foreach_over_a_json_string_input(h: Harness) -> None:
    done = h.start("foreach-input")
    assert done.state.current is StateType.SUCCESS
    shows = [(r.value, (r.outputs or {})["value"]) for r in h.runs_of(done.id, "show")]
    assert shows == [("x", "<x>"), ("2", "<2>"), ('{"k":"v"}', '<{"k":"v"}>')]
    assert [r.iteration for r in h.runs_of(done.id, "show")] == [0, 1, 2]
    assert run_states(h.run_of(done.id, "loop")) == ["CREATED", "RUNNING", "SUCCESS"]


IFS_IN_PARALLEL = f"""
id: ifs-in-parallel
namespace: company.team
inputs:
  - id: c1
    type: BOOLEAN
  - id: c2
    type: BOOLEAN
  - id: c3
    type: BOOLEAN
tasks:
  - id: fan
    type: {PARALLEL}
    concurrent: 4
    tasks:
      - id: if1
        type: io.kestra.plugin.core.flow.If
        condition: "{{{{ inputs.c1 }}}}"
        then:
          - id: then1
            type: {LOG}
            message: then1
      - id: if2
        type: io.kestra.plugin.core.flow.If
        condition: "{{{{ inputs.c2 }}}}"
        then:
          - id: then2
            type: {LOG}
            message: then2
      - id: if3
        type: io.kestra.plugin.core.flow.If
        condition: "{{{{ inputs.c3 }}}}"
        then:
          - id: then3
            type: {LOG}
            message: then3
      - id: plain0
        type: {LOG}
        message: plain0
      - id: plain1
        type: {LOG}
        message: plain1
      - id: plain2
        type: {LOG}
        message: plain2
      - id: plain3
        type: {LOG}
        message: plain3
      - id: plain4
        type: {LOG}
        message: plain4
      - id: plain5
        type: {LOG}
        message: plain5
"""

EMPTY_VALUES = f"""
id: empty-values
namespace: company.team
inputs:
  - id: shallow
    type: JSON
  - id: deep
    type: JSON
tasks:
  - id: missing_output
    type: {LOG}
    message: "[{{{{ outputs.nothing_here ?? '' }}}}]"
  - id: empty_string
    type: {LOG}
    message: "[{{{{ inputs['shallow']['key'] }}}}]"
  - id: empty_object
    type: {LOG}
    message: "[{{{{ inputs.deep.inner.empty }}}}]"
"""


def test_ifs_in_a_parallel_with_a_concurrency_limit() -> None:
    h = Harness([IFS_IN_PARALLEL])
    h.auto_work = False
    started = h.start("ifs-in-parallel", {"c1": True, "c2": False, "c3": True})
    fan = h.run_of(started.id, "fan")
    children = [r for r in started.task_runs if r.parent_task_run_id == fan.id]
    # concurrent: 4 bounds the unfinished children (an If counts while its branch runs; the
    # false one ends at once and frees its slot in the same transition).
    assert sum(not r.state.current.is_terminated for r in children) == 4
    assert [r.task_id for r in children] == ["if1", "if2", "if3", "plain0", "plain1"]
    h.auto_work = True
    h.run()
    done = h.get(started.id)
    assert done.state.current is StateType.SUCCESS
    assert len(done.task_runs) == 12
    assert h.runs_of(done.id, "then2") == []


def test_empty_values_render_without_failing() -> None:
    h = Harness([EMPTY_VALUES])
    done = h.start(
        "empty-values",
        {"shallow": '{"key": ""}', "deep": '{"inner": {"empty": {}}}'},
    )
    assert done.state.current is StateType.SUCCESS
    assert len(done.task_runs) == 3
    assert h.log_messages(done.id) == ["[]", "[]", "[{}]"]
