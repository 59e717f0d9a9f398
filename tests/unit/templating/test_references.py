"""Static references: what a template reads, for the flow validator."""

from __future__ import annotations

import pytest

from perch.errors import TemplateSyntaxError
from perch.templating import Reference, references


def paths(source: str) -> list[tuple[str, ...]]:
    return [ref.path for ref in references(source)]


def test_example_from_the_api() -> None:
    assert paths("{{ inputs.request.name ~ inputs['x'] }}") == [
        ("inputs", "request", "name"),
        ("inputs", "x"),
    ]


def test_positions_point_at_the_root_name() -> None:
    assert references("a\n {{ inputs.x }}") == [Reference(("inputs", "x"), 2, 5)]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("no template", []),
        ("{{ 1 + 2 }}", []),
        (
            "{{ inputs.employee ?? labels.system.username }}",
            [("inputs", "employee"), ("labels", "system", "username")],
        ),
        ("{{ inputs.a[inputs.b].c }}", [("inputs", "a"), ("inputs", "b")]),
        ("{{ inputs.list[0].name }}", [("inputs", "list", "0", "name")]),
        ("{{ x | default(inputs.d) }}", [("x",), ("inputs", "d")]),
        ("{{ secret(inputs.key) }}", [("inputs", "key")]),
        ("{{ inputs.a is defined ? inputs.a : 'n' }}", [("inputs", "a"), ("inputs", "a")]),
        ("{% for x in inputs.xs %}{{ x.name }}{{ loop.index }}{% endfor %}", [("inputs", "xs")]),
        ("{% for k, v in inputs.m %}{{ k }}{{ v }}{% endfor %}", [("inputs", "m")]),
        ("{% set y = inputs.a %}{{ y.b }}", [("inputs", "a")]),
        (
            "{% if inputs.c %}{{ outputs.t.value }}{% else %}{{ vars.v }}{% endif %}",
            [("inputs", "c"), ("outputs", "t", "value"), ("vars", "v")],
        ),
        ("{{ (inputs | first).name }}", [("inputs",)]),
        ("{{ {'k': inputs.v}['k'] }}", [("inputs", "v")]),
        ("{% raw %}{{ inputs.hidden }}{% endraw %}", []),
    ],
)
def test_references(source: str, expected: list[tuple[str, ...]]) -> None:
    assert paths(source) == expected


def test_syntax_errors_are_raised() -> None:
    with pytest.raises(TemplateSyntaxError):
        references("{{ inputs. }}")
