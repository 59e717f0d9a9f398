"""resolve_inputs / check_inputs: the one validator for flow inputs and Pause onResume."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter

import perch.templating
from perch.errors import InputValidationError, TemplateRenderError
from perch.inputs import (
    InputCheck,
    InputDeclaration,
    Secret,
    check_inputs,
    resolve_inputs,
)

ADAPTER: TypeAdapter[list[InputDeclaration]] = TypeAdapter(list[InputDeclaration])


def declare(*items: dict[str, Any]) -> list[InputDeclaration]:
    return ADAPTER.validate_python(list(items))


class FakeEnvironment:
    """Stands in for perch.templating: knows a fixed set of expressions, records every call."""

    def __init__(self, answers: Mapping[str, Callable[[Mapping[str, Any]], Any]]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def evaluate(self, source: str, variables: Mapping[str, Any]) -> Any:
        self.calls.append((source, dict(variables)))
        if source not in self.answers:
            raise TemplateRenderError(f"unknown expression {source}")
        return self.answers[source](variables)


def problems_of(
    declarations: list[InputDeclaration], submitted: Mapping[str, Any], **kwargs: Any
) -> dict[str, str]:
    with pytest.raises(InputValidationError) as caught:
        resolve_inputs(declarations, submitted, **kwargs)
    return {p.input_id: p.message for p in caught.value.problems}


# --- every type, from form text and from JSON values -----------------------------------------


@pytest.mark.parametrize(
    ("item", "submitted", "expected"),
    [
        ({"type": "STRING"}, "hello", "hello"),
        ({"type": "STRING"}, "", ""),
        ({"type": "INT"}, "42", 42),
        ({"type": "INT"}, 42, 42),
        ({"type": "FLOAT"}, "0.25", 0.25),
        ({"type": "FLOAT"}, 3, 3.0),
        ({"type": "BOOLEAN"}, "true", True),
        ({"type": "BOOLEAN"}, "False", False),
        ({"type": "BOOL"}, True, True),
        ({"type": "BOOL"}, False, False),
        ({"type": "DATE"}, "2024-07-01", date(2024, 7, 1)),
        ({"type": "DATETIME"}, "2024-07-01T10:00:00Z", datetime(2024, 7, 1, 10, tzinfo=UTC)),
        ({"type": "TIME"}, "10:15:30", time(10, 15, 30)),
        ({"type": "DURATION"}, "PT5M", timedelta(minutes=5)),
        ({"type": "JSON"}, '{"a": 1}', {"a": 1}),
        ({"type": "JSON"}, {"a": 1}, {"a": 1}),
        ({"type": "YAML"}, "- a\n- b\n", ["a", "b"]),
        ({"type": "URI"}, "https://kestra.io/docs", "https://kestra.io/docs"),
        ({"type": "EMAIL"}, "ann@example.com", "ann@example.com"),
        ({"type": "FILE"}, "kestra:///ns/flow/file.txt", "kestra:///ns/flow/file.txt"),
        ({"type": "SELECT", "values": ["HR", "Finance"]}, "HR", "HR"),
        ({"type": "ENUM", "values": ["A", "B"]}, "B", "B"),
        ({"type": "MULTISELECT", "values": ["a", "b"]}, '["a","b"]', ["a", "b"]),
        ({"type": "MULTISELECT", "values": ["a", "b"]}, ["b"], ["b"]),
        ({"type": "MULTISELECT", "options": ["a", "b"]}, ["a"], ["a"]),
        ({"type": "ARRAY", "itemType": "INT"}, "[1, 2]", [1, 2]),
        ({"type": "ARRAY", "itemType": "STRING"}, ["x", "y"], ["x", "y"]),
        ({"type": "ARRAY", "itemType": "DATE"}, '["2024-07-01"]', [date(2024, 7, 1)]),
    ],
)
def test_every_type_is_resolved(item: dict[str, Any], submitted: Any, expected: Any) -> None:
    declarations = declare({"id": "x", **item})
    assert resolve_inputs(declarations, {"x": submitted}) == {"x": expected}


def test_secret_values_are_masked_in_repr_but_usable_as_text() -> None:
    declarations = declare({"id": "token", "type": "SECRET"})
    result = resolve_inputs(declarations, {"token": "hunter2"})
    token = result["token"]
    assert isinstance(token, Secret)
    assert token == "hunter2"
    assert "hunter2" not in repr(result)
    assert f"Bearer {token}" == "Bearer hunter2"


@pytest.mark.parametrize(
    ("item", "submitted", "fragment"),
    [
        ({"type": "INT"}, "abc", "Invalid value for input `x`: expected INT but received `abc`"),
        ({"type": "INT", "min": 3}, "2", "Invalid value for input `x`: it must be more than `3`"),
        ({"type": "INT", "max": 3}, 4, "it must be less than `3`"),
        ({"type": "FLOAT", "min": 0.5}, "0.25", "it must be more than `0.5`"),
        ({"type": "FLOAT", "max": 1}, 1.5, "it must be less than `1.0`"),
        ({"type": "BOOL"}, "yes", "expected BOOL but received `yes`"),
        ({"type": "DATE", "after": "2024-01-01"}, "2023-12-31", "it must be after `2024-01-01`"),
        ({"type": "DATE", "before": "2024-01-01"}, "2024-01-02", "it must be before `2024-01-01`"),
        (
            {"type": "DATETIME", "after": "2024-01-01T00:00:00Z"},
            "2023-12-31T23:59:59Z",
            "it must be after `2024-01-01T00:00:00Z`",
        ),
        ({"type": "DATETIME"}, "2024-01-01T00:00:00", "time zone"),
        ({"type": "TIME", "before": "18:00"}, "18:30", "it must be before `18:00:00`"),
        ({"type": "DURATION", "min": "PT1M"}, "PT30S", "it must be more than `PT1M`"),
        ({"type": "DURATION", "max": "PT1H"}, "PT2H", "it must be less than `PT1H`"),
        ({"type": "DURATION"}, "5m", "expected DURATION but received `5m`"),
        ({"type": "STRING", "validator": "^[A-Z]{3}$"}, "abcd", "it must match the pattern"),
        ({"type": "STRING", "validator": "[A-Z]+"}, "ABc", "it must match the pattern `[A-Z]+`"),
        (
            {"type": "SELECT", "values": ["HR", "Finance"]},
            "IT",
            "it must match the values `[HR, Finance]`",
        ),
        ({"type": "SELECT", "values": ["HR"], "required": False}, "IT", "it must match the values"),
        ({"type": "ENUM", "values": ["A"]}, "a", "it must match the values `[A]`"),
        (
            {"type": "MULTISELECT", "values": ["a", "b"]},
            '["a","c"]',
            "it must match the values `[a, b]`",
        ),
        ({"type": "MULTISELECT", "values": ["a"]}, "a", "expected MULTISELECT"),
        (
            {"type": "ARRAY", "itemType": "INT"},
            '[1, "x"]',
            "unable to parse array element as `INT` on `x`",
        ),
        ({"type": "EMAIL"}, "not-an-email", "valid email"),
        ({"type": "URI"}, "nope", "expected URI but received `nope`"),
        ({"type": "JSON"}, "{broken", "expected JSON"),
        ({"type": "FILE", "allowedFileExtensions": [".csv"]}, "kestra:///a.txt", "`.csv`"),
    ],
)
def test_bad_values_are_explained(item: dict[str, Any], submitted: Any, fragment: str) -> None:
    declarations = declare({"id": "x", **item})
    assert fragment in problems_of(declarations, {"x": submitted})["x"]


@pytest.mark.parametrize(
    ("item", "submitted", "expected"),
    [
        ({"type": "SELECT", "values": ["HR"], "allowCustomValue": True}, "Legal", "Legal"),
        (
            {"type": "MULTISELECT", "values": ["a"], "allowCustomValue": True},
            ["a", "z"],
            ["a", "z"],
        ),
        ({"type": "INT", "min": 3, "max": 3}, "3", 3),
        (
            {"type": "DATE", "after": "2024-01-01", "before": "2024-01-01"},
            "2024-01-01",
            date(2024, 1, 1),
        ),
        ({"type": "STRING", "validator": "[a-z]+"}, "abc", "abc"),
        ({"type": "EMAIL"}, "", ""),
    ],
)
def test_values_at_the_edges_are_accepted(
    item: dict[str, Any], submitted: Any, expected: Any
) -> None:
    declarations = declare({"id": "x", **item})
    assert resolve_inputs(declarations, {"x": submitted}) == {"x": expected}


# --- required, optional, defaults --------------------------------------------------------------


def test_missing_required_input_is_named() -> None:
    declarations = declare({"id": "approved", "type": "BOOLEAN"})
    assert problems_of(declarations, {}) == {"approved": "Missing required input: approved"}


@pytest.mark.parametrize("missing", [None, ""])
def test_empty_or_null_counts_as_missing_for_non_text_types(missing: Any) -> None:
    declarations = declare(
        {"id": "n", "type": "INT"}, {"id": "o", "type": "INT", "required": False}
    )
    assert problems_of(declarations, {"n": missing, "o": missing}) == {
        "n": "Missing required input: n"
    }


def test_optional_missing_input_is_present_as_none() -> None:
    declarations = declare({"id": "asked", "type": "STRING", "required": False})
    assert resolve_inputs(declarations, {}) == {"asked": None}


def test_defaults_apply_when_nothing_is_submitted() -> None:
    declarations = declare(
        {"id": "approved", "type": "BOOLEAN", "defaults": True},
        {"id": "reason", "type": "STRING", "defaults": "Approved"},
        {"id": "delay", "type": "DURATION", "defaults": "PT1S"},
        {"id": "day", "type": "DATE", "defaults": date(2024, 7, 1)},
    )
    assert resolve_inputs(declarations, {"reason": "Too expensive"}) == {
        "approved": True,
        "reason": "Too expensive",
        "delay": timedelta(seconds=1),
        "day": date(2024, 7, 1),
    }
    checks = {c.id: c for c in check_inputs(declarations, {"reason": "Too expensive"})}
    assert checks["approved"].is_default
    assert not checks["reason"].is_default


def test_prefill_is_not_a_default() -> None:
    declarations = declare({"id": "x", "type": "STRING", "prefill": "hint", "required": False})
    assert resolve_inputs(declarations, {}) == {"x": None}


def test_auto_select_first() -> None:
    declarations = declare(
        {"id": "one", "type": "SELECT", "values": ["a", "b"], "autoSelectFirst": True},
        {"id": "many", "type": "MULTISELECT", "values": ["a", "b"], "autoSelectFirst": True},
    )
    assert resolve_inputs(declarations, {}) == {"one": "a", "many": ["a"]}
    assert resolve_inputs(declarations, {"one": "b"})["one"] == "b"


def test_nested_ids_make_nested_values() -> None:
    declarations = declare(
        {"id": "request.name", "type": "STRING", "defaults": "Rick Astley"},
        {"id": "request.start_date", "type": "DATE", "defaults": "2024-07-01"},
        {"id": "request.dates.end", "type": "DATE", "defaults": "2024-07-07"},
        {"id": "top", "type": "INT", "defaults": 1},
    )
    assert resolve_inputs(declarations, {}) == {
        "request": {
            "name": "Rick Astley",
            "start_date": date(2024, 7, 1),
            "dates": {"end": date(2024, 7, 7)},
        },
        "top": 1,
    }
    assert resolve_inputs(declarations, {"request.name": "Ann"})["request"]["name"] == "Ann"


def test_nested_ids_can_be_submitted_nested() -> None:
    declarations = declare(
        {"id": "request.name", "type": "STRING"},
        {"id": "request.days", "type": "INT", "required": False},
    )
    submitted = {"request": {"name": "Ann", "days": "3"}}
    assert resolve_inputs(declarations, submitted) == {"request": {"name": "Ann", "days": 3}}
    flat_wins = {"request.name": "Flat", "request": {"name": "Nested"}}
    assert resolve_inputs(declarations, flat_wins) == {"request": {"name": "Flat", "days": None}}


def test_unknown_submitted_keys_are_ignored() -> None:
    declarations = declare({"id": "a", "type": "STRING"})
    assert resolve_inputs(declarations, {"a": "x", "b": "y", "request.name": "z"}) == {"a": "x"}


def test_every_bad_input_is_reported_together() -> None:
    declarations = declare(
        {"id": "count", "type": "INT"},
        {"id": "approved", "type": "BOOL"},
        {"id": "team", "type": "SELECT", "values": ["HR"]},
        {"id": "ok", "type": "STRING"},
        {"id": "when", "type": "DATE"},
    )
    with pytest.raises(InputValidationError) as caught:
        resolve_inputs(declarations, {"count": "abc", "team": "IT", "ok": "fine", "when": "x"})
    assert [p.input_id for p in caught.value.problems] == ["count", "approved", "team", "when"]
    assert "count: Invalid value for input `count`: expected INT but received `abc`" in str(
        caught.value
    )


def test_check_inputs_reports_each_input_without_raising() -> None:
    declarations = declare(
        {"id": "a", "type": "INT", "defaults": 1},
        {"id": "b", "type": "INT"},
        {"id": "c", "type": "STRING", "dependsOn": {"inputs": ["b"]}},
    )
    assert check_inputs(declarations, {"b": "nope"}) == [
        InputCheck("a", 1, enabled=True, is_default=True, errors=[]),
        InputCheck(
            "b",
            "nope",
            enabled=True,
            is_default=False,
            errors=["Invalid value for input `b`: expected INT but received `nope`"],
        ),
        InputCheck("c", None, enabled=False, is_default=False, errors=[]),
    ]


def test_a_secret_is_never_in_an_error() -> None:
    declarations = declare(
        {"id": "pin", "type": "SECRET", "validator": "[0-9]{4}"},
        {"id": "other", "type": "SECRET"},
    )
    with pytest.raises(InputValidationError) as caught:
        resolve_inputs(declarations, {"pin": "hunter2", "other": ["hunter3"]})
    text = str(caught.value) + repr(caught.value.problems)
    assert "hunter2" not in text
    assert "hunter3" not in text
    assert "it must match the pattern `[0-9]{4}`" in text
    checks = check_inputs(declarations, {"pin": "hunter2"})
    assert checks[0].value is None


# --- human input is data, never a template -----------------------------------------------------


@pytest.mark.parametrize(
    ("item", "submitted"),
    [
        ({"type": "STRING"}, "{{ secret('X') }}"),
        ({"type": "STRING", "defaults": "{{ now() }}"}, "{{ now() }}"),
        ({"type": "JSON"}, '{"a": "{{ kv(\'K\') }}"}'),
        ({"type": "SELECT", "values": ["{{ x }}"]}, "{{ x }}"),
    ],
)
def test_submitted_values_are_never_rendered(item: dict[str, Any], submitted: str) -> None:
    environment = FakeEnvironment({"{{ now() }}": lambda _: "NOW"})
    declarations = declare({"id": "x", **item})
    result = resolve_inputs(declarations, {"x": submitted}, environment=environment)
    assert environment.calls == []
    assert "{{" in str(result["x"])


# --- expressions: defaults, SELECT expression, dependsOn -----------------------------------------


def test_a_template_default_is_evaluated_with_the_variables() -> None:
    environment = FakeEnvironment(
        {"{{ flow.namespace }}": lambda v: v["flow"]["namespace"], "{{ now() }}": lambda _: "PT1M"}
    )
    declarations = declare(
        {"id": "ns", "type": "STRING", "defaults": "{{ flow.namespace }}"},
        {"id": "wait", "type": "DURATION", "defaults": "{{ now() }}"},
    )
    result = resolve_inputs(
        declarations, {}, variables={"flow": {"namespace": "company.team"}}, environment=environment
    )
    assert result == {"ns": "company.team", "wait": timedelta(minutes=1)}


def test_a_template_default_that_fails_or_gives_a_bad_value_is_reported() -> None:
    environment = FakeEnvironment({"{{ 'x' }}": lambda _: "x"})
    declarations = declare(
        {"id": "a", "type": "STRING", "defaults": "{{ missing }}"},
        {"id": "b", "type": "INT", "defaults": "{{ 'x' }}"},
    )
    problems = problems_of(declarations, {}, environment=environment)
    assert problems["a"].startswith("Cannot render `defaults`: unknown expression")
    assert problems["b"] == "Invalid value for input `b`: expected INT but received `x`"


def test_select_values_can_come_from_an_expression() -> None:
    environment = FakeEnvironment({"{{ kv('TEAMS') }}": lambda _: ["HR", "IT", None]})
    declarations = declare({"id": "team", "type": "SELECT", "expression": "{{ kv('TEAMS') }}"})
    assert resolve_inputs(declarations, {"team": "IT"}, environment=environment) == {"team": "IT"}
    problems = problems_of(declarations, {"team": "Legal"}, environment=environment)
    assert problems == {
        "team": "Invalid value for input `team`: it must match the values `[HR, IT]`"
    }


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (lambda _: "HR,IT", "Expected a list of strings, but received str"),
        (lambda _: None, "Expected a list of strings, but received <null>"),
    ],
)
def test_a_select_expression_must_give_a_list(
    answer: Callable[[Mapping[str, Any]], Any], fragment: str
) -> None:
    environment = FakeEnvironment({"{{ kv('TEAMS') }}": answer})
    declarations = declare({"id": "team", "type": "SELECT", "expression": "{{ kv('TEAMS') }}"})
    assert fragment in problems_of(declarations, {"team": "HR"}, environment=environment)["team"]


def test_a_select_expression_that_fails_is_reported() -> None:
    declarations = declare({"id": "t", "type": "MULTISELECT", "expression": "{{ boom }}"})
    problems = problems_of(declarations, {"t": ["a"]}, environment=FakeEnvironment({}))
    assert problems["t"].startswith("Cannot render 'expression'. Cause: unknown expression")


def test_without_a_template_engine_an_expression_is_a_clear_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delattr(perch.templating, "default_environment", raising=False)
    declarations = declare({"id": "a", "type": "STRING", "defaults": "{{ now() }}"})
    checks = check_inputs(declarations, {})
    assert checks[0].errors == [
        "Cannot render `defaults`: expressions cannot be evaluated: no template engine is available"
    ]


def test_the_default_template_engine_is_used_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = FakeEnvironment({"{{ now() }}": lambda _: "2024-07-01"})
    monkeypatch.setattr(perch.templating, "default_environment", lambda: engine, raising=False)
    declarations = declare({"id": "a", "type": "DATE", "defaults": "{{ now() }}"})
    assert resolve_inputs(declarations, {}) == {"a": date(2024, 7, 1)}
    assert [source for source, _ in engine.calls] == ["{{ now() }}"]


CONDITION = "{{ inputs.kind == 'other' }}"


def _kind_is_other(variables: Mapping[str, Any]) -> bool:
    return bool(variables["inputs"]["kind"] == "other")


DEPENDENT: list[dict[str, Any]] = [
    {"id": "kind", "type": "SELECT", "values": ["standard", "other"], "required": False},
    {
        "id": "details",
        "type": "STRING",
        "dependsOn": {"inputs": ["kind"], "condition": CONDITION},
    },
    {"id": "more", "type": "INT", "dependsOn": {"inputs": ["details"]}},
]


@pytest.mark.parametrize(
    ("submitted", "expected"),
    [
        ({"kind": "standard"}, {"kind": "standard"}),
        ({"kind": "standard", "details": "ignored", "more": "x"}, {"kind": "standard"}),
        ({}, {"kind": None}),
        (
            {"kind": "other", "details": "why", "more": "2"},
            {"kind": "other", "details": "why", "more": 2},
        ),
    ],
)
def test_depends_on_skips_inputs_whose_condition_is_not_met(
    submitted: dict[str, Any], expected: dict[str, Any]
) -> None:
    environment = FakeEnvironment({CONDITION: _kind_is_other})
    result = resolve_inputs(declare(*DEPENDENT), submitted, environment=environment)
    assert result == expected


def test_an_enabled_dependent_input_is_required_again() -> None:
    environment = FakeEnvironment({CONDITION: _kind_is_other})
    problems = problems_of(declare(*DEPENDENT), {"kind": "other"}, environment=environment)
    assert problems == {"details": "Missing required input: details"}


def test_conditions_see_only_dependencies_merged_over_variables() -> None:
    environment = FakeEnvironment({CONDITION: _kind_is_other})
    resolve_inputs(
        declare(*DEPENDENT[:2]),
        {"kind": "standard"},
        variables={"inputs": {"flow_input": 1}, "flow": {"id": "f"}},
        environment=environment,
    )
    ((source, variables),) = environment.calls
    assert source == CONDITION
    assert variables["inputs"] == {"flow_input": 1, "kind": "standard"}
    assert variables["flow"] == {"id": "f"}


def test_a_condition_that_fails_is_reported() -> None:
    declarations = declare(
        {"id": "a", "type": "STRING"},
        {"id": "b", "type": "STRING", "dependsOn": {"inputs": ["a"], "condition": "{{ nope }}"}},
    )
    problems = problems_of(declarations, {"a": "x", "b": "y"}, environment=FakeEnvironment({}))
    assert problems["b"].startswith("Invalid condition: unknown expression")


@pytest.mark.parametrize(
    ("answer", "enabled"), [(True, True), ("true", True), (False, False), (1, False)]
)
def test_a_condition_must_be_true(answer: Any, enabled: bool) -> None:
    environment = FakeEnvironment({"{{ c }}": lambda _: answer})
    declarations = declare({"id": "b", "type": "STRING", "dependsOn": {"condition": "{{ c }}"}})
    (check,) = check_inputs(declarations, {"b": "y"}, environment=environment)
    assert check.enabled is enabled


def test_a_dependency_declared_later_is_resolved_first() -> None:
    declarations = declare(
        {"id": "b", "type": "STRING", "dependsOn": {"inputs": ["a"]}},
        {"id": "a", "type": "STRING", "required": False},
    )
    assert resolve_inputs(declarations, {"b": "x"}) == {"a": None}
    assert resolve_inputs(declarations, {"a": "1", "b": "x"}) == {"a": "1", "b": "x"}


def test_unknown_and_self_dependencies_are_ignored_as_in_kestra() -> None:
    declarations = declare(
        {"id": "a", "type": "STRING", "dependsOn": {"inputs": ["a", "ghost"]}},
    )
    assert resolve_inputs(declarations, {"a": "x"}) == {"a": "x"}


def test_a_dependency_cycle_does_not_loop() -> None:
    declarations = declare(
        {"id": "a", "type": "STRING", "dependsOn": {"inputs": ["b"]}},
        {"id": "b", "type": "STRING", "dependsOn": {"inputs": ["a"]}},
    )
    problems = problems_of(declarations, {"a": "x", "b": "y"})
    assert problems == {"b": "`dependsOn` forms a cycle"}


def test_an_invalid_dependency_disables_its_dependants() -> None:
    declarations = declare(
        {"id": "n", "type": "INT"},
        {"id": "m", "type": "INT", "dependsOn": {"inputs": ["n"]}},
    )
    assert problems_of(declarations, {"n": "x"}) == {
        "n": "Invalid value for input `n`: expected INT but received `x`"
    }
