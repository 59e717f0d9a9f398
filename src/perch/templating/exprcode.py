"""Compile Pebble expressions to Python expression source.

Each expression compiles in one of two modes. *Strict* code raises
:class:`UndefinedVariableError` on a missing name; *soft* code yields :data:`UNDEFINED`, and is
used on the left of ``??`` and ``???``, under ``is defined`` and before ``| default``.

The code reaches values only through the sandboxed helpers of :mod:`perch.templating.lookup`,
and filters, functions and tests only through the registries it was compiled against: template
text only ever appears in generated code as ``repr()`` literals or inside fresh local names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from keyword import iskeyword
from typing import Any

from perch.errors import TemplateSecurityError, TemplateSyntaxError, UndefinedVariableError
from perch.templating import budget, core, lookup, taint, values
from perch.templating import nodes as n

UNSET = object()


def _soft_call(thunk: Callable[[], Any]) -> Any:
    """Evaluate a compound expression where an undefined name must yield ``UNDEFINED``."""
    try:
        return thunk()
    except UndefinedVariableError:
        return lookup.UNDEFINED


RUNTIME: dict[str, Any] = {
    "_soft": _soft_call,
    "_U": lookup.UNDEFINED,
    "_UNSET": UNSET,
    "_chain": lookup.chain,
    "_chain_soft": lookup.chain_soft,
    "_item": lookup.item,
    "_s": values.to_string,
    "_b": values.truthy,
    "_eq": values.equals,
    "_cmp": values.compare,
    "_add": values.add,
    "_sub": values.subtract,
    "_mul": values.multiply,
    "_div": values.divide,
    "_mod": values.modulo,
    "_neg": values.negate,
    "_pos": values.positive,
    "_contains": values.contains,
    "_range": values.make_range,
    "_cat": budget.concat,
    "_iter": values.iterate,
    "_iter2": values.iterate_pairs,
    "_default": core.default_filter,
    "_n": taint.note,
    "_budget": budget.current,
}
_ARITHMETIC = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div", "%": "_mod"}
_COMPARISONS = frozenset({"<", "<=", ">", ">="})
_BOOLEAN_OPS = frozenset({"or", "and", "==", "equals", "!=", "contains", *_COMPARISONS})


def _is_defined(value: object) -> bool:
    return value is not lookup.UNDEFINED and value is not None


@dataclass(slots=True)
class Binding:
    """A template name bound to a Python local; ``definite`` once surely assigned."""

    pyname: str
    definite: bool


@dataclass(slots=True)
class Scope:
    """The names bound by one template scope (the template itself, or a loop body)."""

    bindings: dict[str, Binding]
    init_at: int  # index in the output lines where this scope's initialisations go
    indent: int
    depth: int  # conditional depth at which the scope starts


class ExpressionCompiler:
    """Compiles expression nodes; :class:`CodeGenerator` adds statements on top."""

    def __init__(
        self,
        source: str,
        filters: Mapping[str, Callable[..., Any]],
        functions: Mapping[str, Callable[..., Any]],
    ) -> None:
        self.source = source
        self.filters = filters
        self.functions = functions
        self.namespace: dict[str, Any] = dict(RUNTIME)
        self.counter = 0
        # Template-bound names ({% set %}, {% for %}), innermost scope last.
        self.scopes: list[Scope] = []

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def error(self, message: str, node: n.Node) -> TemplateSyntaxError:
        return TemplateSyntaxError(message, line=node.line, column=node.column, source=self.source)

    def bind_global(self, prefix: str, name: str, value: Any) -> str:
        pyname = f"{prefix}_{name}"
        self.namespace[pyname] = value
        return pyname

    def resolve(self, name: str, where: str, *, soft: bool, level: int | None = None) -> str | None:
        """Python code reading a template-bound name, or None when it comes from ``v``."""
        index = len(self.scopes) - 1 if level is None else level
        while index >= 0:
            binding = self.scopes[index].bindings.get(name)
            if binding is not None:
                if binding.definite:
                    return binding.pyname
                outer = self.resolve(name, where, soft=soft, level=index - 1)
                fallback = outer or (
                    f"_chain_soft(v, ({name!r},))"
                    if soft
                    else f"_chain(v, ({name!r},), '', {where})"
                )
                return f"({binding.pyname} if {binding.pyname} is not _UNSET else {fallback})"
            index -= 1
        return None

    def condition(self, node: n.Node) -> str:
        code = self.expr(node)
        if isinstance(node, n.Test) or (isinstance(node, n.Binary) and node.op in _BOOLEAN_OPS):
            return code
        if isinstance(node, n.Unary) and node.op == "not":
            return code
        return f"_b({code})"

    def path(self, node: n.Node) -> tuple[n.Node, tuple[str | int, ...]]:
        keys: list[str | int] = []
        while isinstance(node, n.Attr):
            if lookup.is_forbidden(node.key):
                raise TemplateSecurityError(
                    f"Access to '{node.key}' is not allowed in expressions",
                    line=node.line,
                    column=node.column,
                    source=self.source,
                )
            keys.append(node.key)
            node = node.obj
        keys.reverse()
        return node, tuple(keys)

    @staticmethod
    def display(node: n.Node) -> str:
        if isinstance(node, n.Name):
            return node.name
        if isinstance(node, n.Attr):
            return f"{ExpressionCompiler.display(node.obj)}.{node.key}"
        if isinstance(node, n.Item):
            return f"{ExpressionCompiler.display(node.obj)}[…]"
        if isinstance(node, n.Call):
            return f"{node.name}(…)"
        return "(expression)"

    def lookup_code(self, node: n.Node, *, soft: bool) -> str:
        base, keys = self.path(node)
        where = f"{base.line}, {base.column}"
        if isinstance(base, n.Name):
            local = self.resolve(base.name, where, soft=soft)
            if local is None:
                full = (base.name, *keys)
                if soft:
                    return f"_chain_soft(v, {full!r})"
                return f"_chain(v, {full!r}, '', {where})"
            if not keys:
                return local
            if soft:
                return f"_chain_soft({local}, {keys!r})"
            return f"_chain({local}, {keys!r}, {base.name!r}, {where})"
        if isinstance(base, n.Item):
            inner = (
                f"_item({self.expr(base.obj)}, {self.expr(base.key)}, "
                f"{self.display(base.obj)!r}, {base.line}, {base.column})"
            )
            if soft:
                # The computed key may itself be undefined: 'inputs[missing] ?? x' falls back.
                inner = f"_soft(lambda: {inner})"
        else:
            inner = self.soft(base) if soft else self.expr(base)
        if not keys:
            return inner
        if soft:
            return f"_chain_soft({inner}, {keys!r})"
        return f"_chain({inner}, {keys!r}, {self.display(base)!r}, {where})"

    def arguments(self, args: n.Args) -> str:
        parts = [self.expr(arg) for arg in args.positional]
        for name, arg in args.named:
            # A named argument may be a Python keyword ('from', 'in'): pass it by mapping.
            code = self.expr(arg)
            parts.append(f"**{{{name!r}: {code}}}" if iskeyword(name) else f"{name}={code}")
        return ", ".join(parts)

    def soft(self, node: n.Node) -> str:
        """Code yielding the value of ``node`` or ``_U`` when it is undefined."""
        if isinstance(node, n.Name | n.Attr | n.Item):
            return self.lookup_code(node, soft=True)
        if isinstance(node, n.Const | n.ListLit | n.MapLit):
            return self.expr(node)
        if isinstance(node, n.Binary) and node.op in ("??", "???"):
            return self.coalesce(node, soft=True)
        if isinstance(node, n.Filter) and node.name == "default":
            return self.expr(node)
        return f"_soft(lambda: {self.expr(node)})"

    def coalesce(self, node: n.Binary, *, soft: bool) -> str:
        temp = self.fresh("_t")
        left = self.soft(node.left)
        right = self.soft(node.right) if soft else self.expr(node.right)
        if node.op == "??":
            return f"({temp} if ({temp} := {left}) is not None and {temp} is not _U else {right})"
        return f"({temp} if ({temp} := {left}) is not _U else {right})"

    def expr(self, node: n.Node) -> str:
        """Code yielding the value of ``node``, raising on undefined names."""
        if isinstance(node, n.Const):
            return repr(node.value)
        if isinstance(node, n.Name | n.Attr | n.Item):
            return self.lookup_code(node, soft=False)
        if isinstance(node, n.ListLit):
            return f"[{', '.join(self.expr(item) for item in node.items)}]"
        if isinstance(node, n.MapLit):
            pairs = ", ".join(f"{self.expr(k)}: {self.expr(v)}" for k, v in node.pairs)
            return f"{{{pairs}}}"
        if isinstance(node, n.Binary):
            return self.binary(node)
        if isinstance(node, n.Unary):
            operand = self.expr(node.operand)
            if node.op == "not":
                return f"(not {self.condition(node.operand)})"
            return f"{'_neg' if node.op == '-' else '_pos'}({operand})"
        if isinstance(node, n.Ternary):
            return (
                f"({self.expr(node.yes)} if {self.condition(node.cond)} else {self.expr(node.no)})"
            )
        if isinstance(node, n.Filter):
            return self.filter(node)
        if isinstance(node, n.Test):
            return self.test(node)
        if isinstance(node, n.Call):
            function = self.functions.get(node.name)
            if function is None:
                raise self.error(f"Unknown function '{node.name}'", node)
            pyname = self.bind_global("fn", node.name, function)
            args = self.arguments(node.args)
            # A function may hand out a secret it did not get through a lookup (secret()).
            return f"_n({pyname}(_ctx(v, h){', ' + args if args else ''}))"
        raise self.error(f"Cannot compile {type(node).__name__}", node)  # pragma: no cover

    def binary(self, node: n.Binary) -> str:
        op = node.op
        if op in ("??", "???"):
            return self.coalesce(node, soft=False)
        if op == "and":
            return f"({self.condition(node.left)} and {self.condition(node.right)})"
        if op == "or":
            return f"({self.condition(node.left)} or {self.condition(node.right)})"
        if op == "~":
            # Flatten a ~ b ~ c into one sum so long chains do not nest Python parentheses.
            operands: list[n.Node] = []
            current: n.Node = node
            while isinstance(current, n.Binary) and current.op == "~":
                operands.append(current.right)
                current = current.left
            operands.append(current)
            parts = [self.string(part, self.expr(part)) for part in reversed(operands)]
            return f"_cat({', '.join(parts)})"
        left, right = self.expr(node.left), self.expr(node.right)
        if op in ("==", "equals"):
            return f"_eq({left}, {right})"
        if op == "!=":
            return f"(not _eq({left}, {right}))"
        if op in _COMPARISONS:
            return f"_cmp({op!r}, {left}, {right})"
        if op in _ARITHMETIC:
            return f"{_ARITHMETIC[op]}({left}, {right})"
        if op == "contains":
            return f"_contains({left}, {right})"
        if op == "..":
            return f"_range({left}, {right})"
        raise self.error(f"Unknown operator '{op}'", node)  # pragma: no cover

    @staticmethod
    def string(node: n.Node, code: str) -> str:
        if isinstance(node, n.Const) and isinstance(node.value, str):
            return code
        if isinstance(node, n.Binary) and node.op == "~":
            return code
        return f"_s({code})"

    def filter(self, node: n.Filter) -> str:
        if node.name == "default":
            return self.apply_filter("default", self.soft(node.value), node.args, node)
        return self.apply_filter(node.name, self.expr(node.value), node.args, node)

    def apply_filter(self, name: str, value: str, args: n.Args, node: n.Node) -> str:
        if name == "default":
            pyname = "_default"
        else:
            function = self.filters.get(name)
            if function is None:
                raise self.error(f"Unknown filter '{name}'", node)
            pyname = self.bind_global("f", name, function)
        extra = self.arguments(args)
        return f"{pyname}({value}{', ' + extra if extra else ''})"

    def test(self, node: n.Test) -> str:
        if node.name == "defined":
            # Pebble's 'defined' is the inverse of its 'null' test: a variable holding null is
            # not defined, just like a missing one.
            if isinstance(node.value, n.Const):
                return repr((node.value.value is not None) != node.negated)
            if isinstance(node.value, n.ListLit | n.MapLit):
                return repr(not node.negated)
            is_defined = self.bind_global("is", "defined", _is_defined)
            call = f"{is_defined}({self.soft(node.value)})"
            return f"(not {call})" if node.negated else call
        function = core.TESTS.get(node.name)
        if function is None:
            raise self.error(f"Unknown test '{node.name}'", node)
        pyname = self.bind_global("is", node.name, function)
        args = self.arguments(node.args)
        call = f"{pyname}({self.expr(node.value)}{', ' + args if args else ''})"
        return f"(not {call})" if node.negated else call
