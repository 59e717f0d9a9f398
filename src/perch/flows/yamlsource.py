"""Read a flow's YAML into plain Python data while remembering where every value came from.

Kestra reads flows with Jackson's YAML support, which follows YAML 1.2 more than 1.1: ``on``,
``yes`` and ``off`` are strings, not booleans. Perch composes the YAML node graph itself (instead
of letting a constructor build objects) so that it decides every scalar's Python type and keeps
each node's position. Timestamps such as ``2024-07-01`` stay strings: DATE and DATETIME inputs
parse them later, with their own error messages, and Kestra also keeps them textual.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from perch.errors import Problem
from perch.flows.messages import character_message, yaml_message
from perch.flows.paths import Path, format_path

_YAML_TAG = "tag:yaml.org,2002:"
_SURROGATE = re.compile("[\ud800-\udfff]")

MAX_SOURCE_CHARS = 500_000
"""The largest flow text read, in characters: real flows are a few kilobytes, and checking
500,000 characters of expressions already takes seconds."""
MAX_DEPTH = 100
"""The deepest nesting of mappings and lists read (a deeply nested real flow uses about 30)."""
MAX_ALIAS_VALUES = 10_000
"""How many values aliases may repeat in all; reusing a few task blocks needs hundreds."""


@dataclass(frozen=True, slots=True)
class Position:
    """Where a value sits in the source: 1-based line and column, and the scalar style."""

    line: int
    column: int
    style: str | None = None


@dataclass(slots=True)
class YamlDocument:
    """Plain data read from YAML, and the position of every key and item by path.

    ``keys`` maps a path to the position of the mapping key (or of the list item) that leads to
    it, which is where a problem about that value is best reported. ``values`` maps a path to
    the position of the value node itself (for block scalars, the line of the ``|`` indicator).
    """

    data: Any
    keys: dict[Path, Position] = field(default_factory=dict)
    values: dict[Path, Position] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def position(self, path: Path) -> Position | None:
        """The best known position for ``path``: its own, or its nearest ancestor's."""
        probe = tuple(path)
        while True:
            found = self.keys.get(probe) or self.values.get(probe)
            if found is not None or not probe:
                return found
            probe = probe[:-1]

    def problem(self, path: Path, message: str) -> Problem:
        """A :class:`Problem` at ``path``, located at the nearest known position."""
        pos = self.position(path)
        return Problem(
            format_path(path),
            message,
            pos.line if pos else None,
            pos.column if pos else None,
        )


def _mark(node: Node) -> Position:
    mark = node.start_mark
    style = getattr(node, "style", None)
    return Position(mark.line + 1, mark.column + 1, style if isinstance(style, str) else None)


def _number(text: str, *, is_float: bool) -> int | float | str:
    clean = text.replace("_", "")
    lowered = clean.lower()
    try:
        if is_float:
            if lowered.lstrip("+-") == ".inf":
                return -math.inf if lowered.startswith("-") else math.inf
            if lowered == ".nan":
                return math.nan
            return float(clean)
        if lowered.startswith(("0o", "0x", "0b")):
            return int(clean, 0)
        if len(clean.lstrip("+-")) > 1 and clean.lstrip("+-").startswith("0"):
            return int(clean, 8)  # YAML 1.1 octal such as 012, still resolved as an int
        return int(clean)
    except ValueError:
        return text


def _scalar(node: ScalarNode) -> Any:
    """The Python value of a scalar, from the tag the YAML 1.2 resolver gave it.

    Timestamps are kept as text on purpose (see the module docstring), and any tag Perch does
    not know is read as a string rather than rejected.
    """
    value: str = node.value
    tag = str(node.tag or "")
    if not tag.startswith(_YAML_TAG):
        return value
    kind = tag[len(_YAML_TAG) :]
    if kind == "null":
        return None
    if kind == "bool":
        return value.lower() == "true"
    if kind in ("int", "float"):
        return _number(value, is_float=kind == "float")
    return value


class _TooLarge(Exception):
    """The document goes beyond a limit; reading stops with this one problem."""

    def __init__(self, message: str, node: Node) -> None:
        super().__init__(message)
        self.message = message
        self.node = node


def _is_unquoted_expression(node: MappingNode) -> bool:
    """Whether a flow mapping is really ``{{ x }}`` written without quotes.

    YAML reads ``message: {{ inputs.x }}`` as a mapping whose only key is the mapping
    ``{inputs.x: null}``: it is always a forgotten pair of quotes.
    """
    if not node.flow_style or len(node.value) != 1:
        return False
    key, value = node.value[0]
    return (
        isinstance(key, MappingNode)
        and bool(key.flow_style)
        and isinstance(value, ScalarNode)
        and value.tag == _YAML_TAG + "null"
    )


class _Builder:
    def __init__(self, doc: YamlDocument, source: str) -> None:
        self.doc = doc
        self.source = source
        self.built: set[int] = set()
        self.open: set[int] = set()
        self.repeated = 0  # values built once more because an alias repeats them
        self.repeated_chars = 0

    def problem(self, path: Path, message: str, node: Node) -> None:
        mark = node.start_mark
        self.doc.problems.append(
            Problem(format_path(path), message, mark.line + 1, mark.column + 1)
        )

    def build(self, node: Node, path: Path) -> Any:
        # Aliases share nodes: without these limits `&a [*a]` never ends and a few lines of
        # nested aliases ("billion laughs") expand to more values than memory holds.
        if len(path) > MAX_DEPTH:
            raise _TooLarge(f"the document is nested more than {MAX_DEPTH} levels deep", node)
        key = id(node)
        if key in self.open:
            raise _TooLarge("an alias (*name) refers to a value that contains it", node)
        if key in self.built:
            self.repeated += 1
            if self.repeated > MAX_ALIAS_VALUES:
                raise _TooLarge(
                    f"aliases (*name) repeat more than {MAX_ALIAS_VALUES} values in all", node
                )
            if isinstance(node, ScalarNode):
                # Every copy of a long text is checked again (templates), so it counts too.
                self.repeated_chars += len(node.value)
                if self.repeated_chars > MAX_SOURCE_CHARS:
                    raise _TooLarge(
                        f"aliases (*name) repeat more than {MAX_SOURCE_CHARS:,} characters of "
                        "text in all",
                        node,
                    )
        self.built.add(key)
        self.open.add(key)
        try:
            return self._build(node, path)
        finally:
            self.open.discard(key)

    def _build(self, node: Node, path: Path) -> Any:
        self.doc.values[path] = _mark(node)
        if isinstance(node, MappingNode):
            if _is_unquoted_expression(node):
                text = self.source[node.start_mark.index : node.end_mark.index]
                self.problem(
                    path, f"an expression must be quoted: write '{text}' or \"{text}\"", node
                )
                return text
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                item_path = (*path, index)
                self.doc.keys[item_path] = _mark(item)
                items.append(self.build(item, item_path))
            return items
        assert isinstance(node, ScalarNode)
        value = _scalar(node)
        return self._text(value, path, node) if isinstance(value, str) else value

    def _text(self, text: str, path: Path, node: Node) -> str:
        """``text``, with the lone surrogates a ``"\\ud800"`` escape can write replaced: no
        file, database or terminal can hold them."""
        if not _SURROGATE.search(text):
            return text
        self.problem(path, "a '\\u' escape gives half of a UTF-16 pair, not a character", node)
        return _SURROGATE.sub("\ufffd", text)

    def _merge(self, value_node: Node, path: Path, into: dict[str, Any]) -> None:
        own = self.doc.values[path]
        source = self.build(value_node, path)
        self.doc.values[path] = own
        sources = source if isinstance(source, list) else [source]
        for item in sources:
            if isinstance(item, dict):
                for key, value in item.items():
                    into.setdefault(key, value)
            else:
                self.problem(
                    path, "'<<' (merge) takes an alias to a mapping, or a list of them", value_node
                )
                return

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._merge(value_node, path, merged)
                continue
            if not isinstance(key_node, ScalarNode):
                self.problem(path, "a key must be a plain name, not a list or a mapping", key_node)
                continue
            # Kestra's keys are names; a key such as `1` or `true` is read as its text.
            key = self._text(str(key_node.value), path, key_node)
            key_path = (*path, key)
            if key in result:
                first = self.doc.keys[key_path]
                self.problem(
                    key_path,
                    f"duplicate key '{key}' (first defined on line {first.line})",
                    key_node,
                )
                continue
            self.doc.keys[key_path] = _mark(key_node)
            result[key] = self.build(value_node, key_path)
        for key, value in merged.items():
            result.setdefault(key, value)
        return result


def _line_at(source: str, index: int) -> tuple[int, int]:
    before = source[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1


def _compose(source: str, doc: YamlDocument) -> Node | None:
    """The YAML node graph of ``source``, or ``None`` with a problem saying why not."""
    yaml = YAML(typ="safe", pure=True)
    yaml.max_depth = MAX_DEPTH  # ruamel's composer recurses once per level
    try:
        with warnings.catch_warnings():
            # A repeated anchor is valid YAML (the later one wins); ruamel only warns.
            warnings.simplefilter("ignore")
            node: Node | None = yaml.compose(source)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if "maximum depth" in str(exc.problem):
            message = f"the document is nested more than {MAX_DEPTH} levels deep"
        else:
            message = yaml_message(exc.context, exc.problem)
        doc.problems.append(
            Problem(
                "",
                message,
                mark.line + 1 if mark else 1,
                mark.column + 1 if mark else None,
            )
        )
        return None
    except ReaderError as exc:
        line, column = _line_at(source, exc.position)
        doc.problems.append(
            Problem("", character_message(exc.character, str(exc.reason)), line, column)
        )
        return None
    except YAMLError as exc:
        doc.problems.append(Problem("", f"invalid YAML: {exc}", 1, None))
        return None
    except RecursionError:
        # Only if the ruamel version at hand has no max_depth.
        doc.problems.append(
            Problem("", f"the document is nested more than {MAX_DEPTH} levels deep", 1, None)
        )
        return None
    return node


def load_yaml(source: str) -> YamlDocument:
    """Read one YAML document into plain data, positions and well-formedness problems.

    Syntax errors, duplicate keys and documents beyond Perch's limits (:data:`MAX_SOURCE_CHARS`,
    :data:`MAX_DEPTH`, :data:`MAX_ALIAS_VALUES`) become problems, never exceptions; ``data`` is
    ``None`` when the text is not YAML at all or is too large to read.
    """
    doc = YamlDocument(data=None)
    if len(source) > MAX_SOURCE_CHARS:
        doc.problems.append(
            Problem(
                "",
                f"the flow is too large ({len(source):,} characters; "
                f"the limit is {MAX_SOURCE_CHARS:,})",
                1,
                None,
            )
        )
        return doc
    node = _compose(source, doc)
    if node is None:
        if not doc.problems:
            doc.problems.append(Problem("", "the document is empty", 1, 1))
        return doc
    try:
        doc.data = _Builder(doc, source).build(node, ())
    except _TooLarge as exc:
        mark = exc.node.start_mark
        doc.data = None
        doc.problems.append(Problem("", exc.message, mark.line + 1, mark.column + 1))
    return doc
