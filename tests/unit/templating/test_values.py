"""Printing, truth, equality and arithmetic of template values."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from perch.errors import TemplateRenderError
from perch.templating import values


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (1.0, "1.0"),
        (-2.5, "-2.5"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (0.001, "0.001"),
        (0.0001, "1.0E-4"),
        (1234567.0, "1234567.0"),
        (12345678.0, "1.2345678E7"),
        (1e20, "1.0E20"),
        (-1.5e-10, "-1.5E-10"),
        (math.inf, "Infinity"),
        (-math.inf, "-Infinity"),
        (math.nan, "NaN"),
        (0.1 + 0.2, "0.30000000000000004"),
    ],
)
def test_floats_print_like_java(number: float, text: str) -> None:
    assert values.to_string(number) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (12, "12"),
        ("s", "s"),
        ({"a": [1, None, True]}, '{"a":[1,null,true]}'),
        ([{"x": 1.0}], '[{"x":1.0}]'),
        ({"when": datetime(2026, 1, 1, tzinfo=UTC)}, '{"when":"2026-01-01T00:00:00Z"}'),
        (datetime(2026, 1, 1, 10, 0, 0, 123000, tzinfo=UTC), "2026-01-01T10:00:00.123Z"),
        (datetime(2026, 1, 1, 10, 0, 0, 123456), "2026-01-01T10:00:00.123456"),
        (
            datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2))),
            "2026-01-01T00:00:00+02:00",
        ),
        (date(2026, 1, 31), "2026-01-31"),
        (Decimal("1.50"), "1.50"),
        ({"é": "✓"}, '{"é":"✓"}'),
    ],
)
def test_to_string(value: Any, text: str) -> None:
    assert values.to_string(value) == text


@pytest.mark.parametrize(
    ("value", "truth"),
    [
        (None, False),
        (False, False),
        (True, True),
        (0, False),
        (-0.0, False),
        (0.5, True),
        ("", False),
        ("false", False),
        ("true", True),
        ("0", False),
        ("-0", False),
        (" false ", False),
        (" ", False),
        ("False", True),
        ("0.0", True),
        ([], False),
        ([0], True),
        ({}, False),
        ({"a": 1}, True),
        (datetime(2026, 1, 1), True),
    ],
)
def test_truthy(value: Any, truth: bool) -> None:
    assert values.truthy(value) is truth


def test_equals_keeps_booleans_apart_from_numbers() -> None:
    assert values.equals(1, 1.0)
    assert not values.equals(True, 1)
    assert not values.equals(0, False)
    assert values.equals(False, False)
    assert not values.equals("1", 1)


def test_integer_division_truncates_toward_zero() -> None:
    assert values.divide(7, 2) == 3
    assert values.divide(-7, 2) == -3
    assert values.divide(7, -2) == -3
    assert values.modulo(-7, 3) == -1
    assert values.modulo(7.5, 2) == 1.5


def test_dates_and_durations() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert values.add(start, timedelta(days=1)) == datetime(2026, 1, 2, tzinfo=UTC)
    assert values.subtract(start, timedelta(days=1)) == datetime(2025, 12, 31, tzinfo=UTC)
    assert values.compare("<", start, datetime(2027, 1, 1, tzinfo=UTC))


def test_compare_refuses_mixed_kinds() -> None:
    with pytest.raises(TemplateRenderError, match="Cannot compare"):
        values.compare("<", "a", 1)
    with pytest.raises(TemplateRenderError):
        values.compare(">", True, 0)


def test_range_needs_integers() -> None:
    assert values.make_range(2, 2) == [2]
    with pytest.raises(TemplateRenderError):
        values.make_range("a", "c")
