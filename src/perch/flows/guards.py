"""Variables a template reads only behind a guard, so their absence is not an error.

``{{ inputs.x ?? 'none' }}``, ``{% if inputs.x is defined %}`` and ``{{ inputs.x | default(1) }}``
are how Kestra flows cope with a value that may be missing: Pebble does not fail on them, and
neither does the check for undeclared inputs. A chain guarded once in a template covers every
read of it (and of what lies below it) in that template, since the guard is usually an ``if``
around the plain reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from perch.templating import nodes as n
from perch.templating.parser import parse

_COALESCING = frozenset({"??", "???"})


def _chain(node: n.Node) -> tuple[str, ...] | None:
    """The static names of ``a.b['c']`` (up to the first computed key), or ``None``."""
    keys: list[str] = []
    while isinstance(node, n.Attr | n.Item):
        if isinstance(node, n.Item):
            keys.clear()
        else:
            keys.append(str(node.key))
        node = node.obj
    if not isinstance(node, n.Name):
        return None
    return (node.name, *reversed(keys))


def _children(node: object) -> Iterator[object]:
    if isinstance(node, tuple):
        yield from node
    elif dataclasses.is_dataclass(node):
        for item in dataclasses.fields(node):
            value = getattr(node, item.name)
            if isinstance(value, tuple | n.Node | n.Args):
                yield value


def _guarded_operand(node: object) -> n.Node | None:
    if isinstance(node, n.Binary) and node.op in _COALESCING:
        return node.left
    if isinstance(node, n.Test) and node.name == "defined":
        return node.value
    if isinstance(node, n.Filter) and node.name == "default":
        return node.value
    return None


def _chains_in(node: object, found: set[tuple[str, ...]]) -> None:
    """Every maximal chain read anywhere in ``node``: a missing value there is caught by the
    guard around it (``a.b | lower ?? 'x'`` copes with a missing ``a.b`` too)."""
    if isinstance(node, n.Name | n.Attr | n.Item):
        chain = _chain(node)
        if chain is not None:
            found.add(chain)
        inner: object = node
        while isinstance(inner, n.Attr | n.Item):
            if isinstance(inner, n.Item):
                _chains_in(inner.key, found)
            inner = inner.obj
        if not isinstance(inner, n.Name):
            _chains_in(inner, found)
        return
    for child in _children(node):
        _chains_in(child, found)


def guarded_chains(source: str) -> set[tuple[str, ...]]:
    """Every variable chain ``source`` reads behind ``??``, ``???``, ``is defined`` or
    ``| default``. ``source`` must already be known to parse."""
    found: set[tuple[str, ...]] = set()
    pending: list[object] = [parse(source)]
    while pending:
        node = pending.pop()
        operand = _guarded_operand(node)
        if operand is not None:
            _chains_in(operand, found)
        pending.extend(_children(node))
    return found


def is_guarded(path: tuple[str, ...], guarded: set[tuple[str, ...]]) -> bool:
    """Whether reading ``path`` is covered by a guard on it or on a chain above it."""
    return any(path[: len(chain)] == chain for chain in guarded)
