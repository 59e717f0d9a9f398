"""A mapping that shares a large, never-changed base and keeps its own additions on top.

A transition of an execution with 40,000 task runs changes a handful of them; copying its
indexes (by id, by place in the tree) for each transition made a ForEach over n values cost
O(n²). :meth:`Overlay.fork` copies only the top layer, and folds it into a new base once it
grows past the square root of the base, so each fork costs O(√n) amortised.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from math import isqrt
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")

_MISSING: object = object()


class Overlay(Mapping[K, V]):
    """A mapping made of a shared ``base`` (never written through this object) and its own
    ``top`` layer (every write lands there)."""

    __slots__ = ("_base", "_extra", "_top")

    def __init__(self, base: dict[K, V] | None = None) -> None:
        self._base: dict[K, V] = {} if base is None else base
        self._top: dict[K, V] = {}
        self._extra = 0
        """Keys of ``_top`` that ``_base`` does not have (for ``len``)."""

    def fork(self) -> Overlay[K, V]:
        """An independent copy: writes to either are not seen by the other."""
        copy: Overlay[K, V] = Overlay.__new__(Overlay)
        if len(self._top) > 32 + isqrt(len(self._base)):
            copy._base = {**self._base, **self._top}
            copy._top = {}
            copy._extra = 0
        else:
            copy._base = self._base
            copy._top = self._top.copy()
            copy._extra = self._extra
        return copy

    def __getitem__(self, key: K) -> V:
        found = self._top.get(key, _MISSING)
        if found is _MISSING:
            return self._base[key]
        return found  # type: ignore[return-value]

    def get(self, key: K, default: V | None = None) -> V | None:  # type: ignore[override]
        found = self._top.get(key, _MISSING)
        if found is _MISSING:
            return self._base.get(key, default)
        return found  # type: ignore[return-value]

    def __setitem__(self, key: K, value: V) -> None:
        if key not in self._top and key not in self._base:
            self._extra += 1
        self._top[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self._top or key in self._base

    def __iter__(self) -> Iterator[K]:
        yield from self._base
        for key in self._top:
            if key not in self._base:
                yield key

    def __len__(self) -> int:
        return len(self._base) + self._extra
