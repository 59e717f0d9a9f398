"""Input declarations: every type reads, and every mistake is a pydantic error with a location."""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from perch.inputs import (
    ArrayInput,
    BooleanInput,
    DateTimeInput,
    DurationInput,
    FileInput,
    InputDeclaration,
    InputType,
    IntInput,
    MultiselectInput,
    SelectInput,
    StringInput,
    declaration_problems,
)

ADAPTER: TypeAdapter[list[InputDeclaration]] = TypeAdapter(list[InputDeclaration])


def declare(*items: dict[str, Any]) -> list[InputDeclaration]:
    return ADAPTER.validate_python(list(items))


def errors_of(item: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        declare(item)
    return [(tuple(e["loc"]), e["msg"]) for e in caught.value.errors()]


@pytest.mark.parametrize(
    "item",
    [
        {"id": "s", "type": "STRING", "validator": "^[A-Z]+$", "defaults": "ABC"},
        {"id": "i", "type": "INT", "min": 1, "max": 10, "defaults": 5},
        {"id": "f", "type": "FLOAT", "min": 0.5, "max": "2.5", "defaults": "1"},
        {"id": "b", "type": "BOOLEAN", "defaults": True},
        {"id": "b2", "type": "BOOL", "defaults": "false"},
        {"id": "d", "type": "DATE", "after": "2024-01-01", "before": date(2024, 12, 31)},
        {"id": "dt", "type": "DATETIME", "after": "2024-01-01T00:00:00Z"},
        {"id": "t", "type": "TIME", "after": "08:00", "before": "18:00:00"},
        {"id": "du", "type": "DURATION", "min": "PT1M", "max": "P1D", "defaults": "PT5M"},
        {"id": "u", "type": "URI", "defaults": "https://kestra.io"},
        {"id": "e", "type": "EMAIL"},
        {"id": "j", "type": "JSON", "defaults": {"a": 1}},
        {"id": "y", "type": "YAML", "defaults": "a: 1"},
        {"id": "fi", "type": "FILE", "allowedFileExtensions": [".csv"]},
        {"id": "fi2", "type": "FILE", "extension": ".txt"},
        {"id": "se", "type": "SELECT", "values": ["A", "B"], "isRadio": True, "defaults": "A"},
        {"id": "se2", "type": "SELECT", "expression": "{{ kv('LIST') }}", "defaults": "Z"},
        {"id": "ms", "type": "MULTISELECT", "values": ["a"], "allowCustomValue": True},
        {"id": "ms2", "type": "MULTISELECT", "options": ["a", "b"], "defaults": ["a"]},
        {"id": "en", "type": "ENUM", "values": ["X"]},
        {"id": "ar", "type": "ARRAY", "itemType": "INT", "defaults": [1, 2]},
        {"id": "sec", "type": "SECRET", "validator": "[0-9]{4}"},
        {"id": "a.b-c_d", "type": "STRING", "displayName": "Nested", "description": "**md**"},
        {"id": "n", "type": "STRING", "defaults": "{{ now() }}"},
        {"id": "p", "type": "STRING", "prefill": "suggested", "required": False},
        {"id": "dep", "type": "STRING", "dependsOn": {"inputs": ["s"], "condition": "{{ true }}"}},
    ],
)
def test_valid_declarations_read(item: dict[str, Any]) -> None:
    (declaration,) = declare(item)
    assert declaration.id == item["id"]
    assert declaration.input_type == InputType(item["type"])


def test_common_keys_have_kestra_defaults_and_aliases() -> None:
    (declaration,) = declare({"id": "x", "type": "STRING", "displayName": "X"})
    assert isinstance(declaration, StringInput)
    assert declaration.required is True
    assert declaration.defaults is None
    assert declaration.display_name == "X"
    dumped = declaration.model_dump(by_alias=True, exclude_none=True)
    assert dumped == {"id": "x", "type": "STRING", "displayName": "X", "required": True}


def test_deprecated_name_becomes_the_id() -> None:
    (declaration,) = declare({"name": "legacy", "type": "STRING"})
    assert declaration.id == "legacy"
    (both,) = declare({"id": "new", "name": "old", "type": "STRING"})
    assert both.id == "new"


def test_bounds_are_typed() -> None:
    du, dt, sel, ms, ar = declare(
        {"id": "a", "type": "DURATION", "min": "PT1M"},
        {"id": "b", "type": "DATETIME", "before": "2024-01-01T02:00:00+02:00"},
        {"id": "c", "type": "SELECT", "values": [1, 2.5, True]},
        {"id": "d", "type": "MULTISELECT", "values": ["x"]},
        {"id": "e", "type": "ARRAY", "itemType": "DATE"},
    )
    assert isinstance(du, DurationInput)
    assert du.min == timedelta(minutes=1)
    assert isinstance(dt, DateTimeInput)
    assert dt.before == datetime(2024, 1, 1, tzinfo=UTC)
    assert isinstance(sel, SelectInput)
    assert sel.values == ["1", "2.5", "true"]
    assert isinstance(ms, MultiselectInput)
    assert ms.item_type is InputType.STRING
    assert isinstance(ar, ArrayInput)
    assert ar.item_type is InputType.DATE


def test_bool_and_boolean_share_a_model() -> None:
    a, b = declare({"id": "a", "type": "BOOL"}, {"id": "b", "type": "BOOLEAN"})
    assert isinstance(a, BooleanInput)
    assert isinstance(b, BooleanInput)


def test_file_keys() -> None:
    (file_input,) = declare({"id": "f", "type": "FILE", "allowedFileExtensions": ["csv", ".md"]})
    assert isinstance(file_input, FileInput)
    assert file_input.constraint_problem("kestra:///x/data.CSV") is None
    assert file_input.constraint_problem("kestra:///x/notes.md") is None
    assert "`.csv, .md`" in (file_input.constraint_problem("kestra:///x/run.exe") or "")


@pytest.mark.parametrize(
    ("item", "loc", "fragment"),
    [
        ({"id": "x", "type": "STRING", "validator": "("}, ("STRING", "validator"), "regular expr"),
        ({"id": "x", "type": "SECRET", "validator": "[a-"}, ("SECRET", "validator"), "regular"),
        ({"id": "x", "type": "INT", "min": 5, "max": 1}, ("INT",), "`min`"),
        ({"id": "x", "type": "INT", "min": "five"}, ("INT", "min"), "expected INT"),
        ({"id": "x", "type": "FLOAT", "min": 2.5, "max": 1}, ("FLOAT",), "`min`"),
        (
            {"id": "x", "type": "DATE", "after": "2024-02-01", "before": "2024-01-01"},
            ("DATE",),
            "`after`",
        ),
        ({"id": "x", "type": "DATE", "after": "soon"}, ("DATE", "after"), "expected DATE"),
        (
            {"id": "x", "type": "DATETIME", "after": "2024-01-01T00:00:00"},
            ("DATETIME", "after"),
            "zone",
        ),
        ({"id": "x", "type": "TIME", "after": "18:00", "before": "08:00"}, ("TIME",), "`after`"),
        ({"id": "x", "type": "DURATION", "min": "PT1H", "max": "PT1M"}, ("DURATION",), "`min`"),
        ({"id": "x", "type": "DURATION", "max": "P1W"}, ("DURATION", "max"), "DURATION"),
        ({"id": "x", "type": "SELECT", "values": []}, ("SELECT",), "must not be empty"),
        (
            {"id": "x", "type": "SELECT"},
            ("SELECT",),
            "needs `values` (its choices) or an `expression`",
        ),
        (
            {"id": "x", "type": "SELECT", "values": ["a"], "expression": "{{ x }}"},
            ("SELECT",),
            "not both",
        ),
        (
            {"id": "x", "type": "MULTISELECT"},
            ("MULTISELECT",),
            "needs `values` (its choices) or an `expression`",
        ),
        (
            {"id": "x", "type": "MULTISELECT", "values": ["a"], "options": ["a"]},
            ("MULTISELECT",),
            "`options`",
        ),
        (
            {"id": "x", "type": "MULTISELECT", "values": ["a"], "itemType": "ARRAY"},
            ("MULTISELECT", "itemType"),
            "ARRAY",
        ),
        ({"id": "x", "type": "ENUM", "values": []}, ("ENUM", "values"), "must not be empty"),
        ({"id": "x", "type": "ENUM"}, ("ENUM", "values"), "required"),
        ({"id": "x", "type": "ARRAY"}, ("ARRAY", "itemType"), "required"),
        ({"id": "x", "type": "ARRAY", "itemType": "ARRAY"}, ("ARRAY", "itemType"), "ARRAY"),
        ({"id": "x", "type": "ARRAY", "itemType": "SECRET"}, ("ARRAY", "itemType"), "SECRET"),
        (
            {"id": "x", "type": "ARRAY", "itemType": "WHATEVER"},
            ("ARRAY", "itemType"),
            "Input should be",
        ),
        ({"id": "x", "type": "INT", "defaults": "abc"}, ("INT",), "`defaults` is not a valid INT"),
        ({"id": "x", "type": "INT", "max": 3, "defaults": 4}, ("INT",), "less than `3`"),
        (
            {"id": "x", "type": "STRING", "validator": "[a-z]+", "defaults": "ABC"},
            ("STRING",),
            "pattern",
        ),
        ({"id": "x", "type": "SELECT", "values": ["a"], "defaults": "b"}, ("SELECT",), "`[a]`"),
        ({"id": "x", "type": "BOOL", "prefill": "maybe"}, ("BOOL",), "`prefill`"),
        ({"id": "x", "type": "STRING", "defaults": "a", "prefill": "b"}, ("STRING",), "together"),
        ({"id": "x", "type": "STRING", "unknown": 1}, ("STRING", "unknown"), "Extra inputs"),
        ({"id": "-x", "type": "STRING"}, ("STRING", "id"), "pattern"),
        ({"id": "a b", "type": "STRING"}, ("STRING", "id"), "pattern"),
        ({"type": "STRING"}, ("STRING", "id"), "required"),
        ({"id": "x", "type": "NOPE"}, (), "NOPE"),
        ({"id": "x"}, (), "type"),
        (
            {"id": "x", "type": "STRING", "dependsOn": {"inputs": ["bad id"]}},
            ("STRING", "dependsOn", "inputs"),
            "valid input id",
        ),
        (
            {"id": "x", "type": "STRING", "dependsOn": {"when": "x"}},
            ("STRING", "dependsOn", "when"),
            "Extra",
        ),
        ({"id": "x", "type": "STRING", "required": "perhaps"}, ("STRING", "required"), "boolean"),
    ],
)
def test_mistakes_are_reported_where_they_are(
    item: dict[str, Any], loc: tuple[Any, ...], fragment: str
) -> None:
    found = errors_of(item)
    assert any(where == (0, *loc) and fragment in message for where, message in found), found


def test_a_template_default_is_not_checked_when_the_flow_is_read() -> None:
    (declaration,) = declare({"id": "x", "type": "INT", "defaults": "{{ inputs.y + 1 }}"})
    assert isinstance(declaration, IntInput)
    assert declaration.defaults == "{{ inputs.y + 1 }}"


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        ([{"id": "a", "type": "STRING"}, {"id": "a", "type": "INT"}], [(1, "duplicate")]),
        (
            [{"id": "a", "type": "STRING"}, {"id": "a.b", "type": "STRING"}],
            [(0, "also the group of `a.b`")],
        ),
        (
            [{"id": "a", "type": "STRING", "dependsOn": {"inputs": ["ghost"]}}],
            [(0, "`ghost`, which is not a declared input")],
        ),
        (
            [{"id": "a", "type": "STRING", "dependsOn": {"inputs": ["a"]}}],
            [(0, "cannot depend on itself")],
        ),
        (
            [
                {"id": "a", "type": "STRING", "dependsOn": {"inputs": ["b"]}},
                {"id": "b", "type": "STRING", "dependsOn": {"inputs": ["a"]}},
            ],
            [(0, "cycle: a -> b -> a")],
        ),
        (
            [
                {"id": "a", "type": "STRING"},
                {"id": "b", "type": "STRING", "dependsOn": {"inputs": ["a"]}},
                {"id": "c.d", "type": "STRING", "dependsOn": {"inputs": ["a", "b"]}},
            ],
            [],
        ),
    ],
)
def test_problems_across_declarations(
    items: list[dict[str, Any]], expected: list[tuple[int, str]]
) -> None:
    problems = declaration_problems(declare(*items))
    assert [(p.index, p.message) for p in problems] == [
        (index, next(p.message for p in problems if fragment in p.message and p.index == index))
        for index, fragment in expected
    ]


def test_time_bounds_compare_as_times() -> None:
    (declaration,) = declare({"id": "t", "type": "TIME", "after": "08:00", "before": "18:00"})
    assert declaration.constraint_problem(time(7, 59)) == "it must be after `08:00:00`"
    assert declaration.constraint_problem(time(18, 0)) is None
    assert declaration.constraint_problem(time(18, 0, 1)) == "it must be before `18:00:00`"


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("a{1001}", "invalid repetition size"),
        ("(a)\\1", "back-references and look-around are not supported"),
        ("(?<=a)b", "back-references and look-around are not supported"),
        ("(" * 3000 + ")" * 3000, "the limit is 4096"),
    ],
)
def test_validators_re2_cannot_run_are_refused(pattern: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        TypeAdapter(InputDeclaration).validate_python(
            {"id": "x", "type": "STRING", "validator": pattern}
        )


def test_a_validator_python_warns_about_is_accepted_quietly() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        declaration = TypeAdapter(InputDeclaration).validate_python(
            {"id": "x", "type": "STRING", "validator": "[[a]"}
        )
    assert isinstance(declaration, StringInput)
    assert declaration.validator == "[[a]"
