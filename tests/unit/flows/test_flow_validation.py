"""Validation gathers every problem, each with its path and line."""

from __future__ import annotations

from textwrap import dedent

import pytest

from perch.errors import FlowParseError, FlowValidationError, Problem
from perch.flows import check_flow, flow_warnings, parse_flow, validate_flow
from perch.flows.tasks.core import Log
from perch.flows.tasks.notifications import SlackIncomingWebhook


def found(source: str) -> list[tuple[str, int | None, str]]:
    # strict: the warnings (an undeclared input) are listed with the problems
    return [(p.path, p.line, p.message) for p in validate_flow(dedent(source), strict=True)]


MANY_PROBLEMS = """\
id: bad flow
namespace: Company
inputs:
  - id: name
    type: STRING
  - id: name
    type: INT
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Logg
    message: hi
  - id: hello
    type: Pause
    pauseDuration: PT5X
    behavior: STOP
    onResume:
      - id: ok
        type: BOOL
        bogus: 1
  - id: cond
    type: If
    condition: "{{ inputs.nme }}"
    then:
      - id: t1
        type: Log
        mesage: "{{ outputs.hello.onResume.nope }}"
      - id: hello
        type: Log
        message: "{{ inputs.name | }}"
    else: 3
  - id: -bad
    type: Log
    message: x
triggers:
  - id: s
    type: Schedule
    cron: "61 * * * *"
  - id: s
    type: Schedule
    cron: "0 0 * * * *"
  - id: hook
    type: Webhok
    key: abc
"""


def test_a_flow_with_many_problems_reports_them_all_at_once() -> None:
    problems = validate_flow(MANY_PROBLEMS, strict=True)
    assert [(p.path, p.line, p.message) for p in problems] == [
        (
            "id",
            1,
            "'bad flow' is not a valid flow id: use letters, digits, '.', '_' and '-', "
            "starting with a letter or a digit",
        ),
        (
            "namespace",
            2,
            "'Company' is not a valid namespace: use lowercase letters, digits, '.', '_' and "
            "'-', starting with a letter or a digit",
        ),
        ("inputs[1].id", 6, "duplicate input id (already declared at inputs[0])"),
        (
            "tasks[0].type",
            10,
            "unknown task type 'io.kestra.plugin.core.log.Logg' "
            "(did you mean 'io.kestra.plugin.core.log.Log'?)",
        ),
        ("tasks[1].id", 12, "duplicate task id 'hello' (already used at tasks[0])"),
        (
            "tasks[1].pauseDuration",
            14,
            "'PT5X' is not an ISO-8601 duration such as PT5M or P1DT2H",
        ),
        (
            "tasks[1].behavior",
            15,
            "must be one of RESUME, WARN, CANCEL, FAIL, or an expression; got 'STOP'",
        ),
        ("tasks[1].onResume[0].bogus", 19, "unknown property 'bogus'"),
        (
            "tasks[2].condition",
            22,
            "'inputs.nme' is not an input of this flow (did you mean 'name'?)",
        ),
        ("tasks[2].then[0].message", 24, "missing required property 'message'"),
        ("tasks[2].then[0].mesage", 26, "unknown property 'mesage' (did you mean 'message'?)"),
        (
            "tasks[2].then[0].mesage",
            26,
            "'outputs.hello.onResume.nope' is not an onResume input of task 'hello'",
        ),
        ("tasks[2].then[1].id", 27, "duplicate task id 'hello' (already used at tasks[0])"),
        (
            "tasks[2].then[1].message",
            29,
            "template syntax error: Unexpected token '}}', expected a filter name",
        ),
        ("tasks[2].else", 30, "must be a list of tasks (items written '- id: …'), got 3"),
        (
            "tasks[3].id",
            31,
            "'-bad' is not a valid id: use letters, digits, '_' and '-', "
            "starting with a letter or a digit",
        ),
        ("triggers[0].cron", 37, "'61 * * * *' is not a valid cron expression: bad minute"),
        ("triggers[1].id", 38, "duplicate trigger id 's' (already triggers[0])"),
        (
            "triggers[1].cron",
            40,
            "'0 0 * * * *' is not a cron expression: it has 6 fields, expected 5 (minute hour "
            "day-of-month month day-of-week); set withSeconds: true to use a seconds field",
        ),
        ("triggers[2].type", 42, "unknown trigger type 'Webhok' (did you mean 'Webhook'?)"),
    ]


def test_parse_flow_raises_with_every_problem() -> None:
    with pytest.raises(FlowValidationError) as caught:
        parse_flow(MANY_PROBLEMS, filename="bad.yaml")
    # The read of an undeclared input is a warning, not one of the problems.
    assert len(caught.value.problems) == 19
    assert caught.value.message == "bad.yaml: the flow has 19 problems"
    assert not isinstance(caught.value, FlowParseError)


def test_yaml_syntax_errors_raise_flow_parse_error() -> None:
    with pytest.raises(FlowParseError) as caught:
        parse_flow("id: a\nnamespace: b\ntasks: [\n")
    assert caught.value.problems[0].message.startswith("invalid YAML")


def test_missing_top_level_keys_point_at_the_document() -> None:
    assert found("description: nothing else\n") == [
        ("id", 1, "missing required property 'id'"),
        ("namespace", 1, "missing required property 'namespace'"),
        ("tasks", 1, "missing required property 'tasks'"),
    ]


def test_empty_task_list() -> None:
    assert found("id: a\nnamespace: b\ntasks: []\n") == [("tasks", 3, "must not be empty")]


def test_unknown_flow_keys_suggest_the_right_one() -> None:
    assert found("id: a\nnamespace: b\ntask: []\ntasks: [{id: t, type: Log, message: m}]\n") == [
        ("task", 3, "unknown property 'task' (did you mean 'tasks'?)")
    ]


def test_wrong_types_are_reported_where_they_are() -> None:
    source = """\
        id: a
        namespace: b
        disabled: maybe
        concurrency: {limit: 0, behavior: WAIT}
        tasks:
          - id: p
            type: Parallel
            concurrent: many
            tasks:
              - {id: l, type: Log, message: m}
        """
    assert found(source) == [
        ("disabled", 3, "expected true or false, got 'maybe'"),
        ("concurrency.behavior", 4, "must be one of QUEUE, CANCEL, FAIL; got 'WAIT'"),
        ("concurrency.limit", 4, "must be at least 1, got 0"),
        ("tasks[0].concurrent", 8, "must be a whole number, or an expression; got 'many'"),
    ]


def test_a_task_without_type_or_that_is_not_a_mapping() -> None:
    source = """\
        id: a
        namespace: b
        tasks:
          - id: no_type
            message: m
          - just a string
        """
    assert found(source) == [
        ("tasks[0]", 4, "missing required property 'type'"),
        (
            "tasks[1]",
            6,
            "must be a task: a mapping with at least 'id' and 'type', got 'just a string'",
        ),
    ]


def test_duplicate_ids_across_errors_finally_after_execution_and_on_pause() -> None:
    source = """\
        id: a
        namespace: b
        tasks:
          - id: wait
            type: Pause
            onPause: {id: x, type: Log, message: m}
        errors:
          - {id: x, type: Log, message: m}
        finally:
          - {id: wait, type: Log, message: m}
        afterExecution:
          - {id: x, type: Log, message: m}
        """
    assert found(source) == [
        ("errors[0].id", 8, "duplicate task id 'x' (already used at tasks[0].onPause)"),
        ("finally[0].id", 10, "duplicate task id 'wait' (already used at tasks[0])"),
        ("afterExecution[0].id", 12, "duplicate task id 'x' (already used at tasks[0].onPause)"),
    ]


def test_template_errors_in_block_scalars_point_at_the_line_inside() -> None:
    source = """\
        id: a
        namespace: b
        tasks:
          - id: l
            type: Log
            message: |
              first line
              second {{ broken( }}
        """
    problems = validate_flow(dedent(source), strict=True)
    assert [(p.path, p.line) for p in problems] == [("tasks[0].message", 8)]
    assert problems[0].message.startswith("template syntax error")


@pytest.mark.parametrize("where", ["variables", "outputs", "labels", "triggers"])
def test_templates_are_checked_outside_tasks_too(where: str) -> None:
    blocks = {
        "variables": "variables:\n  x: '{{ inputs.missing }}'\n",
        "outputs": "outputs:\n  - {id: o, type: STRING, value: '{{ inputs.missing }}'}\n",
        "labels": "labels:\n  team: '{{ inputs.missing }}'\n",
        "triggers": (
            "triggers:\n"
            "  - {id: s, type: Schedule, cron: '@daily', inputs: {a: '{{ inputs.missing }}'}}\n"
        ),
    }
    source = "id: a\nnamespace: b\ntasks: [{id: t, type: Log, message: m}]\n" + blocks[where]
    problems = validate_flow(source, strict=True)
    assert [p.message for p in problems] == ["'inputs.missing' is not an input of this flow"]
    assert problems[0].line == 5
    assert problems[0].path.startswith(where)


def test_nested_input_ids_make_their_group_and_members_valid() -> None:
    source = """\
        id: a
        namespace: b
        inputs:
          - {id: request.name, type: STRING}
          - {id: payload, type: JSON}
        tasks:
          - id: l
            type: Log
            message: "{{ inputs.request }} {{ inputs.request.name }} {{ inputs.payload.deep.key }}"
          - id: m
            type: Log
            message: "{{ inputs.request.other }} {{ inputs['payload'] }}"
        """
    assert found(source) == [
        (
            "tasks[1].message",
            12,
            "'inputs.request.other' is not an input of this flow (did you mean 'request.name'?)",
        )
    ]


def test_cron_forms_kestra_accepts() -> None:
    source = """\
        id: a
        namespace: b
        tasks: [{id: t, type: Log, message: m}]
        triggers:
          - {id: a, type: Schedule, cron: "@hourly"}
          - {id: b, type: Schedule, cron: "*/15 * * * *", timezone: Europe/Paris}
          - {id: c, type: Schedule, cron: "*/5 * * * * *", withSeconds: true}
          - {id: d, type: Schedule, cron: "0 11 ? * MON"}
          - {id: e, type: Schedule, cron: "0 9 LW * *"}
          - {id: f, type: Schedule, cron: "@sometimes"}
          - {id: g, type: Schedule, cron: "75 * * * * *", withSeconds: true}
        """
    assert [(p, line) for p, line, _ in found(source)] == [
        ("triggers[5].cron", 10),
        ("triggers[6].cron", 11),
    ]


def test_plugin_defaults_fill_missing_properties() -> None:
    source = """\
        id: a
        namespace: b
        tasks:
          - {id: s, type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook}
          - {id: l, type: Log, message: own, level: ERROR}
        pluginDefaults:
          - type: io.kestra.plugin.notifications
            values: {url: "https://hooks.example.com"}
          - type: io.kestra.plugin.core.log.Log
            forced: true
            values: {level: WARN}
        """
    flow = parse_flow(dedent(source))
    slack, log = flow.tasks
    assert isinstance(slack, SlackIncomingWebhook)
    assert slack.url == "https://hooks.example.com"
    assert isinstance(log, Log)
    assert log.level == "WARN"
    assert flow.source == dedent(source)


def test_source_is_kept_byte_for_byte() -> None:
    source = (
        "# a comment\r\nid: a\r\nnamespace: b\r\ntasks:\r\n  - {id: t, type: Log, message: m}\r\n"
    )
    assert parse_flow(source).source == source


def test_labels_as_list_or_map() -> None:
    base = "id: a\nnamespace: b\ntasks: [{id: t, type: Log, message: m}]\n"
    as_list = parse_flow(base + "labels:\n  - {key: team, value: hr}\n")
    as_map = parse_flow(base + "labels:\n  team: hr\n")
    assert as_list.labels == as_map.labels == {"team": "hr"}
    assert found(base + "labels:\n  - {name: team}\n") == [
        ("labels", 4, "item 0 must be a mapping with exactly 'key' and 'value'")
    ]


def test_problem_objects_carry_line_and_column() -> None:
    problems = validate_flow("id: a\nnamespace: b\ntasks: [{id: t, type: Nope}]\n")
    assert problems == [Problem("tasks[0].type", "unknown task type 'Nope'", 3, 17)]


def test_nested_unknown_properties_get_suggestions() -> None:
    source = """\
        id: a
        namespace: b
        inputs:
          - {id: n, type: INT, maxx: 3}
        tasks:
          - id: p
            type: Pause
            onResume:
              - {id: ok, type: BOOL, requird: true}
              - {id: s, type: SELECT, values: [a, b], isRadioo: true}
          - {id: r, type: Log, message: m, retry: {type: constant, interval: PT1S, maxAttemps: 3}}
          - {id: h, type: HumanTask, assignment: {user: [ann]}}
        triggers:
          - {id: f, type: Flow, preconditions: {id: x, flows: [{namespace: a, flowID: b}]}}
        """
    assert found(source) == [
        ("inputs[0].maxx", 4, "unknown property 'maxx' (did you mean 'max'?)"),
        (
            "tasks[0].onResume[0].requird",
            9,
            "unknown property 'requird' (did you mean 'required'?)",
        ),
        (
            "tasks[0].onResume[1].isRadioo",
            10,
            "unknown property 'isRadioo' (did you mean 'isRadio'?)",
        ),
        (
            "tasks[1].retry.maxAttemps",
            11,
            "unknown property 'maxAttemps' (did you mean 'maxAttempts'?)",
        ),
        ("tasks[2].assignment.user", 12, "unknown property 'user' (did you mean 'users'?)"),
        (
            "triggers[0].preconditions.flows[0].flowID",
            14,
            "unknown property 'flowID' (did you mean 'flowId'?)",
        ),
    ]


def test_unknown_input_and_retry_types_point_at_type() -> None:
    source = """\
        id: a
        namespace: b
        inputs:
          - {id: n, type: STRANG}
          - {id: m}
        tasks:
          - {id: r, type: Log, message: m, retry: {type: linear, interval: PT1S}}
        """
    assert found(source) == [
        ("inputs[0].type", 4, "unknown type 'STRANG' (did you mean 'STRING'?)"),
        ("inputs[1].type", 5, "missing required property 'type'"),
        (
            "tasks[0].retry.type",
            7,
            "unknown type 'linear' (expected one of constant, exponential, random)",
        ),
    ]


def test_resume_inputs_may_refer_to_each_other() -> None:
    source = """\
        id: a
        namespace: b
        tasks:
          - id: p
            type: Pause
            onResume:
              - {id: approved, type: BOOL}
              - id: reason
                type: STRING
                dependsOn:
                  inputs: [approved]
                  condition: "{{ inputs.approved == false }}"
              - id: extra
                type: STRING
                dependsOn: {inputs: [approved], condition: "{{ inputs.unknown }}"}
              - {id: approved, type: STRING}
          - {id: l, type: Log, message: "{{ inputs.approved }}"}
        """
    assert found(source) == [
        (
            "tasks[0].onResume[2].dependsOn.condition",
            15,
            "'inputs.unknown' is not an input of this flow",
        ),
        ("tasks[0].onResume[3].id", 16, "duplicate input id (already declared at onResume[0])"),
        ("tasks[1].message", 17, "'inputs.approved' is not an input of this flow"),
    ]


def test_forbidden_attributes_and_unknown_filters_are_problems_not_crashes() -> None:
    source = """\
        id: a
        namespace: b
        tasks:
          - id: l
            type: Log
            message: "{{ flow.__class__ }}"
          - id: m
            type: Log
            message: "{{ flow.id | nope }}"
        """
    problems = found(source)
    assert [(path, line) for path, line, _ in problems] == [
        ("tasks[0].message", 6),
        ("tasks[1].message", 9),
    ]
    assert "'__class__' is not allowed" in problems[0][2]
    assert "Unknown filter 'nope'" in problems[1][2]


def test_what_kestra_accepts_and_fails_at_run_time_is_a_warning() -> None:
    # Kestra deploys a flow reading an undeclared input (task-flow-dynamic.yaml reads
    # inputs.namespace) or with a broken flowable condition: both fail only when they run.
    source = dedent(
        """\
        id: f
        namespace: team
        tasks:
          - id: call
            type: io.kestra.plugin.core.flow.Subflow
            namespace: "{{ inputs.namespace }}"
            flowId: child
          - id: check
            type: io.kestra.plugin.core.flow.If
            condition: "{{ 1 | nosuchfilter }}"
            then:
              - id: log
                type: io.kestra.plugin.core.log.Log
                message: "{{ 1 | nosuchfilter }}"
        """
    )
    result = check_flow(source)
    # The same template in a Log's message is still a problem: only conditions are lenient.
    assert [(p.path, p.line, p.message) for p in result.problems] == [
        ("tasks[1].then[0].message", 14, "template syntax error: Unknown filter 'nosuchfilter'")
    ]
    assert [(p.path, p.line, p.message) for p in result.warnings] == [
        ("tasks[0].namespace", 6, "'inputs.namespace' is not an input of this flow"),
        ("tasks[1].condition", 10, "template syntax error: Unknown filter 'nosuchfilter'"),
    ]
    lenient = source.replace('message: "{{ 1 | nosuchfilter }}"', "message: hi")
    assert validate_flow(lenient) == []
    assert flow_warnings(lenient) == check_flow(lenient).warnings
    assert [p.path for p in validate_flow(lenient, strict=True)] == [
        "tasks[0].namespace",
        "tasks[1].condition",
    ]
    assert parse_flow(lenient).id == "f"


def test_a_subflow_cannot_pass_system_labels() -> None:
    # Kestra's Subflow refuses them too (NoSystemLabelValidation).
    source = dedent(
        """\
        id: f
        namespace: team
        tasks:
          - id: call
            type: io.kestra.plugin.core.flow.Subflow
            namespace: team
            flowId: child
            labels:
              - key: system.correlationId
                value: hijacked
              - key: team
                value: data
        """
    )
    assert [(p.path, p.line) for p in validate_flow(source)] == [("tasks[0].labels", 8)]
    assert "'system.correlationId'" in validate_flow(source)[0].message
