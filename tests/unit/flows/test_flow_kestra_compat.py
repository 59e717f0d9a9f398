"""Regressions from the sweep over Kestra's own flows: what Kestra accepts, Perch accepts, and
what Kestra refuses, Perch refuses. Every flow here is written for the test."""

from __future__ import annotations

from textwrap import dedent

import pytest

from perch.flows import parse_flow, validate_flow
from perch.flows.tasks.core import Log
from perch.flows.tasks.notifications import MailSend, SlackIncomingWebhook
from perch.flows.tasks.scripts import PythonScript


def messages(source: str) -> list[tuple[str, str]]:
    # strict: the warnings (an undeclared input) are listed with the problems
    return [(p.path, p.message) for p in validate_flow(dedent(source), strict=True)]


def one_log(message: str, inputs: str = "") -> str:
    return dedent(
        """\
        id: f
        namespace: team
        {inputs}
        tasks:
          - id: say
            type: io.kestra.plugin.core.log.Log
            message: "{message}"
        """
    ).format(inputs=inputs, message=message)


# --- accepted like Kestra ---------------------------------------------------------------------


def test_numeric_ids_are_read_as_text() -> None:
    flow = parse_flow(
        dedent(
            """\
            id: 2024
            namespace: team
            inputs:
              - id: 7
                type: STRING
                defaults: x
            tasks:
              - id: outer
                type: io.kestra.plugin.core.flow.Sequential
                tasks:
                  - id: 1
                    type: io.kestra.plugin.core.debug.Return
                    format: "{{ inputs['7'] }}"
            triggers:
              - id: 3
                type: io.kestra.plugin.core.trigger.Schedule
                cron: "@daily"
            """
        )
    )
    assert flow.id == "2024"
    assert flow.find_task("1") is not None
    assert flow.inputs is not None
    assert flow.inputs[0].id == "7"
    assert flow.triggers is not None
    assert flow.triggers[0].id == "3"


def test_numeric_ids_still_count_as_duplicates() -> None:
    source = """\
        id: f
        namespace: team
        tasks:
          - id: 1
            type: io.kestra.plugin.core.debug.Return
          - id: 1
            type: io.kestra.plugin.core.debug.Return
        """
    assert messages(source) == [("tasks[1].id", "duplicate task id '1' (already used at tasks[0])")]


def test_exported_flow_keys_deleted_false_is_accepted_and_true_refused() -> None:
    base = "id: f\nnamespace: team\ntasks:\n  - id: a\n    type: Log\n    message: x\n"
    assert parse_flow(base + "disabled: false\ndeleted: false\n").deleted is False
    assert [path for path, _ in messages(base + "deleted: true\n")] == ["deleted"]


@pytest.mark.parametrize(
    "expression",
    [
        "{{ inputs.missing ?? 'none' }}",
        "{{ inputs.missing ??? 'none' }}",
        "{{ inputs.first ?? inputs.second ?? 'none' }}",
        "{{ inputs.missing | upper ?? 'none' }}",
        "{% if inputs.missing is defined %}{{ inputs.missing.part }}{% endif %}",
        "{% if inputs.missing is not defined %}none{% endif %}",
        "{{ inputs.missing | default('none') }}",
    ],
)
def test_guarded_reads_of_undeclared_inputs_are_not_problems(expression: str) -> None:
    assert messages(one_log(expression)) == []


@pytest.mark.parametrize(
    ("expression", "name"),
    [
        ("{{ inputs.missing }}", "missing"),
        ("{{ inputs.other ?? 1 }} {{ inputs.missing }}", "missing"),
        ("{{ inputs.other ?? inputs.missing }}", "missing"),
    ],
)
def test_unguarded_reads_of_undeclared_inputs_are_still_problems(
    expression: str, name: str
) -> None:
    assert messages(one_log(expression)) == [
        ("tasks[0].message", f"'inputs.{name}' is not an input of this flow")
    ]


def test_guarded_resume_input_is_not_a_problem() -> None:
    source = """\
        id: f
        namespace: team
        tasks:
          - id: wait
            type: io.kestra.plugin.core.flow.Pause
            onResume:
              - id: reason
                type: STRING
          - id: after
            type: Log
            message: "{{ outputs.wait.onResume.note ?? 'no note' }}"
        """
    assert messages(source) == []


def test_python_package_manager_properties() -> None:
    flow = parse_flow(
        dedent(
            """\
            id: f
            namespace: team
            tasks:
              - id: py
                type: io.kestra.plugin.scripts.python.Script
                packageManager: PIP
                uvAutoInstallEnabled: false
                uvInstallerVersion: "0.5.0"
                script: print(1)
            """
        )
    )
    task = flow.tasks[0]
    assert isinstance(task, PythonScript)
    assert task.packageManager == "PIP"
    python = "io.kestra.plugin.scripts.python.Script"
    bad = f"id: f\nnamespace: t\ntasks:\n  - id: py\n    type: {python}\n"
    assert [p for p, _ in messages(bad + "    packageManager: CONDA\n    script: x\n")] == [
        "tasks[0].packageManager"
    ]


def test_trigger_properties_of_kestra_1() -> None:
    flow = parse_flow(
        dedent(
            """\
            id: f
            namespace: team
            tasks:
              - id: a
                type: Log
                message: x
            triggers:
              - id: nightly
                type: io.kestra.plugin.core.trigger.Schedule
                cron: "@daily"
                minLogLevel: WARN
                failOnTriggerError: true
                allowConcurrent: true
            """
        )
    )
    assert flow.triggers is not None
    trigger = flow.triggers[0]
    assert (trigger.logLevel, trigger.failOnTriggerError, trigger.allowConcurrent) == (
        "WARN",
        True,
        True,
    )


def test_plugin_default_values_a_task_lacks_are_dropped_not_reported() -> None:
    flow = parse_flow(
        dedent(
            """\
            id: f
            namespace: team
            pluginDefaults:
              - type: io.kestra.plugin.notifications
                values:
                  url: https://hooks.example.com/x
              - type: io.kestra.plugin.core
                values:
                  level: WARN
            tasks:
              - id: chat
                type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
                messageText: hi
              - id: mail
                type: io.kestra.plugin.notifications.mail.MailSend
                to: a@example.com
              - id: ret
                type: io.kestra.plugin.core.debug.Return
              - id: say
                type: io.kestra.plugin.core.log.Log
                message: x
            """
        )
    )
    chat, mail, _, say = flow.tasks
    assert isinstance(chat, SlackIncomingWebhook)
    assert chat.url == "https://hooks.example.com/x"
    assert isinstance(mail, MailSend)
    assert isinstance(say, Log)
    assert say.level == "WARN"


def test_plugin_default_type_is_a_plain_prefix() -> None:
    flow = parse_flow(
        dedent(
            """\
            id: f
            namespace: team
            pluginDefaults:
              - type: io.kestra.plugin.notifications.slack.Slack
                values:
                  url: https://hooks.example.com/x
            tasks:
              - id: chat
                type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
                messageText: hi
            """
        )
    )
    chat = flow.tasks[0]
    assert isinstance(chat, SlackIncomingWebhook)
    assert chat.url == "https://hooks.example.com/x"


def test_plugin_default_with_a_bad_value_is_still_reported() -> None:
    source = """\
        id: f
        namespace: team
        pluginDefaults:
          - type: io.kestra.plugin.core.log.Log
            values:
              level: LOUD
        tasks:
          - id: say
            type: io.kestra.plugin.core.log.Log
            message: x
        """
    assert [path for path, _ in messages(source)] == ["tasks[0].level"]


# --- refused like Kestra ----------------------------------------------------------------------


def test_a_flow_cannot_start_itself() -> None:
    source = """\
        id: again
        namespace: team
        tasks:
          - id: loop
            type: io.kestra.plugin.core.flow.Subflow
            namespace: team
            flowId: again
          - id: dynamic
            type: io.kestra.plugin.core.flow.Subflow
            namespace: "{{ flow.namespace }}"
            flowId: "{{ flow.id }}"
        """
    assert messages(source) == [
        ("tasks[0].flowId", "a flow cannot start itself as a subflow (team.again)")
    ]


def test_a_switch_needs_cases_or_defaults() -> None:
    source = """\
        id: f
        namespace: team
        tasks:
          - id: pick
            type: io.kestra.plugin.core.flow.Switch
            value: x
            cases: {}
        """
    assert messages(source) == [("tasks[0]", "a Switch needs tasks in `cases` or in `defaults`")]


def test_system_labels_are_refused_except_read_only() -> None:
    base = "id: f\nnamespace: team\ntasks:\n  - id: a\n    type: Log\n    message: x\n"
    assert parse_flow(base + "labels:\n  system.readOnly: 'true'\n").labels == {
        "system.readOnly": "true"
    }
    problems = messages(base + "labels:\n  system.owner: me\n  team: data\n")
    assert [path for path, _ in problems] == ["labels"]
    assert "'system.owner'" in problems[0][1]


def test_listeners_get_a_message_pointing_to_after_execution() -> None:
    source = """\
        id: f
        namespace: team
        listeners:
          - tasks:
              - id: note
                type: Log
                message: done
        tasks:
          - id: a
            type: Log
            message: x
        """
    [(path, message)] = messages(source)
    assert path == "listeners"
    assert "afterExecution" in message


def test_checks_are_read_and_their_enums_checked() -> None:
    base = "id: f\nnamespace: team\ntasks:\n  - id: a\n    type: Log\n    message: x\n"
    good = base + (
        "checks:\n"
        '  - condition: "{{ 1 == 1 }}"\n'
        "    message: always\n"
        "    style: WARNING\n"
        "    behavior: CREATE_EXECUTION\n"
    )
    flow = parse_flow(good)
    assert flow.checks is not None
    assert flow.checks[0].behavior == "CREATE_EXECUTION"
    bad = base + 'checks:\n  - condition: "{{ true }}"\n    style: LOUD\n'
    assert sorted(path for path, _ in messages(bad)) == ["checks[0].message", "checks[0].style"]


def test_plugin_default_naming_a_type_is_checked_against_it() -> None:
    source = """\
        id: f
        namespace: team
        pluginDefaults:
          - type: io.kestra.plugin.core.log.Log
            values:
              level: WARN
              colour: red
              message: ~
          - type: io.kestra.plugin.core
            values:
              colour: red
        tasks:
          - id: say
            type: io.kestra.plugin.core.log.Log
            message: x
        """
    assert messages(source) == [
        (
            "pluginDefaults[0].values.colour",
            "'colour' is not a property of io.kestra.plugin.core.log.Log",
        ),
        ("pluginDefaults[0].values.message", "no value given for 'message'"),
    ]
