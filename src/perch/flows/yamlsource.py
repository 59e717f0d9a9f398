"""Read a flow's YAML into plain Python data while remembering where every value came from.

Kestra reads flows with Jackson's YAML support, which follows YAML 1.2 more than 1.1: ``on``,
``yes`` and ``off`` are strings, not booleans. Perch composes the YAML node graph itself (instead
of letting a constructor build objects) so that it decides every scalar's Python type and keeps
each node's position. Timestamps such as ``2024-07-01`` stay strings: DATE and DATETIME inputs
parse them later, with their own error messages, and Kestra also keeps them textual.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from perch.errors import Problem
from perch.flows.paths import Path, format_path

_YAML_TAG = "tag:yaml.org,2002:"


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


class _Builder:
    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc

    def build(self, node: Node, path: Path) -> Any:
        self.doc.values[path] = _mark(node)
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                item_path = (*path, index)
                self.doc.keys[item_path] = _mark(item)
                items.append(self.build(item, item_path))
            return items
        assert isinstance(node, ScalarNode)
        return _scalar(node)

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                source = self.build(value_node, path)
                sources = source if isinstance(source, list) else [source]
                for item in sources:
                    if isinstance(item, dict):
                        merged.update(item)
                continue
            if not isinstance(key_node, ScalarNode):
                self.doc.problems.append(
                    Problem(
                        format_path(path),
                        "a key must be a plain name, not a list or a mapping",
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                    )
                )
                continue
            # Kestra's keys are names; a key such as `1` or `true` is read as its text.
            key = str(key_node.value)
            key_path = (*path, key)
            if key in result:
                first = self.doc.keys[key_path]
                self.doc.problems.append(
                    Problem(
                        format_path(key_path),
                        f"duplicate key '{key}' (first defined on line {first.line})",
                        key_node.start_mark.line + 1,
                        key_node.start_mark.column + 1,
                    )
                )
                continue
            self.doc.keys[key_path] = _mark(key_node)
            result[key] = self.build(value_node, key_path)
        for key, value in merged.items():
            result.setdefault(key, value)
        return result


def load_yaml(source: str) -> YamlDocument:
    """Read one YAML document into plain data, positions and well-formedness problems.

    Syntax errors and duplicate keys become problems (never exceptions); ``data`` is ``None``
    when the text is not YAML at all.
    """
    doc = YamlDocument(data=None)
    yaml = YAML(typ="safe", pure=True)
    try:
        node = yaml.compose(source)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        doc.problems.append(
            Problem(
                "",
                f"invalid YAML: {message}",
                mark.line + 1 if mark else None,
                mark.column + 1 if mark else None,
            )
        )
        return doc
    except YAMLError as exc:
        doc.problems.append(Problem("", f"invalid YAML: {exc}"))
        return doc
    if node is None:
        doc.problems.append(Problem("", "the document is empty", 1, 1))
        return doc
    doc.data = _Builder(doc).build(node, ())
    return doc
