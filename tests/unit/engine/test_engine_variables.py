"""The run context: nested labels, ForEach values, parents, and the flow index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from engine_harness import Harness

from perch.engine import error_logs_hook, find_task, run_variables
from perch.engine.model import Label, LogEntry
from perch.engine.starting import each_values
from perch.engine.states import StateType
from perch.engine.variables import nested_labels
from perch.errors import PerchError

VALUES = """
id: values
namespace: company.team
inputs:
  - id: items
    type: JSON
    defaults: '[1, "two", {"three": 3}]'
tasks:
  - id: from_input
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{ inputs.items }}"
    tasks:
      - id: seq
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: echo
            type: io.kestra.plugin.core.debug.Return
            format: "{{ taskrun.value }}|{{ parent.taskrun.value }}|{{ parents | length }}"
  - id: from_json_text
    type: io.kestra.plugin.core.flow.ForEach
    values: '["x", "y"]'
    concurrencyLimit: 0
    tasks:
      - id: state_of_echo
        type: io.kestra.plugin.core.debug.Return
        format: "{{ tasks.echo['two'].state }} {{ outputs.echo['1'].value }}"
"""


def test_labels_nest_by_dots_and_skip_collisions() -> None:
    labels = (
        Label("system.username", "ann"),
        Label("system.correlationId", "c1"),
        Label("team", "data"),
        Label("team.sub", "lost"),
    )
    assert nested_labels(labels) == {
        "system": {"username": "ann", "correlationId": "c1"},
        "team": "data",
    }


@pytest.mark.parametrize(
    ("raw", "values"),
    [
        (["a", 1, True, {"k": 1}], ["a", "1", "true", '{"k":1}']),
        ('["a", 2, "a", 2, "2"]', ["a", "2"]),
        ({"k": "v"}, ['{"key":"k","value":"v"}']),
    ],
)
def test_each_values_are_strings(raw: object, values: list[str]) -> None:
    assert each_values(raw) == values


@pytest.mark.parametrize("raw", ["not json", "3", 3, ["a", None]])
def test_each_values_must_be_a_list_without_nulls(raw: object) -> None:
    with pytest.raises(PerchError):
        each_values(raw)


def test_foreach_values_from_an_expression_and_parents() -> None:
    h = Harness([VALUES])
    done = h.start("values")
    assert done.state.current is StateType.SUCCESS
    echoes = {r.value: r.outputs for r in h.runs_of(done.id, "echo")}
    assert echoes == {
        "1": {"value": "1|1|1"},
        "two": {"value": "two|two|1"},
        '{"three":3}': {"value": '{"three":3}|{"three":3}|1'},
    }
    states = [r.outputs for r in h.runs_of(done.id, "state_of_echo")]
    assert states == [{"value": "SUCCESS 1|1|1"}] * 2
    echo = h.runs_of(done.id, "echo")[0]
    variables = run_variables(h.flow_of(done), done, echo)
    # As Kestra's: the iteration's run (seq, started by the ForEach) is a parent; the ForEach
    # itself, with neither a value nor outputs, is not.
    assert [p["task"]["id"] for p in variables["parents"]] == ["seq"]
    assert variables["taskrun"]["iteration"] == 0
    assert [r.iteration for r in h.runs_of(done.id, "seq")] == [0, 1, 2]


def test_find_task_reaches_nested_tasks_and_refuses_unknown_ones() -> None:
    h = Harness([VALUES])
    flow = h.flows[("company.team", "values")]
    assert find_task(flow, "echo").type == "io.kestra.plugin.core.debug.Return"
    with pytest.raises(PerchError, match="nope"):
        find_task(flow, "nope")


def test_error_logs_keep_the_error_lines_oldest_first() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    entries = [
        LogEntry("e1", t0 + timedelta(seconds=2), "ERROR", "second", "r2", "b", 1),
        LogEntry("e1", t0, "INFO", "chatter", "r1", "a", 1),
        LogEntry("e1", t0 + timedelta(seconds=1), "error", "first", "r1", "a", 1),
    ]
    logs = error_logs_hook(entries)()
    assert [(e["taskId"], e["message"], e["level"]) for e in logs] == [
        ("a", "first", "ERROR"),
        ("b", "second", "ERROR"),
    ]
    assert logs[0]["timestamp"] == "2026-01-01T00:00:01+00:00"
