"""Parse Pebble tokens into a syntax tree.

Expressions use precedence climbing with Pebble's table (higher binds tighter): ``or`` 10,
``and`` 15, ``is``/``is not``/``contains`` 20, comparisons and ``equals`` 30, ``+ -`` 40,
``* / %`` 60, ``|`` 100, ``~`` 110, ``..`` and Kestra's ``??``/``???`` 120, unary
``not``/``-``/``+`` 500. Like Pebble, ``not`` binds tighter than comparisons:
``not a == b`` is ``(not a) == b``.
The ternary ``c ? a : b`` applies to a whole expression.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

from perch.errors import TemplateSyntaxError
from perch.templating import nodes as n
from perch.templating.lexer import (
    BLOCK,
    END,
    EOF,
    FLOAT,
    INT,
    NAME,
    OP,
    PRINT,
    STRING,
    TEXT,
    Token,
    tokenize,
)

BINARY: Final[dict[str, int]] = {
    "or": 10,
    "and": 15,
    "is": 20,
    "contains": 20,
    "==": 30,
    "equals": 30,
    "!=": 30,
    "<": 30,
    ">": 30,
    "<=": 30,
    ">=": 30,
    "+": 40,
    "-": 40,
    "*": 60,
    "/": 60,
    "%": 60,
    "|": 100,
    "~": 110,
    "..": 120,
    "??": 120,
    "???": 120,
}
_WORD_OPERATORS = frozenset({"or", "and", "is", "contains", "equals"})
_UNARY_PRECEDENCE = 500
_LITERALS: Final[dict[str, object]] = {"true": True, "false": False, "null": None, "none": None}
_CLOSING_TAGS = frozenset({"elseif", "else", "endif", "endfor", "endfilter"})
_END_TAGS = {"if": ("elseif", "else", "endif"), "for": ("else", "endfor")}


class Parser:
    """A one-shot parser over the tokens of one template."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.pos = 0

    # --- token helpers ---

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind != EOF:
            self.pos += 1
        return token

    def error(self, message: str, token: Token) -> TemplateSyntaxError:
        return TemplateSyntaxError(
            message, line=token.line, column=token.column, source=self.source
        )

    def unexpected(self, token: Token, expected: str) -> TemplateSyntaxError:
        return self.error(f"Unexpected token {token.describe()}, expected {expected}", token)

    def is_op(self, value: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token.kind == OP and token.value == value

    def expect_op(self, value: str) -> Token:
        token = self.next()
        if token.kind != OP or token.value != value:
            raise self.unexpected(token, f"'{value}'")
        return token

    def expect_name(self, what: str = "a name") -> Token:
        token = self.next()
        if token.kind != NAME:
            raise self.unexpected(token, what)
        return token

    def expect_end(self) -> None:
        token = self.next()
        if token.kind != END:
            raise self.unexpected(token, "the end of the tag")

    # --- template level ---

    def parse_template(self) -> tuple[n.Node, ...]:
        body, stop = self.parse_body(())
        assert stop is None
        return body

    def parse_body(self, stops: tuple[str, ...]) -> tuple[tuple[n.Node, ...], Token | None]:
        """Parse until one of the ``stops`` tags; return the body and that tag's name token."""
        body: list[n.Node] = []
        while True:
            token = self.next()
            if token.kind == EOF:
                if stops:
                    raise self.error(f"Missing '{{% {stops[-1]} %}}' before the end", token)
                return tuple(body), None
            if token.kind == TEXT:
                body.append(n.Text(token.line, token.column, str(token.value)))
            elif token.kind == PRINT:
                expr = self.parse_expression()
                self.expect_end()
                body.append(n.Output(token.line, token.column, expr))
            elif token.kind == BLOCK:
                tag = self.expect_name("a tag name")
                if tag.value in stops:
                    return tuple(body), tag
                if stops and tag.value in _CLOSING_TAGS:
                    raise self.error(
                        f"Unexpected '{{% {tag.value} %}}', expected '{{% {stops[-1]} %}}'", tag
                    )
                body.append(self.parse_tag(tag))
            else:  # pragma: no cover - the lexer emits nothing else at this level
                raise self.unexpected(token, "text or a tag")

    def parse_tag(self, tag: Token) -> n.Node:
        name = tag.value
        if name == "if":
            return self.parse_if(tag)
        if name == "for":
            return self.parse_for(tag)
        if name == "set":
            target = self.expect_name("a variable name")
            self.expect_op("=")
            expr = self.parse_expression()
            self.expect_end()
            return n.Set(tag.line, tag.column, str(target.value), expr)
        if name == "filter":
            return self.parse_filter_block(tag)
        if name in _CLOSING_TAGS:
            raise self.error(f"Unexpected '{{% {name} %}}' without a matching opening tag", tag)
        raise self.error(f"Unknown tag '{name}'", tag)

    def parse_if(self, tag: Token) -> n.Node:
        branches: list[tuple[n.Node, tuple[n.Node, ...]]] = []
        cond = self.parse_expression()
        self.expect_end()
        while True:
            body, stop = self.parse_body(_END_TAGS["if"])
            assert stop is not None
            branches.append((cond, body))
            if stop.value == "elseif":
                cond = self.parse_expression()
                self.expect_end()
                continue
            self.expect_end()
            otherwise: tuple[n.Node, ...] = ()
            if stop.value == "else":
                otherwise, stop = self.parse_body(("endif",))
                self.expect_end()
            return n.If(tag.line, tag.column, tuple(branches), otherwise)

    def parse_for(self, tag: Token) -> n.Node:
        targets = [str(self.expect_name("a loop variable").value)]
        if self.is_op(","):
            self.next()
            targets.append(str(self.expect_name("a loop variable").value))
        keyword = self.next()
        if keyword.kind != NAME or keyword.value != "in":
            raise self.unexpected(keyword, "'in'")
        iterable = self.parse_expression()
        self.expect_end()
        body, stop = self.parse_body(_END_TAGS["for"])
        assert stop is not None
        self.expect_end()
        otherwise: tuple[n.Node, ...] = ()
        if stop.value == "else":
            otherwise, stop = self.parse_body(("endfor",))
            self.expect_end()
        return n.For(tag.line, tag.column, tuple(targets), iterable, body, otherwise)

    def parse_filter_block(self, tag: Token) -> n.Node:
        filters: list[tuple[str, n.Args]] = []
        while True:
            name = self.expect_name("a filter name")
            args = self.parse_args() if self.is_op("(") else n.Args()
            filters.append((str(name.value), args))
            if not self.is_op("|"):
                break
            self.next()
        self.expect_end()
        body, _ = self.parse_body(("endfilter",))
        self.expect_end()
        return n.FilterBlock(tag.line, tag.column, tuple(filters), body)

    # --- expressions ---

    def binary_operator(self) -> str | None:
        token = self.peek()
        if token.kind == OP and token.value in BINARY:
            return str(token.value)
        if token.kind == NAME and token.value in _WORD_OPERATORS:
            return str(token.value)
        return None

    def parse_expression(self, min_precedence: int = 0) -> n.Node:
        left = self.parse_unary()
        while True:
            op = self.binary_operator()
            if op is None or BINARY[op] < min_precedence:
                break
            token = self.next()
            if op == "is":
                left = self.parse_test(left, token)
            elif op == "|":
                left = self.parse_filter(left, token)
            else:
                right = self.parse_expression(BINARY[op] + 1)
                left = n.Binary(token.line, token.column, op, left, right)
        if min_precedence == 0 and self.is_op("?"):
            token = self.next()
            yes = self.parse_expression()
            self.expect_op(":")
            no = self.parse_expression()
            left = n.Ternary(token.line, token.column, left, yes, no)
        return left

    def parse_test(self, value: n.Node, token: Token) -> n.Node:
        negated = False
        if self.peek().kind == NAME and self.peek().value == "not":
            self.next()
            negated = True
        name = self.expect_name("a test name such as 'defined' or 'null'")
        args = self.parse_args() if self.is_op("(") else n.Args()
        return n.Test(token.line, token.column, value, str(name.value), negated, args)

    def parse_filter(self, value: n.Node, token: Token) -> n.Node:
        name = self.expect_name("a filter name")
        args = self.parse_args() if self.is_op("(") else n.Args()
        return n.Filter(name.line, name.column, value, str(name.value), args)

    def parse_unary(self) -> n.Node:
        token = self.peek()
        if (token.kind == NAME and token.value == "not") or (
            token.kind == OP and token.value in ("-", "+")
        ):
            self.next()
            operand = self.parse_expression(_UNARY_PRECEDENCE)
            return n.Unary(token.line, token.column, str(token.value), operand)
        return self.parse_postfix(self.parse_primary())

    def parse_primary(self) -> n.Node:
        token = self.next()
        line, column = token.line, token.column
        if token.kind in (STRING, INT, FLOAT):
            return n.Const(line, column, token.value)
        if token.kind == NAME:
            name = str(token.value)
            if name in _LITERALS:
                return n.Const(line, column, _LITERALS[name])
            if self.is_op("("):
                return n.Call(line, column, name, self.parse_args())
            return n.Name(line, column, name)
        if token.kind == OP:
            if token.value == "(":
                expr = self.parse_expression()
                self.expect_op(")")
                return expr
            if token.value == "[":
                return n.ListLit(line, column, tuple(self.parse_sequence("]")))
            if token.value == "{":
                return self.parse_map(token)
        if token.kind == END:
            raise self.error(f"Unexpected token '{token.value}', expected an expression", token)
        raise self.unexpected(token, "an expression")

    def parse_sequence(self, closer: str) -> list[n.Node]:
        items: list[n.Node] = []
        while not self.is_op(closer):
            items.append(self.parse_expression())
            if not self.is_op(","):
                break
            self.next()
        self.expect_op(closer)
        return items

    def parse_map(self, token: Token) -> n.Node:
        pairs: list[tuple[n.Node, n.Node]] = []
        while not self.is_op("}"):
            key = self.parse_expression()
            self.expect_op(":")
            pairs.append((key, self.parse_expression()))
            if not self.is_op(","):
                break
            self.next()
        self.expect_op("}")
        return n.MapLit(token.line, token.column, tuple(pairs))

    def parse_postfix(self, node: n.Node) -> n.Node:
        while True:
            if self.is_op("."):
                dot = self.next()
                key = self.next()
                if key.kind == NAME:
                    if self.is_op("("):
                        raise self.error(
                            f"Method calls such as '.{key.value}(…)' are not allowed", key
                        )
                    node = n.Attr(dot.line, dot.column, node, str(key.value))
                elif key.kind == INT:
                    node = n.Attr(dot.line, dot.column, node, int(str(key.value)))
                else:
                    raise self.unexpected(key, "an attribute name after '.'")
            elif self.is_op("["):
                bracket = self.next()
                key_node = self.parse_expression()
                self.expect_op("]")
                if (
                    isinstance(key_node, n.Const)
                    and isinstance(key_node.value, str | int)
                    and not isinstance(key_node.value, bool)
                ):
                    node = n.Attr(bracket.line, bracket.column, node, key_node.value)
                    continue
                node = n.Item(bracket.line, bracket.column, node, key_node)
            else:
                return node

    def parse_args(self) -> n.Args:
        self.expect_op("(")
        positional: list[n.Node] = []
        named: list[tuple[str, n.Node]] = []
        while not self.is_op(")"):
            token = self.peek()
            if token.kind == NAME and self.is_op("=", 1):
                self.next()
                self.next()
                named.append((str(token.value), self.parse_expression()))
            else:
                if named:
                    raise self.error("Positional arguments must come before named ones", token)
                positional.append(self.parse_expression())
            if not self.is_op(","):
                break
            self.next()
        self.expect_op(")")
        return n.Args(tuple(positional), tuple(named))


@lru_cache(maxsize=4096)
def parse(source: str) -> tuple[n.Node, ...]:
    """Parse a template into its statement list (cached by source; the tree is immutable)."""
    return Parser(source).parse_template()
