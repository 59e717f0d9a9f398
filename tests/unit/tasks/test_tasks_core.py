"""The core runnable tasks, run the way a worker runs them."""

from __future__ import annotations

from typing import Any

import pytest

from perch import tasks
from perch.engine.states import StateType
from perch.flows import Task, parse_flow
from perch.flows.tasks.scripts import ShellCommands
from perch.tasks import RunContext, TaskOutcome, run_task


def task_of(body: str) -> Task:
    flow = parse_flow(f"id: f\nnamespace: company.team\ntasks:\n  - id: t\n{body}")
    return flow.tasks[0]


def run(body: str, variables: dict[str, Any] | None = None) -> TaskOutcome:
    context = RunContext(variables=variables or {}, execution_id="e", task_run_id="r")
    return run_task(task_of(body), context)


def test_log_one_message_at_a_level() -> None:
    outcome = run(
        "    type: io.kestra.plugin.core.log.Log\n    level: WARN\n    message: 'hi {{ who }}'",
        {"who": "bob"},
    )
    assert outcome == TaskOutcome(StateType.SUCCESS, logs=(("WARN", "hi bob"),))


def test_log_a_list_of_messages_defaults_to_info() -> None:
    outcome = run("    type: io.kestra.plugin.core.log.Log\n    message: [one, '{{ 1 + 1 }}']")
    assert outcome.logs == (("INFO", "one"), ("INFO", "2"))


def test_return_renders_format_to_text() -> None:
    outcome = run(
        "    type: io.kestra.plugin.core.debug.Return\n    format: '{{ n * 2 }}'", {"n": 4}
    )
    assert outcome == TaskOutcome(StateType.SUCCESS, outputs={"value": "8"})


def test_output_values_keep_their_types() -> None:
    outcome = run(
        "    type: io.kestra.plugin.core.output.OutputValues\n"
        "    values:\n      n: '{{ n }}'\n      text: 'x{{ n }}'\n"
        "      nested: {a: [1, '{{ n }}']}",
        {"n": 3},
    )
    assert outcome.outputs == {"values": {"n": 3, "text": "x3", "nested": {"a": [1, 3]}}}


@pytest.mark.parametrize(("param", "state"), [("fail", "FAILED"), ("ok", "SUCCESS")])
def test_fail_with_a_condition(param: str, state: str) -> None:
    outcome = run(
        "    type: io.kestra.plugin.core.execution.Fail\n"
        "    condition: \"{{ p == 'fail' }}\"\n    errorMessage: 'no {{ p }}'",
        {"p": param},
    )
    assert outcome.state.value == state
    if state == "FAILED":
        assert outcome.error == "no fail"


def test_a_render_error_is_a_failed_outcome() -> None:
    outcome = run("    type: io.kestra.plugin.core.debug.Return\n    format: '{{ missing }}'")
    assert outcome.state is StateType.FAILED
    assert outcome.error is not None
    assert "missing" in outcome.error
    assert outcome.logs == ()  # the engine logs the error once, from TaskResult.error


def test_an_unsupported_task_type_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every worker task has a runner now; take one away.
    monkeypatch.delitem(tasks._RUNNERS, ShellCommands)
    outcome = run("    type: io.kestra.plugin.scripts.shell.Commands\n    commands: [ls]")
    assert outcome.state is StateType.FAILED
    assert outcome.error == "task type io.kestra.plugin.scripts.shell.Commands is not supported yet"


def test_a_cancelled_context_does_not_run_the_task() -> None:
    context = RunContext(variables={})
    context.cancelled.set()
    outcome = run_task(
        task_of("    type: io.kestra.plugin.core.debug.Return\n    format: x"), context
    )
    assert outcome.state is StateType.KILLED
