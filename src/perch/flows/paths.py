"""Paths to values inside a flow document, and their printed form ``tasks[2].then[0].message``."""

from __future__ import annotations

import re

Path = tuple[str | int, ...]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*$")


def format_path(path: Path) -> str:
    """Print a path the way Perch reports problems: ``tasks[2].then[0].message``.

    Keys that are not simple names (``cases`` values such as ``"a b"``) are quoted in brackets so
    that the printed path stays unambiguous.
    """
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _NAME.match(part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{part!r}]")
    return "".join(out)
