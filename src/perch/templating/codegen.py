"""Turn a template's syntax tree into Python source, compiled once with ``compile()``.

A template becomes a function ``_root(v, h)`` (variables, hooks) returning the rendered string;
a template that is exactly one ``{{ expr }}`` also gets ``_value(v, h)`` returning the value.
Expressions are compiled by :mod:`perch.templating.exprcode`.

``{% set %}`` and ``{% for %}`` bind Python locals. A name set inside an ``if`` may be unbound,
so its local starts as ``_UNSET`` and a read falls back to the enclosing binding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from perch.templating import nodes as n
from perch.templating import values
from perch.templating.exprcode import Binding, ExpressionCompiler, Scope

_MARKER = re.compile(r"  # @(\d+):(\d+)$")


@dataclass(frozen=True, slots=True)
class Compiled:
    """Python source, the globals it needs, and template positions by Python line number."""

    code: str
    namespace: dict[str, Any]
    typed: bool
    budgeted: bool
    """Whether the code has tags (loops, sets): only such code spends a budget of its own."""
    positions: dict[int, tuple[int, int]]


def _walk(node: object) -> Iterator[object]:
    if isinstance(node, tuple):
        for part in node:
            yield from _walk(part)
        return
    yield node
    for name in getattr(node, "__slots__", ()):
        child = getattr(node, name)
        if isinstance(child, tuple | n.Node | n.Args):
            yield from _walk(child)


def _uses_name(body: tuple[n.Node, ...], name: str) -> bool:
    return any(isinstance(x, n.Name) and x.name == name for node in body for x in _walk(node))


class CodeGenerator(ExpressionCompiler):
    """Compiles one template against a set of filters and functions."""

    def __init__(
        self,
        source: str,
        filters: Mapping[str, Callable[..., Any]],
        functions: Mapping[str, Callable[..., Any]],
    ) -> None:
        super().__init__(source, filters, functions)
        self.lines: list[str] = []
        self.indent = 1
        self.depth = 0  # how many if/else blocks enclose the current statement

    def emit(self, line: str, node: n.Node | None = None) -> None:
        # A trailing '# @line:column' marks where in the template this code comes from, so that
        # an exception's traceback line leads back to the template (see Compiled.positions).
        where = f"  # @{node.line}:{node.column}" if node is not None else ""
        self.lines.append("    " * self.indent + line + where)

    def compile(self, body: tuple[n.Node, ...]) -> Compiled:
        single = self.single_expression(body)
        self.lines.append("def _root(v, h):")
        flat = all(isinstance(node, n.Text | n.Output) for node in body)
        if flat:
            self.flat(body)
        else:
            self.emit("_o = []")
            # Every write counts against the output budget (perch.templating.budget).
            self.emit("_bg = _budget()")
            self.emit("w = _bg.writer(_o.append)")
            self.push_scope(len(self.lines))
            self.statements(body)
            self.pop_scope()
            self.emit("return ''.join(_o)")
        if single is not None:
            self.lines.append("def _value(v, h):")
            self.push_scope(len(self.lines))
            self.emit(f"return {self.expr(single.expr)}", single)
            self.pop_scope()
        positions = {}
        for number, line in enumerate(self.lines, start=1):
            marker = _MARKER.search(line)
            if marker:
                positions[number] = (int(marker.group(1)), int(marker.group(2)))
        code = "\n".join(self.lines) + "\n"
        return Compiled(code, self.namespace, single is not None, not flat, positions)

    def flat(self, body: tuple[n.Node, ...]) -> None:
        """Text and ``{{ }}`` only: one expression, each part on its own line."""
        if not body:
            self.emit("return ''")
            return
        self.push_scope(len(self.lines))
        parts = [(self.output_part(node), node) for node in body]
        self.pop_scope()
        joiner = "+ " if len(parts) <= 8 else ""
        self.emit("return (" if joiner else "return ''.join((")
        self.indent += 1
        for index, (code, node) in enumerate(parts):
            prefix = joiner if index else ""
            suffix = "" if joiner else ","
            self.emit(f"{prefix}{code}{suffix}", node if isinstance(node, n.Output) else None)
        self.indent -= 1
        self.emit(")" if joiner else "))")

    @staticmethod
    def single_expression(body: tuple[n.Node, ...]) -> n.Output | None:
        meaningful = [
            node for node in body if not (isinstance(node, n.Text) and not node.text.strip())
        ]
        if len(meaningful) == 1 and isinstance(meaningful[0], n.Output):
            return meaningful[0]
        return None

    def output_part(self, node: n.Node) -> str:
        if isinstance(node, n.Text):
            return repr(node.text)
        assert isinstance(node, n.Output)
        expr = node.expr
        if isinstance(expr, n.Const):
            return repr(values.to_string(expr.value))
        if isinstance(expr, n.Binary) and expr.op == "~":
            return self.expr(expr)
        return f"_s({self.expr(expr)})"

    def push_scope(self, init_at: int) -> None:
        self.scopes.append(Scope({}, init_at, self.indent, self.depth))

    def pop_scope(self) -> None:
        scope = self.scopes.pop()
        pad = "    " * scope.indent
        inits = [
            f"{pad}{b.pyname} = _UNSET" for b in scope.bindings.values() if b.pyname[:2] == "s_"
        ]
        self.lines[scope.init_at : scope.init_at] = inits

    def declare(self, name: str, *, loop_target: bool = False) -> str:
        scope = self.scopes[-1]
        definite = loop_target or self.depth == scope.depth
        binding = scope.bindings.get(name)
        if binding is None:
            prefix = "t_" if loop_target else "s_"
            binding = Binding(self.fresh(f"{prefix}{name}_"), definite)
            scope.bindings[name] = binding
        elif definite:
            binding.definite = True
        return binding.pyname

    def statements(self, body: tuple[n.Node, ...]) -> None:
        for node in body:
            if isinstance(node, n.Text):
                self.emit(f"w({self.output_part(node)})")
            elif isinstance(node, n.Output):
                self.emit(f"w({self.output_part(node)})", node)
            elif isinstance(node, n.If):
                self.if_statement(node)
            elif isinstance(node, n.For):
                self.for_statement(node)
            elif isinstance(node, n.FilterBlock):
                self.filter_block(node)
            elif isinstance(node, n.Set):
                code = self.expr(node.expr)
                self.emit(f"{self.declare(node.name)} = _bg.bound({code})", node)
            else:  # pragma: no cover - the parser makes nothing else
                raise self.error(f"Cannot compile {type(node).__name__}", node)

    def block(self, body: tuple[n.Node, ...]) -> None:
        self.indent += 1
        self.emit("pass")
        self.statements(body)
        self.indent -= 1

    def if_statement(self, node: n.If) -> None:
        self.depth += 1
        for index, (cond, body) in enumerate(node.branches):
            keyword = "if" if index == 0 else "elif"
            self.emit(f"{keyword} {self.condition(cond)}:", cond)
            self.block(body)
        if node.otherwise:
            self.emit("else:")
            self.block(node.otherwise)
        self.depth -= 1

    def for_statement(self, node: n.For) -> None:
        items = self.fresh("_items")
        helper = "_iter2" if len(node.targets) == 2 else "_iter"
        self.emit(
            f"{items} = {helper}({self.expr(node.iterable)}, {node.line}, {node.column})", node
        )
        self.emit(f"if {items}:")
        self.indent += 1
        self.depth += 1
        self.push_scope(len(self.lines))
        targets = [self.declare(t, loop_target=True) for t in node.targets]
        index = self.fresh("_i")
        size = self.fresh("_n")
        uses_loop = _uses_name(node.body, "loop")
        if uses_loop:
            self.emit(f"{size} = len({items})")
        target = ", ".join(targets) if len(targets) == 1 else f"({', '.join(targets)})"
        self.emit(f"for {index}, {target} in enumerate({items}):")
        self.indent += 1
        self.emit("_bg.tick()")
        if uses_loop:
            loop = self.declare("loop", loop_target=True)
            self.emit(
                f"{loop} = {{'index': {index}, 'length': {size}, 'first': {index} == 0, "
                f"'last': {index} == {size} - 1, 'revindex': {size} - {index} - 1}}"
            )
        self.emit("pass")
        self.statements(node.body)
        self.indent -= 1
        self.pop_scope()
        self.depth -= 1
        self.indent -= 1
        if node.otherwise:
            self.emit("else:")
            self.depth += 1
            self.block(node.otherwise)
            self.depth -= 1

    def filter_block(self, node: n.FilterBlock) -> None:
        # The body writes into its own buffer through a rebound 'w'; then the filters run on it.
        saved, buffer = self.fresh("_w"), self.fresh("_buf")
        self.emit(f"{saved} = w")
        self.emit(f"{buffer} = []")
        self.emit(f"w = _bg.writer({buffer}.append)")
        self.statements(node.body)
        self.emit(f"w = {saved}")
        code = f"''.join({buffer})"
        for name, args in node.filters:
            code = self.apply_filter(name, code, args, node)
        self.emit(f"w(_s({code}))", node)
