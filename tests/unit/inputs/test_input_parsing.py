"""Raw values, as form text or as JSON/YAML values, become typed values (or a clear refusal)."""

from __future__ import annotations

import re
import warnings
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest

from perch.inputs import InputType, ValueProblem, parse_value
from perch.inputs.parsing import MAX_VALUE_DEPTH, MAX_VALUE_ITEMS

T = InputType


@pytest.mark.parametrize(
    ("input_type", "raw", "expected"),
    [
        (T.STRING, "hello", "hello"),
        (T.STRING, "", ""),
        (T.STRING, 42, "42"),
        (T.STRING, 1.5, "1.5"),
        (T.STRING, True, "true"),
        (T.STRING, date(2024, 7, 1), "2024-07-01"),
        (T.STRING, "{{ secret('X') }}", "{{ secret('X') }}"),
        (T.INT, "42", 42),
        (T.INT, " -7 ", -7),
        (T.INT, "+3", 3),
        (T.INT, 42, 42),
        (T.INT, 3.0, 3),
        (T.FLOAT, "1.5", 1.5),
        (T.FLOAT, "1e3", 1000.0),
        (T.FLOAT, ".5", 0.5),
        (T.FLOAT, 2, 2.0),
        (T.FLOAT, 2.25, 2.25),
        (T.BOOL, "true", True),
        (T.BOOL, "FALSE", False),
        (T.BOOL, " True ", True),
        (T.BOOLEAN, False, False),
        (T.BOOLEAN, "false", False),
        (T.DATE, "2024-07-01", date(2024, 7, 1)),
        (T.DATE, date(2024, 7, 1), date(2024, 7, 1)),
        (T.DATETIME, "2042-04-02T04:20:42.000Z", datetime(2042, 4, 2, 4, 20, 42, tzinfo=UTC)),
        (T.DATETIME, "2042-04-02T04:20:42Z", datetime(2042, 4, 2, 4, 20, 42, tzinfo=UTC)),
        (T.DATETIME, "2042-04-02T06:20:42+02:00", datetime(2042, 4, 2, 4, 20, 42, tzinfo=UTC)),
        (
            T.DATETIME,
            "2042-04-02T04:20:42.123456789Z",
            datetime(2042, 4, 2, 4, 20, 42, 123456, tzinfo=UTC),
        ),
        (
            T.DATETIME,
            datetime(2042, 4, 2, 6, 0, tzinfo=timezone(timedelta(hours=2))),
            datetime(2042, 4, 2, 4, 0, tzinfo=UTC),
        ),
        (T.TIME, "10:15:30", time(10, 15, 30)),
        (T.TIME, "10:15", time(10, 15)),
        (T.TIME, "10:15:30.5", time(10, 15, 30, 500000)),
        (T.TIME, time(8, 0), time(8, 0)),
        (T.DURATION, "PT5M", timedelta(minutes=5)),
        (T.DURATION, timedelta(hours=1), timedelta(hours=1)),
        (T.JSON, '{"a": [1, 2]}', {"a": [1, 2]}),
        (T.JSON, "3", 3),
        (T.JSON, {"already": "parsed"}, {"already": "parsed"}),
        (T.JSON, [1, 2], [1, 2]),
        (T.YAML, "a: 1\nb: [x, y]\n", {"a": 1, "b": ["x", "y"]}),
        (T.YAML, {"k": "v"}, {"k": "v"}),
        (T.URI, "https://example.com/path?q=1", "https://example.com/path?q=1"),
        (T.URI, "kestra://main/file.txt", "kestra://main/file.txt"),
        (T.EMAIL, "ann@example.com", "ann@example.com"),
        (T.SECRET, "s3cr3t", "s3cr3t"),
        (T.FILE, "kestra:///company/team/file.csv", "kestra:///company/team/file.csv"),
        (T.SELECT, "HR", "HR"),
        (T.ENUM, "A", "A"),
        (T.MULTISELECT, '["a", "b"]', ["a", "b"]),
        (T.MULTISELECT, ["a", "b"], ["a", "b"]),
        (T.ARRAY, "[1, 2]", ["1", "2"]),
    ],
)
def test_values_are_read_as_their_type(input_type: InputType, raw: Any, expected: Any) -> None:
    value = parse_value(input_type, raw)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("item_type", "raw", "expected"),
    [
        (T.INT, '[1, "2", " 3 "]', [1, 2, 3]),
        (T.BOOL, '["true", false]', [True, False]),
        (T.DATE, ["2024-07-01"], [date(2024, 7, 1)]),
        (T.DURATION, '["PT1M", "PT2S"]', [timedelta(minutes=1), timedelta(seconds=2)]),
        (T.STRING, "[]", []),
        (T.JSON, '[{"a": 1}]', [{"a": 1}]),
    ],
)
def test_array_items_are_read_as_the_item_type(
    item_type: InputType, raw: Any, expected: list[Any]
) -> None:
    assert parse_value(T.ARRAY, raw, item_type=item_type) == expected


@pytest.mark.parametrize(
    ("input_type", "raw"),
    [
        (T.STRING, ["a"]),
        (T.STRING, {"a": 1}),
        (T.INT, "abc"),
        (T.INT, "4.5"),
        (T.INT, 4.5),
        (T.INT, True),
        (T.INT, "1_000"),
        (T.INT, ""),
        (T.FLOAT, "abc"),
        (T.FLOAT, "NaN"),
        (T.FLOAT, "inf"),
        (T.FLOAT, True),
        (T.BOOL, "yes"),
        (T.BOOL, "1"),
        (T.BOOL, 1),
        (T.BOOLEAN, "ture"),
        (T.DATE, "2024-13-01"),
        (T.DATE, "20240701"),
        (T.DATE, "2024-07-01T00:00:00Z"),
        (T.DATE, datetime(2024, 7, 1, tzinfo=UTC)),
        (T.DATETIME, "2024-07-01T10:00:00"),
        (T.DATETIME, "2024-07-01 10:00:00Z"),
        (T.DATETIME, "2024-07-01"),
        (T.DATETIME, datetime(2024, 7, 1, 10, 0)),
        (T.TIME, "25:00"),
        (T.TIME, "10"),
        (T.TIME, "10:15:30+02:00"),
        (T.DURATION, "5 minutes"),
        (T.DURATION, "P1W"),
        (T.DURATION, 300),
        (T.JSON, "{not json"),
        (T.JSON, "NaN"),
        (T.YAML, "a: [unclosed"),
        (T.URI, "not a uri"),
        (T.URI, "example.com/path"),
        (T.URI, "https://exa mple.com"),
        (T.FILE, 42),
        (T.FILE, ""),
        (T.MULTISELECT, "a"),
        (T.MULTISELECT, '{"a": 1}'),
        (T.ARRAY, "1, 2"),
    ],
)
def test_wrong_values_are_refused_naming_type_and_value(input_type: InputType, raw: Any) -> None:
    with pytest.raises(ValueProblem) as caught:
        parse_value(input_type, raw)
    message = str(caught.value)
    assert input_type.value in message
    assert "received" in message


def test_an_array_element_problem_names_the_element() -> None:
    with pytest.raises(ValueProblem, match="unable to parse array element as `INT` on `x`"):
        parse_value(T.ARRAY, '[1, "x"]', item_type=T.INT)


def test_a_secret_value_is_never_quoted_in_a_refusal() -> None:
    with pytest.raises(ValueProblem) as caught:
        parse_value(T.SECRET, ["hunter2"])
    assert "hunter2" not in str(caught.value)
    assert "******" in str(caught.value)


def test_a_naive_datetime_is_refused_asking_for_a_zone() -> None:
    with pytest.raises(ValueProblem, match="time zone"):
        parse_value(T.DATETIME, datetime(2024, 7, 1, 10, 0))


def test_long_values_are_shortened_in_messages() -> None:
    with pytest.raises(ValueProblem) as caught:
        parse_value(T.INT, "x" * 500)
    assert len(str(caught.value)) < 150


def test_yaml_datetime_subclass_becomes_a_plain_utc_datetime() -> None:
    from ruamel.yaml import YAML

    loaded = YAML(typ="rt").load("at: 2024-07-01T10:00:00+02:00\n")["at"]
    value = parse_value(T.DATETIME, loaded)
    assert type(value) is datetime
    assert value == datetime(2024, 7, 1, 8, 0, tzinfo=UTC)


# --- hostile JSON and YAML values: refused, never an exception or a hang -------------------------

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("input_type", "raw", "reason"),
    [
        (T.JSON, "[" * 100_000 + "]" * 100_000, "the JSON value is nested too deeply"),
        (T.ARRAY, "[" * 100_000 + "]" * 100_000, "the ARRAY value is nested too deeply"),
        (T.MULTISELECT, "[" * 100_000 + "]" * 100_000, "the MULTISELECT value is nested too"),
        (T.JSON, "[" * 150 + "]" * 150, f"nested more than {MAX_VALUE_DEPTH} levels deep"),
        (T.YAML, "[" * 150 + "]" * 150, f"nested more than {MAX_VALUE_DEPTH} levels deep"),
        (T.YAML, "a: &a [*a]", "the value contains itself (through an alias)"),
        (T.YAML, LAUGHS, f"the value holds more than {MAX_VALUE_ITEMS} items"),
    ],
)
def test_hostile_values_are_refused(input_type: InputType, raw: str, reason: str) -> None:
    with pytest.raises(ValueProblem, match=re.escape(reason)):
        parse_value(input_type, raw)


def test_a_repeated_yaml_anchor_is_read_without_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert parse_value(T.YAML, "a: &x 1\nb: &x 2\nc: *x") == {"a": 1, "b": 2, "c": 2}


def test_yaml_aliases_that_stay_small_are_fine() -> None:
    assert parse_value(T.YAML, "a: &a [1, 2]\nb: [*a, *a]") == {"a": [1, 2], "b": [[1, 2], [1, 2]]}


@pytest.mark.parametrize("input_type", [T.JSON, T.YAML])
def test_a_refused_oversized_value_is_not_kept_alive_by_the_error(input_type: InputType) -> None:
    # Freed where it was refused: kept by the traceback, it would be freed by the thread that
    # handles the error (a request's event loop), holding the interpreter ~30 ms per 100k items.
    raw = "[" + ", ".join(["1"] * (MAX_VALUE_ITEMS + 5)) + "]"
    with pytest.raises(ValueProblem, match="more than") as caught:
        parse_value(input_type, raw)
    tb = caught.value.__traceback__
    while tb is not None:
        big = [
            name
            for name, value in tb.tb_frame.f_locals.items()
            if isinstance(value, (list, dict)) and len(value) > 1_000
        ]
        assert big == [], (tb.tb_frame.f_code.co_name, big)
        tb = tb.tb_next
