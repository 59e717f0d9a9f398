"""A line diff of two flow sources, for the revisions page: the changed lines with a few lines
of context around them, each row saying whether it was added, removed or kept (in words as well
as by its colour), with its line number on each side."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

Change = Literal["added", "removed", "same"]
CONTEXT = 3


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a diff; ``left``/``right`` are its line numbers (None on the other side)."""

    change: Change
    left: int | None
    right: int | None
    text: str

    @property
    def sign(self) -> str:
        return {"added": "+", "removed": "-", "same": " "}[self.change]


@dataclass(frozen=True, slots=True)
class Hunk:
    """A run of changes with their context: ``@@ -left,len +right,len @@`` in unified diffs."""

    rows: tuple[Row, ...]

    @property
    def header(self) -> str:
        lefts = [r.left for r in self.rows if r.left is not None]
        rights = [r.right for r in self.rows if r.right is not None]
        return (
            f"Lines {lefts[0] if lefts else 0} to {lefts[-1] if lefts else 0}, now "
            f"{rights[0] if rights else 0} to {rights[-1] if rights else 0}"
        )


@dataclass(frozen=True, slots=True)
class Diff:
    hunks: tuple[Hunk, ...]

    @property
    def added(self) -> int:
        return sum(1 for h in self.hunks for r in h.rows if r.change == "added")

    @property
    def removed(self) -> int:
        return sum(1 for h in self.hunks for r in h.rows if r.change == "removed")


def line_diff(left: str, right: str, context: int = CONTEXT) -> Diff:
    """The lines of ``right`` that differ from ``left``, grouped in hunks."""
    old, new = left.splitlines(), right.splitlines()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    hunks: list[Hunk] = []
    for group in matcher.get_grouped_opcodes(context):
        rows: list[Row] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows.extend(
                    Row("same", i + 1, j + 1, old[i])
                    for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
                )
                continue
            rows.extend(Row("removed", i + 1, None, old[i]) for i in range(i1, i2))
            rows.extend(Row("added", None, j + 1, new[j]) for j in range(j1, j2))
        if any(r.change != "same" for r in rows):
            hunks.append(Hunk(tuple(rows)))
    return Diff(tuple(hunks))
