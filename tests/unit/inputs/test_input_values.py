"""Typed values on their way out: JSON form for storage, masked secrets, nesting by id."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest

from perch.inputs import InputType, Secret, nest_values, parse_value, serialize_input_value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (date(2024, 7, 1), "2024-07-01"),
        (datetime(2042, 4, 2, 4, 20, 42, tzinfo=UTC), "2042-04-02T04:20:42Z"),
        (datetime(2042, 4, 2, 4, 20, 42, 500000, tzinfo=UTC), "2042-04-02T04:20:42.500000Z"),
        (datetime(2042, 4, 2, 6, 0, tzinfo=timezone(timedelta(hours=2))), "2042-04-02T04:00:00Z"),
        (time(10, 15, 30), "10:15:30"),
        (timedelta(minutes=90), "PT1H30M"),
        # A secret stays marked: the store encrypts it, what shows it masks it.
        (Secret("s3cr3t"), Secret("s3cr3t")),
        ({"a": [date(2024, 1, 1), timedelta(seconds=1)]}, {"a": ["2024-01-01", "PT1S"]}),
        ((1, "x"), [1, "x"]),
        (None, None),
        (True, True),
        (1.5, 1.5),
    ],
)
def test_values_serialize_to_json(value: Any, expected: Any) -> None:
    serialized = serialize_input_value(value)
    assert serialized == expected
    assert type(serialized) is type(expected)
    json.dumps(serialized)


@pytest.mark.parametrize(
    ("input_type", "text"),
    [
        (InputType.DATE, "2024-07-01"),
        (InputType.DATETIME, "2042-04-02T04:20:42Z"),
        (InputType.TIME, "10:15:30"),
        (InputType.DURATION, "PT1H30M"),
        (InputType.DURATION, "PT-0.5S"),
    ],
)
def test_serialized_values_read_back_the_same(input_type: InputType, text: str) -> None:
    value = parse_value(input_type, text)
    assert serialize_input_value(value) == text
    assert parse_value(input_type, serialize_input_value(value)) == value


def test_secrets_can_be_masked_for_display() -> None:
    value = {"token": Secret("s3cr3t"), "user": "ann"}
    assert serialize_input_value(value, mask_secrets=True) == {"token": "******", "user": "ann"}
    assert "s3cr3t" not in repr(value)
    assert json.dumps(serialize_input_value(value)) == '{"token": "s3cr3t", "user": "ann"}'


@pytest.mark.parametrize(
    ("flat", "expected"),
    [
        ({"a": 1}, {"a": 1}),
        ({"a.b": 1, "a.c": 2, "d": 3}, {"a": {"b": 1, "c": 2}, "d": 3}),
        ({"a.b.c": None}, {"a": {"b": {"c": None}}}),
        ({"a": 1, "a.b": 2}, {"a": {"b": 2}}),
        ({"a.b": 2, "a": 1}, {"a": {"b": 2}}),
        ({}, {}),
    ],
)
def test_dotted_ids_nest(flat: dict[str, Any], expected: dict[str, Any]) -> None:
    assert nest_values(flat) == expected
