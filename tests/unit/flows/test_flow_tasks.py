"""Task models, one family at a time, through the real parser."""

from __future__ import annotations

from textwrap import dedent

import pytest

from perch.flows import Flow, TaskKind, parse_flow, validate_flow
from perch.flows.tasks.core import Log, OutputValues, Return, Sleep
from perch.flows.tasks.flowable import ForEach, If, Parallel, Subflow, Switch
from perch.flows.tasks.http import Request
from perch.flows.tasks.kv import KvDelete, KvGet, KvSet
from perch.flows.tasks.notifications import MailSend, SlackIncomingWebhook, TeamsIncomingWebhook
from perch.flows.tasks.pause import HumanTask, Pause
from perch.flows.tasks.scripts import PythonScript, ShellCommands


def flow_with(tasks: str, *, inputs: str = "") -> str:
    body = dedent(tasks).strip("\n")
    indented = "\n".join("  " + line if line else line for line in body.splitlines())
    head = "id: f\nnamespace: company.team\n"
    if inputs:
        head += "inputs:\n" + "\n".join("  " + ln for ln in dedent(inputs).strip().splitlines())
        head += "\n"
    return f"{head}tasks:\n{indented}\n"


def parse(tasks: str, **kwargs: str) -> Flow:
    return parse_flow(flow_with(tasks, **kwargs))


def messages(tasks: str, **kwargs: str) -> list[tuple[str, str, int | None]]:
    return [(p.path, p.message, p.line) for p in validate_flow(flow_with(tasks, **kwargs))]


def test_core_tasks() -> None:
    flow = parse(
        """
        - id: log
          type: io.kestra.plugin.core.log.Log
          message: [one, two]
          level: WARN
        - id: ret
          type: io.kestra.core.tasks.debugs.Return
          format: "{{ task.id }}"
        - id: out
          type: OutputValues
          values: {a: 1, b: "{{ flow.id }}"}
        - id: nap
          type: io.kestra.plugin.core.flow.Sleep
          duration: PT1S
        - id: fail
          type: io.kestra.plugin.core.execution.Fail
          errorMessage: boom
        """
    )
    log, ret, out, nap, fail = flow.tasks
    assert isinstance(log, Log)
    assert log.message == ["one", "two"]
    assert log.level == "WARN"
    assert isinstance(ret, Return)
    assert ret.canonical_type == "io.kestra.plugin.core.debug.Return"
    assert isinstance(out, OutputValues)
    assert out.values == {"a": 1, "b": "{{ flow.id }}"}
    assert isinstance(nap, Sleep)
    assert nap.duration == "PT1S"
    assert fail.kind is TaskKind.RUNNABLE


def test_log_level_must_be_known() -> None:
    assert messages("- {id: l, type: Log, message: hi, level: LOUD}") == [
        (
            "tasks[0].level",
            "must be one of TRACE, DEBUG, INFO, WARN, ERROR, or an expression; got 'LOUD'",
            4,
        )
    ]


def test_flowable_tasks_nest_and_walk() -> None:
    flow = parse(
        """
        - id: branch
          type: io.kestra.plugin.core.flow.If
          condition: "{{ true }}"
          then:
            - id: par
              type: Parallel
              concurrent: 2
              tasks:
                - {id: a, type: Log, message: a}
                - {id: b, type: Log, message: b}
          else:
            - id: sw
              type: Switch
              value: "{{ 'x' }}"
              cases:
                x:
                  - {id: c, type: Log, message: c}
              defaults:
                - {id: d, type: Log, message: d}
          errors:
            - {id: e, type: Log, message: e}
          finally:
            - {id: f1, type: Log, message: f}
        - id: each
          type: ForEach
          values: ["v1", "v2"]
          concurrencyLimit: 0
          tasks:
            - id: seq
              type: io.kestra.core.tasks.flows.Sequential
              tasks:
                - {id: g, type: Log, message: "{{ taskrun.value }}"}
        """
    )
    branch = flow.tasks[0]
    assert isinstance(branch, If)
    assert isinstance(branch.then[0], Parallel)
    assert branch.then[0].concurrent == 2
    assert isinstance(branch.else_ and branch.else_[0], Switch)
    ids = [task.id for task in flow.all_tasks()]
    assert ids == ["branch", "par", "a", "b", "sw", "c", "d", "e", "f1", "each", "seq", "g"]
    paths = {t.id: p for p, t in flow.walk_tasks()}
    assert paths["c"] == ("tasks", 0, "else", 0, "cases", "x", 0)
    assert paths["f1"] == ("tasks", 0, "finally", 0)
    assert branch.kind is TaskKind.FLOWABLE
    each = flow.tasks[1]
    assert isinstance(each, ForEach)
    assert each.concurrencyLimit == 0


@pytest.mark.parametrize(
    ("values", "ok"),
    [('["a", "b"]', True), ('\'["a", "b"]\'', True), ('"{{ inputs.items }}"', True), ("12", False)],
)
def test_foreach_values_forms(values: str, ok: bool) -> None:
    tasks = f"""
        - id: each
          type: ForEach
          values: {values}
          tasks:
            - {{id: g, type: Log, message: hi}}
        """
    found = messages(tasks, inputs="- {id: items, type: JSON}")
    if ok:
        assert found == []
    else:
        assert [(path, line) for path, _, line in found] == [("tasks[0].values", 8)]


def test_if_needs_then() -> None:
    assert messages("- {id: i, type: If, condition: x}") == [
        ("tasks[0].then", "missing required property 'then'", 4)
    ]


def test_subflow_properties() -> None:
    flow = parse(
        """
        - id: child
          type: io.kestra.core.tasks.flows.Flow
          namespace: demo
          flowId: downstream
          inputs: {a: 1}
          labels: [{key: team, value: ops}]
          wait: false
          transmitFailed: "{{ true }}"
          inheritLabels: true
          restartBehavior: NEW_EXECUTION
        """
    )
    child = flow.tasks[0]
    assert isinstance(child, Subflow)
    assert child.labels == {"team": "ops"}
    assert child.wait is False
    assert child.transmitFailed == "{{ true }}"
    assert child.kind is TaskKind.FLOWABLE
    assert child.canonical_type == "io.kestra.plugin.core.flow.Subflow"


def test_pause_accepts_expressions_and_deprecated_delay() -> None:
    flow = parse(
        """
        - id: wait
          type: Pause
          pauseDuration: "{{ inputs.delay }}"
          behavior: "{{ inputs.behavior }}"
          timeout: PT1H
          onPause:
            id: notify
            type: Log
            message: paused
          onResume:
            - {id: approved, type: BOOL}
        - id: old
          type: io.kestra.core.tasks.flows.Pause
          delay: PT30S
        """,
        inputs="""
        - {id: delay, type: DURATION}
        - {id: behavior, type: STRING}
        """,
    )
    wait, old = flow.tasks
    assert isinstance(wait, Pause)
    assert wait.behavior == "{{ inputs.behavior }}"
    assert wait.onPause is not None
    assert wait.onPause.id == "notify"
    assert wait.onResume is not None
    assert wait.onResume[0].id == "approved"
    assert isinstance(old, Pause)
    assert old.effective_duration == "PT30S"
    assert [t.id for t in flow.all_tasks()] == ["wait", "notify", "old"]


def test_pause_on_pause_is_a_single_task() -> None:
    found = messages(
        """
        - id: wait
          type: Pause
          onPause:
            - {id: notify, type: Log, message: x}
        """
    )
    assert found == [
        (
            "tasks[0].onPause",
            "must be a task: a mapping with at least 'id' and 'type', got a list",
            6,
        )
    ]


def test_human_task_assignment() -> None:
    flow = parse(
        """
        - id: approve
          type: io.kestra.plugin.ee.flow.HumanTask
          assignment:
            users: [ann@example.com]
            groups: [Security Team]
          behavior: FAIL
          pauseDuration: P2D
        """
    )
    task = flow.tasks[0]
    assert isinstance(task, HumanTask)
    assert isinstance(task, Pause)
    assert task.assignment is not None
    assert task.assignment.users == ["ann@example.com"]
    assert task.assignment.groups == ["Security Team"]
    assert messages("- {id: h, type: HumanTask, assignment: {roles: [x]}}") == [
        ("tasks[0].assignment.roles", "unknown property 'roles'", 4)
    ]


def test_http_and_notification_tasks() -> None:
    flow = parse(
        """
        - id: call
          type: io.kestra.plugin.fs.http.Request
          uri: https://example.com
          method: POST
          headers: {X-Id: 1}
          formData: {a: b}
          options: {timeout: {connectTimeout: PT5S}}
        - id: slack
          type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
          url: https://hooks.example.com
          payload: '{"text": "hi"}'
        - id: teams
          type: TeamsIncomingWebhook
          url: https://teams.example.com
          payload: '{"text": "hi"}'
        - id: mail
          type: io.kestra.plugin.notifications.mail.MailSend
          from: bot@example.com
          to: ann@example.com
          subject: hello
          port: 465
          transportStrategy: SMTPS
          htmlTextContent: "<b>hi</b>"
        """
    )
    call, slack, teams, mail = flow.tasks
    assert isinstance(call, Request)
    assert call.headers == {"X-Id": "1"}
    assert call.method == "POST"
    assert isinstance(slack, SlackIncomingWebhook)
    assert isinstance(teams, TeamsIncomingWebhook)
    assert isinstance(mail, MailSend)
    assert mail.from_ == "bot@example.com"
    assert mail.port == 465
    dumped = mail.model_dump(by_alias=True, exclude_unset=True)
    assert dumped["from"] == "bot@example.com"


def test_scripts_and_kv_tasks() -> None:
    flow = parse(
        """
        - id: sh
          type: io.kestra.plugin.scripts.shell.Commands
          taskRunner: {type: io.kestra.plugin.core.runner.Process}
          commands: [echo hi]
        - id: py
          type: io.kestra.plugin.scripts.python.Script
          beforeCommands: [pip install requests]
          script: print(1)
        - id: put
          type: io.kestra.plugin.core.kv.Set
          key: k
          value: {nested: true}
          ttl: P1D
          kvType: JSON
        - {id: get, type: io.kestra.plugin.core.kv.Get, key: k, errorOnMissing: true}
        - {id: del, type: io.kestra.plugin.core.kv.Delete, key: k}
        """
    )
    sh, py, put, get, delete = flow.tasks
    assert isinstance(sh, ShellCommands)
    assert sh.commands == ["echo hi"]
    assert isinstance(py, PythonScript)
    assert py.script == "print(1)"
    assert isinstance(put, KvSet)
    assert put.value == {"nested": True}
    assert isinstance(get, KvGet)
    assert get.errorOnMissing is True
    assert isinstance(delete, KvDelete)
    assert messages(
        "- {id: put, type: io.kestra.plugin.core.kv.Set, key: k, value: v, ttl: 1d}"
    ) == [("tasks[0].ttl", "'1d' is not an ISO-8601 duration such as PT5M or P1DT2H", 4)]


def test_common_properties_and_retry() -> None:
    flow = parse(
        """
        - id: t
          type: Log
          message: hi
          description: a task
          disabled: true
          runIf: "{{ true }}"
          allowFailure: true
          timeout: PT10M
          logLevel: DEBUG
          retry:
            type: exponential
            interval: PT1S
            maxInterval: PT1M
            maxAttempts: 5
        """
    )
    task = flow.tasks[0]
    assert task.disabled
    assert task.allowFailure
    assert task.timeout == "PT10M"
    assert task.retry is not None
    assert task.retry.type == "exponential"
    assert task.retry.maxAttempts == 5
    found = messages("- {id: t, type: Log, message: m, retry: {type: constant, interval: soon}}")
    assert found == [
        ("tasks[0].retry.interval", "'soon' is not an ISO-8601 duration such as PT5M or P1DT2H", 4)
    ]


def test_strings_accept_yaml_numbers_and_booleans() -> None:
    flow = parse("- {id: t, type: Log, message: 42}")
    log = flow.tasks[0]
    assert isinstance(log, Log)
    assert log.message == "42"
