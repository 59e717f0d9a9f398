"""Reading YAML: plain data, positions, and well-formedness problems."""

from __future__ import annotations

import math
import warnings

import pytest

from perch.errors import Problem
from perch.flows.yamlsource import MAX_ALIAS_VALUES, MAX_DEPTH, MAX_SOURCE_CHARS, load_yaml


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


# --- limits: what a hostile or broken document cannot do ---------------------------------------

LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_a_billion_laughs_stops_with_a_clear_problem() -> None:
    # 9**9 values if expanded: the loader stops at the alias limit instead (no timing here:
    # expanding would not finish, and how fast it stops is not a test's business).
    doc = load_yaml(LAUGHS)
    assert doc.data is None
    assert [(p.message, p.line) for p in doc.problems] == [
        (f"aliases (*name) repeat more than {MAX_ALIAS_VALUES} values in all", 1)
    ]


def test_reusing_a_block_through_aliases_is_fine() -> None:
    doc = load_yaml("base: &b {type: Log, level: INFO}\nt: [*b, *b, *b]\nu:\n  <<: *b\n  id: x\n")
    assert doc.problems == []
    assert doc.data["t"] == [{"type": "Log", "level": "INFO"}] * 3
    assert doc.data["u"] == {"id": "x", "type": "Log", "level": "INFO"}


def test_an_alias_inside_its_own_anchor_is_a_problem() -> None:
    doc = load_yaml("id: a\nvariables: &v\n  again: [*v]\n")
    assert doc.data is None
    assert [p.message for p in doc.problems] == [
        "an alias (*name) refers to a value that contains it"
    ]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 400])
def test_deep_nesting_is_a_problem(depth: int) -> None:
    doc = load_yaml("a: " + "[" * depth + "]" * depth + "\n")
    assert doc.data is None
    assert [p.message for p in doc.problems] == [
        f"the document is nested more than {MAX_DEPTH} levels deep"
    ]


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = MAX_DEPTH - 1
    doc = load_yaml("a: " + "[" * depth + "]" * depth + "\n")
    assert doc.problems == []


def test_deep_nesting_through_aliases_is_a_problem() -> None:
    half = MAX_DEPTH // 2 + 1
    nested = "[" * half + "x" + "]" * half
    doc = load_yaml(f"a: &a {nested}\nb: {'[' * half}*a{']' * half}\n")
    assert doc.data is None
    assert "nested more than" in doc.problems[0].message


def test_a_too_large_document_is_refused_before_parsing() -> None:
    doc = load_yaml("a: b\n" * (MAX_SOURCE_CHARS // 5 + 1))
    assert doc.data is None
    assert doc.problems[0].message.startswith("the flow is too large")
    assert doc.problems[0].line == 1


def test_a_repeated_anchor_is_valid_and_the_later_one_wins() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        doc = load_yaml("a: &x 1\nb: &x 2\nc: *x\n")
    assert doc.problems == []
    assert doc.data == {"a": 1, "b": 2, "c": 2}


def test_a_merge_of_something_else_than_a_mapping_is_a_problem() -> None:
    doc = load_yaml("id: a\n<<: 5\n")
    assert [(p.message, p.line) for p in doc.problems] == [
        ("'<<' (merge) takes an alias to a mapping, or a list of them", 2)
    ]


def test_a_forbidden_character_is_located() -> None:
    doc = load_yaml("id: a\nnamespace: b\x01c\n")
    assert [(p.message, p.line, p.column) for p in doc.problems] == [
        ("invalid YAML: the character U+0001 is not allowed in YAML text", 2, 13)
    ]


def test_aliases_cannot_repeat_a_long_text_many_times() -> None:
    # Each copy of a template is checked again: 5,000 copies of 50 KB would take minutes.
    text = "{{ x }}" * 7000
    doc = load_yaml(f"a: &a '{text}'\nb: [{', '.join(['*a'] * 5000)}]\n")
    assert doc.data is None
    assert [(p.message, p.line) for p in doc.problems] == [
        (
            f"aliases (*name) repeat more than {MAX_SOURCE_CHARS:,} characters of text in all",
            1,
        )
    ]


def test_an_escaped_lone_surrogate_is_a_problem_and_is_replaced() -> None:
    doc = load_yaml('id: "a\\ud800"\n"\\udfff": 1\n')
    assert [(p.path, p.line) for p in doc.problems] == [("id", 1), ("", 2)]
    assert all("half of a UTF-16 pair" in p.message for p in doc.problems)
    assert doc.data == {"id": "a\ufffd", "\ufffd": 1}
