"""The engine's modules import each other without a circle, none deferred to dodge one, and
none is over 600 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import perch.engine

ROOT = Path(perch.engine.__file__).parent


def _modules() -> dict[str, Path]:
    return {
        "perch.engine." + ".".join(path.relative_to(ROOT).with_suffix("").parts): path
        for path in ROOT.rglob("*.py")
    }


def _imports(path: Path) -> set[str]:
    """The perch.engine modules ``path`` imports, anywhere in it (deferred ones included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        module = node.module if isinstance(node, ast.ImportFrom) else None
        if module is not None and module.startswith("perch.engine."):
            found.add(module)
    return found


def test_the_engine_modules_import_each_other_without_a_circle() -> None:
    modules = _modules()
    graph = {name: _imports(path) & modules.keys() for name, path in modules.items()}
    done: set[str] = set()

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            raise AssertionError("import circle: " + " -> ".join([*trail, name]))
        if name in done:
            return
        for target in sorted(graph[name]):
            visit(target, [*trail, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_no_engine_module_is_over_600_lines() -> None:
    long = {
        name: lines
        for name, path in _modules().items()
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert long == {}
