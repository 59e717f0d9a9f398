"""Collection and number filters, called directly through the FILTERS table."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from perch.errors import TemplateRenderError
from perch.templating.filters import FILTERS


@pytest.mark.parametrize(
    ("name", "value", "args", "expected"),
    [
        ("length", "Kestra", (), 6),
        ("length", [1, 2], (), 2),
        ("length", {"a": 1}, (), 1),
        ("length", None, (), 0),
        ("length", 42, (), 0),
        ("join", ["Alex", "Joe", "Bob"], (",",), "Alex,Joe,Bob"),
        ("join", ["a", 1, True, None, {"k": 1}], ("-",), 'a-1-true--{"k":1}'),
        ("join", ["a", "b"], (), "ab"),
        ("first", ["apple", "banana"], (), "apple"),
        ("first", "Kestra", (), "K"),
        ("first", [], (), None),
        ("last", ["apple", "banana"], (), "banana"),
        ("last", "Kestra", (), "a"),
        ("keys", {"this": "foo", "that": "bar"}, (), ["this", "that"]),
        ("keys", [5, 6, 7], (), [0, 1, 2]),
        ("values", {"this": "foo", "that": "bar"}, (), ["foo", "bar"]),
        ("reverse", [1, 2, 3], (), [3, 2, 1]),
        ("reverse", "abc", (), "cba"),
        ("sort", [3, 1.5, 2], (), [1.5, 2, 3]),
        ("sort", ["b", "a", "C"], (), ["C", "a", "b"]),
        ("sort", [date(2024, 2, 1), date(2024, 1, 1)], (), [date(2024, 1, 1), date(2024, 2, 1)]),
        ("rsort", [1, 3, 2], (), [3, 2, 1]),
        ("slice", [1, 2, 3, 4], (1, 3), [2, 3]),
        ("slice", "Kestra", (0, 3), "Kes"),
        ("slice", "Kestra", (2,), "stra"),
        ("merge", {"a": 1, "b": 1}, ({"b": 2},), {"a": 1, "b": 2}),
        ("merge", [1, 2], ([3],), [1, 2, 3]),
        ("merge", {"a": 1}, (["x"],), {"a": 1, "x": "x"}),
        ("merge", None, ([1],), [1]),
        ("merge", [1], (None,), [1]),
        ("distinct", [1, 2, 1, "a", "a", True, 1.0], (), [1, 2, "a", True]),
        ("chunk", [1, 2, 3, 4, 5], (2,), [[1, 2], [3, 4], [5]]),
        ("chunk", [], (3,), []),
        ("flatten", [[1, 2], [3], 4, [[5]]], (), [1, 2, 3, 4, [5]]),
        ("abs", -7, (), 7),
        ("abs", -1.5, (), 1.5),
        ("abs", Decimal("-2.50"), (), Decimal("2.50")),
    ],
)
def test_collection_filters(name: str, value: Any, args: tuple[Any, ...], expected: Any) -> None:
    assert FILTERS[name](value, *args) == expected


def test_filters_never_modify_their_input() -> None:
    items = [3, 1, 2]
    FILTERS["sort"](items)
    FILTERS["reverse"](items)
    FILTERS["rsort"](items)
    assert items == [3, 1, 2]


def test_slice_takes_pebble_argument_names() -> None:
    assert FILTERS["slice"]([1, 2, 3], fromIndex=1) == [2, 3]
    assert FILTERS["slice"]([1, 2, 3], toIndex=2) == [1, 2]


@pytest.mark.parametrize(
    "name",
    ["join", "first", "last", "keys", "values", "reverse", "sort", "rsort", "slice", "chunk"],
)
def test_null_passes_through(name: str) -> None:
    args = (1,) if name == "chunk" else ()
    assert FILTERS[name](None, *args) is None


@pytest.mark.parametrize(
    ("name", "value", "args", "message"),
    [
        ("join", "abc", (), "can only be applied to a list"),
        ("first", "", (), "empty string"),
        ("first", {"a": 1}, (), "list"),
        ("keys", "abc", (), "list or a map"),
        ("values", [1], (), "map"),
        ("sort", [1, "a"], (), "Cannot compare"),
        ("sort", {"a": 1}, (), "list"),
        ("slice", [1, 2], (0, 5), "toIndex must not exceed"),
        ("slice", [1, 2], (1, 1), "greater than fromIndex"),
        ("slice", [1, 2], (-1,), "0 or more"),
        ("slice", 12, (), "string or a list"),
        ("merge", None, (None,), "both values"),
        ("merge", [1], ({"a": 1},), "only a list"),
        ("merge", "x", ([1],), "merges maps and lists"),
        ("chunk", [1], (0,), "greater than 0"),
        ("chunk", [1], (), "size"),
        ("chunk", "abc", (2,), "list"),
        ("flatten", {"a": 1}, (), "list"),
        ("abs", None, (), "null"),
        ("abs", "1", (), "number"),
        ("abs", True, (), "number"),
    ],
)
def test_collection_filter_errors(
    name: str, value: Any, args: tuple[Any, ...], message: str
) -> None:
    with pytest.raises(TemplateRenderError, match=message):
        FILTERS[name](value, *args)


@pytest.mark.parametrize(
    ("value", "args", "kwargs", "expected"),
    [
        (2.5, (), {}, 3),
        (-2.5, (), {}, -3),
        (2.345, (2,), {}, 2.35),
        (7, (), {}, 7),
        (2.5, (), {"method": "HALF_EVEN"}, 2),
        (1.21, (1,), {"method": "CEILING"}, 1.3),
        (1250, (-2,), {}, 1300),
    ],
)
def test_round(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any], expected: Any) -> None:
    result = FILTERS["round"](value, *args, **kwargs)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        ("abc", {}, "needs a number"),
        (None, {}, "null"),
        (1.5, {"method": "SIDEWAYS"}, "method"),
    ],
)
def test_round_errors(value: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(TemplateRenderError, match=message):
        FILTERS["round"](value, **kwargs)
