"""Lexing and parsing details: positions, messages, precedence, whitespace control."""

from __future__ import annotations

import pytest

from perch.errors import TemplateSyntaxError
from perch.templating import Environment
from perch.templating import nodes as n
from perch.templating.lexer import tokenize
from perch.templating.parser import parse


def syntax_error(source: str) -> TemplateSyntaxError:
    with pytest.raises(TemplateSyntaxError) as caught:
        Environment().compile(source)
    return caught.value


@pytest.mark.parametrize(
    ("source", "line", "column", "message"),
    [
        ("{{ }}", 1, 4, "Unexpected token '}}', expected an expression"),
        ("a\nb {{ x + }}", 2, 10, "Unexpected token '}}'"),
        ("{% if x %}\n{% endfor %}", 2, 4, "Unexpected '{% endfor %}', expected '{% endif %}'"),
        ("{% if x %}", 1, 11, "Missing '{% endif %}'"),
        ("{% for x in y %}", 1, 17, "Missing '{% endfor %}'"),
        ("{{ 'abc }}", 1, 4, "Unclosed string literal"),
        ("{{ x\n", 1, 1, "Unclosed tag: expected '}}'"),
        ("{% frobnicate %}", 1, 4, "Unknown tag 'frobnicate'"),
        ("{% endif %}", 1, 4, "without a matching opening tag"),
        ("{{ x.y() }}", 1, 6, "Method calls"),
        ("{{ x ] }}", 1, 6, "Unexpected ']'"),
        ("{{ x $ }}", 1, 6, "Unexpected character '$'"),
        ("{{ a b }}", 1, 6, "Unexpected token 'b', expected the end of the tag"),
        ("{{ f(a=1, 2) }}", 1, 11, "Positional arguments must come before named ones"),
        ("{# open", 1, 1, "Unclosed comment"),
        ("{% raw %} open", 1, 1, "Unclosed '{% raw %}'"),
        ("{% set 1 = 2 %}", 1, 8, "expected a variable name"),
    ],
)
def test_syntax_error_positions_and_messages(
    source: str, line: int, column: int, message: str
) -> None:
    error = syntax_error(source)
    assert (error.line, error.column) == (line, column)
    assert message in error.message
    assert error.source == source


def test_closing_braces_inside_maps_do_not_end_the_tag() -> None:
    assert Environment().render("{{ {'a': {'b': 1}} }}", {}) == '{"a":{"b":1}}'


def test_whitespace_control_trims_all_whitespace_on_its_side() -> None:
    env = Environment()
    assert env.render("a \n\t{{- 'b' }} \n c", {}) == "ab \n c"
    assert env.render("a \n{{ 'b' -}} \n\t c", {}) == "a \nbc"
    assert env.render(
        "<ul>\n  {%- for x in [1, 2] %}\n  <li>{{ x }}</li>\n  {%- endfor %}\n</ul>", {}
    ) == ("<ul>\n  <li>1</li>\n  <li>2</li>\n</ul>")
    assert env.render("a {%- raw -%} {{ x }} {%- endraw -%} b", {}) == "a{{ x }}b"


def test_tokens_carry_positions() -> None:
    tokens = tokenize("ab\n{{ x.y }}")
    assert [(t.kind, t.value, t.line, t.column) for t in tokens[:4]] == [
        ("TEXT", "ab\n", 1, 1),
        ("PRINT", "{{", 2, 1),
        ("name", "x", 2, 4),
        ("op", ".", 2, 5),
    ]


def _expr(source: str) -> n.Node:
    (output,) = parse("{{ " + source + " }}")
    assert isinstance(output, n.Output)
    return output.expr


def test_not_binds_tighter_than_comparison_as_in_pebble() -> None:
    expr = _expr("not a == b")
    assert isinstance(expr, n.Binary)
    assert expr.op == "=="
    assert isinstance(expr.left, n.Unary)


def test_coalescing_binds_tighter_than_concatenation() -> None:
    expr = _expr("a ?? b ~ c")
    assert isinstance(expr, n.Binary)
    assert expr.op == "~"
    assert isinstance(expr.left, n.Binary)
    assert expr.left.op == "??"


def test_filter_applies_after_concatenation_but_before_arithmetic() -> None:
    concat = _expr("a ~ b | upper")
    assert isinstance(concat, n.Filter)
    assert isinstance(concat.value, n.Binary)
    plus = _expr("a + b | upper")
    assert isinstance(plus, n.Binary)
    assert isinstance(plus.right, n.Filter)


def test_ternary_is_right_nested() -> None:
    expr = _expr("a ? b : c ? d : e")
    assert isinstance(expr, n.Ternary)
    assert isinstance(expr.no, n.Ternary)


def test_constant_subscripts_are_static_lookups() -> None:
    expr = _expr("a['my-key'][0]")
    assert isinstance(expr, n.Attr)
    assert expr.key == 0
    assert isinstance(expr.obj, n.Attr)
    assert expr.obj.key == "my-key"


def test_is_not_parses_a_negated_test() -> None:
    expr = _expr("x is not null")
    assert isinstance(expr, n.Test)
    assert expr.negated
    assert expr.name == "null"
