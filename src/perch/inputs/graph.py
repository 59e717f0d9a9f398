"""Rules that span a list of input declarations: unique ids, sound ``dependsOn`` links.

Pydantic checks each declaration alone (:mod:`perch.inputs.declarations`); the flow reader calls
:func:`declaration_problems` on a whole ``inputs`` (or ``onResume``) list and reports each problem
at the index it returns. At run time the resolver is forgiving where Kestra is (a ``dependsOn``
id that names no input is ignored), so these checks are where mistakes are caught.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from perch.inputs.base import InputBase

__all__ = ["DeclarationProblem", "declaration_problems"]


@dataclass(frozen=True, slots=True)
class DeclarationProblem:
    """A problem with the declaration at ``index`` in the list."""

    index: int
    input_id: str
    message: str

    def __str__(self) -> str:
        return f"inputs[{self.index}] ({self.input_id}): {self.message}"


def declaration_problems(declarations: Sequence[InputBase]) -> list[DeclarationProblem]:
    """Every cross-declaration problem: duplicate ids, ids that are also groups of other ids,
    ``dependsOn`` entries that name no input or the input itself, and ``dependsOn`` cycles."""
    problems: list[DeclarationProblem] = []
    first_index: dict[str, int] = {}
    for index, declaration in enumerate(declarations):
        if declaration.id in first_index:
            earlier = first_index[declaration.id]
            message = f"duplicate input id (already declared at inputs[{earlier}])"
            problems.append(DeclarationProblem(index, declaration.id, message))
        else:
            first_index[declaration.id] = index

    ids = set(first_index)
    for index, declaration in enumerate(declarations):
        group = declaration.id + "."
        nested = sorted(other for other in ids if other.startswith(group))
        if nested:
            problems.append(
                DeclarationProblem(
                    index,
                    declaration.id,
                    f"`{declaration.id}` is also the group of `{nested[0]}`; an id cannot be both",
                )
            )
        for dependency in _dependencies(declaration):
            if dependency == declaration.id:
                problems.append(
                    DeclarationProblem(index, declaration.id, "an input cannot depend on itself")
                )
            elif dependency not in ids:
                problems.append(
                    DeclarationProblem(
                        index,
                        declaration.id,
                        f"`dependsOn` names `{dependency}`, which is not a declared input",
                    )
                )

    problems.extend(_cycles(declarations, first_index))
    return problems


def _dependencies(declaration: InputBase) -> list[str]:
    return list(declaration.depends_on.inputs) if declaration.depends_on else []


def _cycles(
    declarations: Sequence[InputBase], first_index: dict[str, int]
) -> list[DeclarationProblem]:
    """One problem per ``dependsOn`` cycle, reported on the input where it was entered."""
    edges = {
        d.id: [x for x in _dependencies(d) if x in first_index and x != d.id] for d in declarations
    }
    done: set[str] = set()
    problems: list[DeclarationProblem] = []

    def visit(node: str, path: list[str]) -> None:
        if node in done:
            return
        if node in path:
            cycle = [*path[path.index(node) :], node]
            problems.append(
                DeclarationProblem(
                    first_index[node], node, "`dependsOn` forms a cycle: " + " -> ".join(cycle)
                )
            )
            return
        for dependency in edges.get(node, []):
            visit(dependency, [*path, node])
        done.add(node)

    for declaration in declarations:
        visit(declaration.id, [])
    return problems
