"""Reading YAML: plain data, positions, and well-formedness problems."""

from __future__ import annotations

import math

import pytest

from perch.errors import Problem
from perch.flows.yamlsource import load_yaml


def test_scalars_follow_yaml_1_2_and_keep_dates_as_text() -> None:
    doc = load_yaml(
        "a: on\nb: yes\nc: off\nd: true\ne: 2024-07-01\nf: 12\ng: 1.5\nh: ~\ni: '12'\n"
        "j: 2042-04-02T04:20:42Z\nk: 0x1F\nl: .inf\nm: NO\n"
    )
    assert doc.problems == []
    assert doc.data == {
        "a": "on",
        "b": "yes",
        "c": "off",
        "d": True,
        "e": "2024-07-01",
        "f": 12,
        "g": 1.5,
        "h": None,
        "i": "12",
        "j": "2042-04-02T04:20:42Z",
        "k": 31,
        "l": math.inf,
        "m": "NO",
    }


def test_block_scalars_and_quoted_values_are_strings() -> None:
    doc = load_yaml('a: |\n  line 1\n  line 2\nb: "true"\nc: !!str 5\n')
    assert doc.data == {"a": "line 1\nline 2\n", "b": "true", "c": "5"}


def test_positions_of_keys_items_and_values() -> None:
    doc = load_yaml("id: x\ntasks:\n  - id: a\n    message: |\n      hi\n")
    assert (doc.keys[("tasks",)].line, doc.keys[("tasks",)].column) == (2, 1)
    assert (doc.keys[("tasks", 0)].line, doc.keys[("tasks", 0)].column) == (3, 5)
    assert doc.keys[("tasks", 0, "message")].line == 4
    assert doc.values[("tasks", 0, "message")].style == "|"


def test_position_of_a_missing_key_falls_back_to_its_parent() -> None:
    doc = load_yaml("id: x\ntasks:\n  - id: a\n")
    found = doc.position(("tasks", 0, "type"))
    assert found is not None
    assert found.line == 3


def test_duplicate_keys_are_problems_with_both_lines() -> None:
    doc = load_yaml("id: a\ntasks:\n  - id: t\n    id: u\n")
    assert doc.problems == [
        Problem("tasks[0].id", "duplicate key 'id' (first defined on line 3)", 4, 5)
    ]
    assert doc.data["tasks"][0]["id"] == "t"


def test_syntax_errors_are_problems_with_a_line() -> None:
    doc = load_yaml("id: a\ntasks:\n  - id: t\n   bad: [\n")
    assert doc.data is None
    assert len(doc.problems) == 1
    assert doc.problems[0].message.startswith("invalid YAML")
    assert doc.problems[0].line is not None
    assert doc.problems[0].line >= 4


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n"])
def test_empty_documents_are_a_problem(text: str) -> None:
    doc = load_yaml(text)
    assert doc.data is None
    assert [p.message for p in doc.problems] == ["the document is empty"]


def test_anchors_and_merge_keys_are_resolved() -> None:
    doc = load_yaml("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n")
    assert doc.data["other"] == {"x": 1, "y": 3}
