"""Data filters: toJson, yaml, jq, number, numberformat, string."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from perch.errors import TemplateRenderError
from perch.templating.filters import FILTERS


@pytest.mark.parametrize("name", ["toJson", "json", "jsonEncode"])
def test_to_json_and_its_aliases(name: str) -> None:
    value = {"a": [1, 2.5, None, True], "é": "ü"}
    assert FILTERS[name](value) == '{"a":[1,2.5,null,true],"é":"ü"}'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "null"),
        ("foo", '"foo"'),
        (True, "true"),
        ([1, 2, 3], "[1,2,3]"),
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), '"2024-01-02T03:04:05Z"'),
        (date(2024, 1, 2), '"2024-01-02"'),
    ],
)
def test_to_json_values(value: Any, expected: str) -> None:
    assert FILTERS["toJson"](value) == expected


def test_to_json_refuses_host_objects() -> None:
    with pytest.raises(TemplateRenderError, match="cannot be used"):
        FILTERS["toJson"]({"x": object()})


def test_yaml_writes_block_style_documents() -> None:
    value = {"a": 1, "b": ["x", "y"], "c": "line1\nline2", "d": {"e": None}, "f": "true"}
    expected = "a: 1\nb:\n  - x\n  - y\nc: |-\n  line1\n  line2\nd:\n  e: null\nf: 'true'\n"
    assert FILTERS["yaml"](value) == expected
    assert FILTERS["yaml"](None) == "null"
    assert FILTERS["yaml"]("plain") == "plain\n"


@pytest.mark.parametrize(
    ("value", "expression", "expected"),
    [
        ([1, 2, 3], ".", [[1, 2, 3]]),
        ([1, 2, 3], ".[0]", [1]),
        ({"a": {"b": [1, 2]}}, ".a.b[]", [1, 2]),
        ('{"name": "alpha", "value": 2}', ".value * 2", [4]),
        ({"x": None}, ".x", [None]),
        ({"d": datetime(2024, 1, 2, tzinfo=UTC)}, ".d", ["2024-01-02T00:00:00Z"]),
    ],
)
def test_jq_always_returns_a_list(value: Any, expression: str, expected: list[Any]) -> None:
    assert FILTERS["jq"](value, expression) == expected


def test_jq_errors() -> None:
    with pytest.raises(TemplateRenderError, match="Invalid jq expression"):
        FILTERS["jq"]({"a": 1}, ".[")
    with pytest.raises(TemplateRenderError, match="failed"):
        FILTERS["jq"]({"a": "x"}, ".a + 1")
    with pytest.raises(TemplateRenderError, match="expression"):
        FILTERS["jq"]({"a": 1})
    with pytest.raises(TemplateRenderError, match="failed"):
        FILTERS["jq"]("{not json", ".")
    assert FILTERS["jq"](None, ".") is None


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        ("12", None, 12),
        ("12.3", None, 12.3),
        ("-4", None, -4),
        ("0x1F", None, 31),
        ("1e3", None, 1000.0),
        ("10L", None, 10),
        ("42", "INT", 42),
        ("010", "INT", 8),
        ("9223372036854775807", "LONG", 9223372036854775807),
        ("99999999999999999999", "BIGINTEGER", 99999999999999999999),
        ("1.5", "FLOAT", 1.5),
        ("2.5d", "DOUBLE", 2.5),
        ("1.50", "BIGDECIMAL", Decimal("1.50")),
        (" 7 ", "INT", 7),
        (7, "INT", 7),
    ],
)
def test_number(value: Any, kind: str | None, expected: Any) -> None:
    result = FILTERS["number"](value) if kind is None else FILTERS["number"](value, kind)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "kind"),
    [("abc", None), ("2147483648", "INT"), ("1.5", "INT"), ("08", "INT"), ("x", "BIGDECIMAL")],
)
def test_number_errors(value: str, kind: str | None) -> None:
    with pytest.raises(TemplateRenderError, match="cannot read"):
        FILTERS["number"](value, kind)


def test_number_needs_text() -> None:
    with pytest.raises(TemplateRenderError, match="string"):
        FILTERS["number"]([1])
    assert FILTERS["number"](None) is None


@pytest.mark.parametrize(
    ("value", "pattern", "expected"),
    [
        (3.141592653, "#.##", "3.14"),
        (1234567.891, None, "1,234,567.891"),
        (1234.5, "#,##0.00", "1,234.50"),
        (0.5, "#.##", ".5"),
        (0, "#.##", "0"),
        (0.256, "0.0%", "25.6%"),
        (-5, "0.00", "-5.00"),
        (-5, "0.00;(0.00)", "(5.00)"),
        (2.5, "0", "2"),
        (3.5, "0", "4"),
        (7, "000", "007"),
        (12, "'#'0", "#12"),
        (1234, "$#,##0", "$1,234"),
    ],
)
def test_numberformat(value: Any, pattern: str | None, expected: str) -> None:
    assert FILTERS["numberformat"](value, pattern) == expected


def test_numberformat_errors() -> None:
    with pytest.raises(TemplateRenderError, match="needs a number"):
        FILTERS["numberformat"]("12", "#")
    with pytest.raises(TemplateRenderError, match="Scientific"):
        FILTERS["numberformat"](12, "0.0E0")
    assert FILTERS["numberFormat"](1, "0.0") == "1.0"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12, "12"), (None, ""), (True, "true"), ({"a": [1]}, '{"a":[1]}'), (1.0, "1.0")],
)
def test_string(value: Any, expected: str) -> None:
    assert FILTERS["string"](value) == expected


def test_host_info_filters_are_not_provided() -> None:
    assert "className" not in FILTERS
    assert "default" not in FILTERS  # the engine's own
