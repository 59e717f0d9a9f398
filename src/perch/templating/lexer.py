"""Split a Pebble template into text and expression tokens.

The lexer works in two modes. Outside delimiters it copies text verbatim (``{% raw %}`` and
Pebble's ``{% verbatim %}`` bodies included) and applies whitespace control (``{{-``, ``-}}``,
``{%-``, ``-%}``, ``{#-``, ``-#}``).
Inside ``{{ }}`` and ``{% %}`` it produces expression tokens. A closing delimiter counts only
when every bracket opened inside the tag is closed, so ``{{ {'a': {'b': 1}} }}`` is one tag.

Nothing is trimmed after a tag unless asked: the newline that follows ``{% endif %}`` is kept
(Pebble's ``newLineTrimming`` switched off, which we believe is how Kestra configures it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from perch.errors import TemplateSyntaxError

# Token kinds. Text-level kinds are upper case, expression kinds lower case.
TEXT: Final = "TEXT"
PRINT: Final = "PRINT"  # start of {{ ... }}
BLOCK: Final = "BLOCK"  # start of {% ... %}
NAME: Final = "name"
INT: Final = "int"
FLOAT: Final = "float"
STRING: Final = "string"
OP: Final = "op"
END: Final = "end"  # the closing delimiter of the current tag
EOF: Final = "eof"


@dataclass(frozen=True, slots=True)
class Token:
    """One token with its 1-based position in the template."""

    kind: str
    value: object
    line: int
    column: int

    def describe(self) -> str:
        """How the token reads in an error message."""
        if self.kind == EOF:
            return "end of template"
        if self.kind == STRING:
            return repr(self.value)
        return f"'{self.value}'"


_OPENING = re.compile(r"\{\{|\{%|\{#")
_RAW_START = re.compile(r"\{%-?\s*(raw|verbatim)\s*-?%\}")
_RAW_ENDS = {
    "raw": re.compile(r"\{%(-?)\s*endraw\s*(-?)%\}"),
    "verbatim": re.compile(r"\{%(-?)\s*endverbatim\s*(-?)%\}"),
}
_COMMENT_END = re.compile(r"(-?)#\}")
_SPACE = re.compile(r"\s+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"(\d+)(\.\d+)?")
# Longest first, so '???' wins over '??' and '..' over '.'.
_OPERATORS = (
    "???",
    "??",
    "..",
    "==",
    "!=",
    "<=",
    ">=",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    "~",
    "|",
    "?",
    ":",
    ".",
    ",",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    "=",
)
_CLOSERS = {"(": ")", "[": "]", "{": "}"}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0"}


class _Lexer:
    def __init__(self, source: str) -> None:
        self.source = source
        self.pos = 0
        self.tokens: list[Token] = []
        self.trim_next = False
        # Offsets of line starts, to turn an offset into line and column.
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", source)]

    def where(self, offset: int) -> tuple[int, int]:
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return lo + 1, offset - self.line_starts[lo] + 1

    def error(self, message: str, offset: int) -> TemplateSyntaxError:
        line, column = self.where(offset)
        return TemplateSyntaxError(message, line=line, column=column, source=self.source)

    def add(self, kind: str, value: object, offset: int) -> None:
        line, column = self.where(offset)
        self.tokens.append(Token(kind, value, line, column))

    def add_text(self, text: str, offset: int) -> None:
        if self.trim_next:
            text = text.lstrip()
            self.trim_next = False
        if text:
            self.add(TEXT, text, offset)

    def trim_previous(self) -> None:
        if self.tokens and self.tokens[-1].kind == TEXT:
            last = self.tokens.pop()
            text = str(last.value).rstrip()
            if text:
                self.tokens.append(Token(TEXT, text, last.line, last.column))

    def run(self) -> list[Token]:
        source = self.source
        while self.pos < len(source):
            match = _OPENING.search(source, self.pos)
            if match is None:
                self.add_text(source[self.pos :], self.pos)
                break
            self.add_text(source[self.pos : match.start()], self.pos)
            start = match.start()
            opener = match.group()
            self.pos = match.end()
            trim_before = source.startswith("-", self.pos)
            if trim_before:
                self.pos += 1
                self.trim_previous()
            if opener == "{#":
                self.comment(start)
            elif opener == "{%" and _RAW_START.match(source, start):
                self.raw(start)
            else:
                self.add(PRINT if opener == "{{" else BLOCK, opener, start)
                self.expression("}}" if opener == "{{" else "%}", start)
        self.add(EOF, None, len(source))
        return self.tokens

    def comment(self, start: int) -> None:
        end = _COMMENT_END.search(self.source, self.pos)
        if end is None:
            raise self.error("Unclosed comment: '{#' has no matching '#}'", start)
        self.pos = end.end()
        self.trim_next = end.group(1) == "-"

    def raw(self, start: int) -> None:
        opening = _RAW_START.match(self.source, start)
        assert opening is not None
        body_start = opening.end()
        if opening.group().endswith("-%}"):
            self.trim_next = True
        tag = opening.group(1)
        end = _RAW_ENDS[tag].search(self.source, body_start)
        if end is None:
            raise self.error(f"Unclosed '{{% {tag} %}}': no matching '{{% end{tag} %}}'", start)
        body = self.source[body_start : end.start()]
        if end.group(1) == "-":
            body = body.rstrip()
        self.add_text(body, body_start)
        self.trim_next = end.group(2) == "-"
        self.pos = end.end()

    def expression(self, closer: str, start: int) -> None:
        """Lex up to ``closer``: '}}' or '%}' for a tag, '}' for an interpolation in a string."""
        source = self.source
        brackets: list[tuple[str, int]] = []
        while True:
            space = _SPACE.match(source, self.pos)
            if space:
                self.pos = space.end()
            pos = self.pos
            if pos >= len(source):
                raise self.error(f"Unclosed tag: expected '{closer}' before the end", start)
            if not brackets and closer == "}":
                if source.startswith("}", pos):
                    self.pos = pos + 1
                    return
            elif not brackets:
                if source.startswith(closer, pos):
                    self.add(END, closer, pos)
                    self.pos = pos + 2
                    return
                if source.startswith("-" + closer, pos):
                    self.add(END, closer, pos)
                    self.pos = pos + 3
                    self.trim_next = True
                    return
            char = source[pos]
            if char in "'\"":
                self.string(char)
                continue
            if char.isdigit():
                number = _NUMBER.match(source, pos)
                assert number is not None
                if number.group(2):
                    self.add(FLOAT, float(number.group()), pos)
                else:
                    self.add(INT, int(number.group(1)), pos)
                self.pos = number.end()
                continue
            name = _NAME.match(source, pos)
            if name:
                self.add(NAME, name.group(), pos)
                self.pos = name.end()
                continue
            for op in _OPERATORS:
                if source.startswith(op, pos):
                    break
            else:
                raise self.error(f"Unexpected character '{char}'", pos)
            if op in _CLOSERS:
                brackets.append((_CLOSERS[op], pos))
            elif op in (")", "]", "}"):
                if not brackets or brackets[-1][0] != op:
                    raise self.error(f"Unexpected '{op}'", pos)
                brackets.pop()
            self.add(OP, op, pos)
            self.pos = pos + len(op)

    def string(self, quote: str) -> None:
        """A string literal; in double quotes, Pebble's ``#{expr}`` interpolates.

        ``"a#{x}b"`` becomes the tokens of ``('a' ~ (x) ~ 'b')``.
        """
        source = self.source
        start = self.pos
        pos = start + 1
        parts: list[str] = []
        interpolated = False
        while True:
            if pos >= len(source):
                raise self.error("Unclosed string literal", start)
            char = source[pos]
            if char == quote:
                break
            if char == "\\" and pos + 1 < len(source):
                following = source[pos + 1]
                parts.append(_ESCAPES.get(following, following))
                pos += 2
                continue
            if quote == '"' and source.startswith("#{", pos):
                self.add(OP, "~" if interpolated else "(", pos)
                self.add(STRING, "".join(parts), pos)
                self.add(OP, "~", pos)
                self.add(OP, "(", pos)
                parts, interpolated = [], True
                self.pos = pos + 2
                self.expression("}", pos)
                self.add(OP, ")", self.pos - 1)
                pos = self.pos
                continue
            parts.append(char)
            pos += 1
        if interpolated:
            self.add(OP, "~", pos)
            self.add(STRING, "".join(parts), pos)
            self.add(OP, ")", pos)
        else:
            self.add(STRING, "".join(parts), start)
        self.pos = pos + 1


def tokenize(source: str) -> list[Token]:
    """Return the tokens of ``source``; raise :class:`TemplateSyntaxError` on malformed input."""
    return _Lexer(source).run()
