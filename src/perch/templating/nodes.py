"""The syntax tree of a Pebble template.

Expression nodes carry the 1-based line and column of their first token, so that run-time errors
(an undefined variable, a failing filter) point at the place in the template.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Node:
    """Base of every node."""

    line: int
    column: int


# --- expressions ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Const(Node):
    """A literal string, number, boolean or null."""

    value: object


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    """``[a, b, c]``."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MapLit(Node):
    """``{'key': value}``; keys are expressions as in Pebble."""

    pairs: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class Name(Node):
    """A bare variable name."""

    name: str


@dataclass(frozen=True, slots=True)
class Attr(Node):
    """``obj.key``, ``obj['key']`` or ``obj.0``: a lookup with a key known when compiling."""

    obj: Node
    key: str | int


@dataclass(frozen=True, slots=True)
class Item(Node):
    """``obj[expr]``: a lookup whose key is computed while rendering."""

    obj: Node
    key: Node


@dataclass(frozen=True, slots=True)
class Args:
    """Positional and named arguments of a call, filter or test."""

    positional: tuple[Node, ...] = ()
    named: tuple[tuple[str, Node], ...] = ()


@dataclass(frozen=True, slots=True)
class Call(Node):
    """``name(args)``: a template function."""

    name: str
    args: Args = field(default_factory=Args)


@dataclass(frozen=True, slots=True)
class Filter(Node):
    """``value | name(args)``."""

    value: Node
    name: str
    args: Args = field(default_factory=Args)


@dataclass(frozen=True, slots=True)
class Test(Node):
    """``value is [not] name(args)``."""

    value: Node
    name: str
    negated: bool
    args: Args = field(default_factory=Args)


@dataclass(frozen=True, slots=True)
class Binary(Node):
    """``left op right`` for every binary operator but filters and tests."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Unary(Node):
    """``not x``, ``-x``, ``+x``."""

    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Ternary(Node):
    """``cond ? yes : no``."""

    cond: Node
    yes: Node
    no: Node


# --- statements -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Text(Node):
    """Literal template text."""

    text: str


@dataclass(frozen=True, slots=True)
class Output(Node):
    """``{{ expr }}``."""

    expr: Node


@dataclass(frozen=True, slots=True)
class If(Node):
    """``{% if %}…{% elseif %}…{% else %}…{% endif %}``."""

    branches: tuple[tuple[Node, tuple[Node, ...]], ...]
    otherwise: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class For(Node):
    """``{% for x in xs %}`` or ``{% for k, v in map %}``, with an optional ``{% else %}``."""

    targets: tuple[str, ...]
    iterable: Node
    body: tuple[Node, ...]
    otherwise: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class FilterBlock(Node):
    """``{% filter upper | trim %}…{% endfilter %}``: filters applied to the rendered body."""

    filters: tuple[tuple[str, Args], ...]
    body: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Set(Node):
    """``{% set name = expr %}``."""

    name: str
    expr: Node
