"""The tasks that act on executions, triggers and states, run with recording hooks in place of
a server's: what they render and pass on, how Kestra's state maps merge, and the state keys."""

from __future__ import annotations

from typing import Any

import pytest

from perch.engine.actinghooks import LABELS, RESUME
from perch.engine.kvtypes import KEY_PATTERN, STATE_KEY_PATTERN
from perch.engine.statehooks import merge, state_key
from perch.engine.states import StateType
from perch.errors import ActingTaskError
from perch.flows import parse_flow
from perch.tasks import RunContext, TaskOutcome, run_task


def run(body: str, hooks: dict[str, Any], variables: dict[str, Any] | None = None) -> TaskOutcome:
    flow = parse_flow(f"id: f\nnamespace: company.team\ntasks:\n  - id: t\n{body}")
    context = RunContext(variables=variables or {}, hooks=hooks, execution_id="e", task_run_id="r")
    return run_task(flow.tasks[0], context)


def test_labels_render_keys_and_values_of_a_map_a_list_or_json_text() -> None:
    given: list[dict[str, str]] = []
    hooks = {LABELS: lambda labels, task_id: given.append(labels)}
    variables = {"v": {"k": "team", "json": '{"a": "b"}', "n": 3}}
    bodies = (
        "    type: io.kestra.plugin.core.execution.Labels\n    labels:\n      '{{ v.k }}': x",
        "    type: Labels\n    labels:\n      - key: count\n        value: '{{ v.n }}'",
        "    type: Labels\n    labels: '{{ v.json }}'",
        "    type: Labels\n    labels: '{\"literal\": 1}'",
    )
    for body in bodies:
        assert run(body, hooks, variables).state is StateType.SUCCESS
    assert given == [{"team": "x"}, {"count": "3"}, {"a": "b"}, {"literal": "1"}]


def test_labels_that_render_to_no_map_fail_with_the_reason() -> None:
    hooks = {LABELS: lambda labels, task_id: None}
    outcome = run("    type: Labels\n    labels: '{{ v.x }}'", hooks, {"v": {"x": "[1"}})
    assert outcome.state is StateType.FAILED
    assert "not a JSON map" in (outcome.error or "")


def test_a_task_without_its_hook_fails_saying_it_needs_a_server() -> None:
    outcome = run("    type: io.kestra.plugin.core.execution.Resume", {})
    assert outcome.state is StateType.FAILED
    assert "needs a server" in (outcome.error or "")


def test_resume_passes_the_rendered_target_and_inputs() -> None:
    calls: list[tuple[Any, ...]] = []

    def resume(execution_id: str | None, inputs: dict[str, Any], **kw: Any) -> str:
        calls.append((execution_id, inputs, kw))
        return execution_id or "self"

    body = (
        "    type: Resume\n    executionId: '{{ v.id }}'\n    namespace: a.b\n"
        "    flowId: f\n    inputs:\n      ok: '{{ v.ok }}'"
    )
    outcome = run(body, {RESUME: resume}, {"v": {"id": "x1", "ok": True}})
    assert outcome.state is StateType.SUCCESS
    assert calls == [("x1", {"ok": True}, {"namespace": "a.b", "flow_id": "f", "task_id": "t"})]


def test_states_merge_maps_deeply_append_lists_and_keep_what_null_leaves() -> None:
    current = {"a": {"x": 1, "y": 2}, "l": [1], "keep": "k", "gone": 1}
    given = {"a": {"y": 3}, "l": [2], "keep": None, "gone": "now", "new": True}
    assert merge(current, given) == {
        "a": {"x": 1, "y": 3},
        "l": [1, 2],
        "keep": "k",
        "gone": "now",
        "new": True,
    }


def test_state_keys_are_distinct_per_scope_name_and_value_and_never_user_keys() -> None:
    keys = {
        state_key("flow", "default", None),
        state_key("flow", "default", "a"),
        state_key(None, "default", None),
        state_key("flow.default", "x", None),
        state_key("flow", "default.x", None),
    }
    assert len(keys) == 5
    for key in keys:
        assert STATE_KEY_PATTERN.match(key)
        assert not KEY_PATTERN.match(key)
    assert state_key("flow", "default", None).startswith("_state.flow.flow.default.")
    with pytest.raises(ActingTaskError, match="Invalid state name"):
        state_key("flow", "has space", None)
