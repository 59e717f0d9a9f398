"""Which variables a template reads, found without rendering it.

The flow validator uses this to report ``{{ inputs.x }}`` when no input ``x`` is declared.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from perch.templating import nodes as n
from perch.templating.environment import is_template
from perch.templating.parser import parse


@dataclass(frozen=True)
class Reference:
    """A static chain of names such as ``("inputs", "request", "name")`` and where it starts."""

    path: tuple[str, ...]
    line: int
    column: int


def _children(node: object) -> Iterator[object]:
    for name in getattr(node, "__slots__", ()):
        child = getattr(node, name)
        if isinstance(child, tuple | n.Node | n.Args):
            yield child


def _bound_names(node: object, names: set[str]) -> None:
    if isinstance(node, tuple):
        for part in node:
            _bound_names(part, names)
        return
    if isinstance(node, n.Set):
        names.add(node.name)
    elif isinstance(node, n.For):
        names.update(node.targets)
        names.add("loop")
    for child in _children(node):
        _bound_names(child, names)


def _chain(node: n.Node) -> tuple[n.Name, list[str]] | None:
    keys: list[str] = []
    while isinstance(node, n.Attr | n.Item):
        if isinstance(node, n.Item):
            # A computed key ends the static part: keep what lies before it.
            keys.clear()
        else:
            keys.append(str(node.key))
        node = node.obj
    if not isinstance(node, n.Name):
        return None
    keys.reverse()
    return node, keys


def _collect(node: object, bound: set[str], found: list[Reference]) -> None:
    if isinstance(node, tuple):
        for part in node:
            _collect(part, bound, found)
        return
    if isinstance(node, n.Name | n.Attr | n.Item):
        chain = _chain(node)
        if chain is not None:
            root, keys = chain
            if root.name not in bound:
                found.append(Reference((root.name, *keys), root.line, root.column))
        # Computed keys may themselves read variables: inputs[vars.key].
        inner: object = node
        while isinstance(inner, n.Attr | n.Item):
            if isinstance(inner, n.Item):
                _collect(inner.key, bound, found)
            inner = inner.obj
        if not isinstance(inner, n.Name):
            _collect(inner, bound, found)
        return
    for child in _children(node):
        _collect(child, bound, found)


def references(source: str) -> list[Reference]:
    """The static variable chains ``source`` reads, in order, without names it binds itself."""
    if not is_template(source):
        return []
    body = parse(source)
    bound: set[str] = set()
    _bound_names(body, bound)
    found: list[Reference] = []
    _collect(body, bound, found)
    return found
