"""A flow's tasks as a graph laid out on the server, for the SVG of the flow page.

The layout is layered and nested: the tasks of a list run top to bottom, one below the other;
a flowable task (If, Switch, Parallel, ForEach, Sequential, a Pause with tasks…) is a group box
headed by its own node, holding its branches side by side — ``then`` and ``else``, each case of
a Switch, each task of a Parallel, ``errors`` and ``finally`` — each branch a list laid out the
same way. The flow's own ``errors``, ``finally`` and ``afterExecution`` are boxed sections below
its tasks. Coordinates are in SVG user units; nothing here knows about HTML.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from perch.flows import ChildShape, Flow, Task
from perch.flows.tasks.loops import ForEachItem
from perch.flows.tasks.workingdir import WorkingDirectory

NODE_W = 184
NODE_H = 46
GAP_Y = 28
GAP_X = 20
PAD = 12
LABEL_H = 18
MARGIN = 12
ID_CHARS = 22
LABEL_CHARS = 20

# A Parallel runs each of its tasks as a branch of its own; other lists run in order.
_PARALLEL_TYPES = frozenset(
    {"io.kestra.plugin.core.flow.Parallel", "io.kestra.core.tasks.flows.Parallel"}
)
_SECTIONS = (("errors", "errors"), ("finally_", "finally"), ("afterExecution", "afterExecution"))


@dataclass(frozen=True, slots=True)
class Node:
    """One task: its box, its id (``label`` shortened to fit) and its type."""

    task_id: str
    label: str
    short_type: str
    type: str
    x: float
    y: float
    width: float
    height: float
    flowable: bool
    depth: int

    @property
    def title(self) -> str:
        return f"Task {self.task_id}, type {self.type}"


@dataclass(frozen=True, slots=True)
class Group:
    """The box around a flowable task and its branches, or around a section of the flow."""

    title: str
    x: float
    y: float
    width: float
    height: float
    depth: int
    section: bool = False


@dataclass(frozen=True, slots=True)
class Label:
    """The name of a branch (``then``, ``case a``, ``errors``), written above it."""

    text: str
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Edge:
    """From one box to the next, as the ``d`` of an SVG path."""

    d: str
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class Outline:
    """One line of the text outline that says what the graph draws."""

    depth: int
    text: str


@dataclass(frozen=True, slots=True)
class Graph:
    width: float
    height: float
    nodes: tuple[Node, ...]
    groups: tuple[Group, ...]
    labels: tuple[Label, ...]
    edges: tuple[Edge, ...]
    outline: tuple[Outline, ...]


# --- the tree to lay out ----------------------------------------------------------------------


@dataclass(slots=True)
class _Branch:
    label: str
    items: list[_Item]
    width: float = 0.0
    height: float = 0.0


@dataclass(slots=True)
class _Item:
    """A task alone (no branches), a flowable task with branches, or a headless section."""

    task: Task | None
    title: str
    branches: list[_Branch] = field(default_factory=list)
    width: float = 0.0
    height: float = 0.0

    @property
    def grouped(self) -> bool:
        return bool(self.branches) or self.task is None


def short_type(type_name: str) -> str:
    """``io.kestra.plugin.core.flow.If`` → ``If``; ``shell.Commands`` keeps its package."""
    parts = type_name.split(".")
    if len(parts) >= 2 and parts[-1] in ("Commands", "Script", "Request", "Set", "Get", "Delete"):
        return ".".join(parts[-2:])
    return parts[-1] or type_name


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _branches(task: Task) -> list[_Branch]:
    found: list[_Branch] = []
    if isinstance(task, ForEachItem):  # its split, items and merge task runs, as Kestra draws
        found.append(_Branch("tasks", [_item(t) for t in task.internal_tasks]))
    for key, shape in task.child_fields.items():
        value: Any = getattr(task, task.attribute_for(key))
        if not value:
            continue
        if isinstance(task, WorkingDirectory) and key == "tasks":  # with its file tasks' runs
            inner = [task.inputs_task, *value, task.outputs_task]
            found.append(_Branch(key, [_item(t) for t in inner if t is not None]))
            continue
        if shape is ChildShape.SINGLE:
            found.append(_Branch(key, [_item(value)]))
        elif shape is ChildShape.MAP:
            for case, tasks in value.items():
                found.append(_Branch(f"case {case}", [_item(t) for t in tasks]))
        elif shape is ChildShape.ENTRIES:  # a Dag: one branch per task, named by what it waits for
            for entry in value:
                after = f"after {', '.join(entry.dependsOn)}" if entry.dependsOn else ""
                found.append(_Branch(after, [_item(entry.task)]))
        elif key == "tasks" and task.canonical_type in _PARALLEL_TYPES:
            found.extend(_Branch("", [_item(t)]) for t in value)
        else:
            found.append(_Branch(key, [_item(t) for t in value]))
    return found


def _item(task: Task) -> _Item:
    return _Item(task, task.id, _branches(task))


# --- measuring and placing --------------------------------------------------------------------


def _measure_list(items: Sequence[_Item]) -> tuple[float, float]:
    for item in items:
        _measure(item)
    width = max((i.width for i in items), default=NODE_W)
    height = sum(i.height for i in items) + GAP_Y * max(0, len(items) - 1)
    return width, height


def _measure(item: _Item) -> None:
    if not item.grouped:
        item.width, item.height = NODE_W, NODE_H
        return
    for branch in item.branches:
        width, height = _measure_list(branch.items)
        branch.width = width
        branch.height = LABEL_H + height
    inner = sum(b.width for b in item.branches) + GAP_X * max(0, len(item.branches) - 1)
    tallest = max((b.height for b in item.branches), default=0.0)
    head = NODE_H + GAP_Y if item.task is not None else LABEL_H
    item.width = max(NODE_W, inner) + 2 * PAD
    item.height = PAD + head + tallest + PAD


@dataclass(slots=True)
class _Canvas:
    nodes: list[Node] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)


def _outline(items: Sequence[_Item], depth: int, into: list[Outline]) -> None:
    """The tasks as nested lines of text: ``check (If)``, ``then:``, ``yes (Log)``…"""
    for item in items:
        if item.task is not None:
            into.append(Outline(depth, f"{item.task.id} ({short_type(item.task.type)})"))
        else:
            into.append(Outline(depth, f"{item.title}:"))
        for branch in item.branches:
            if branch.label:
                into.append(Outline(depth + 1, f"{branch.label}:"))
                _outline(branch.items, depth + 2, into)
            else:
                _outline(branch.items, depth + 1, into)


def _curve(x1: float, y1: float, x2: float, y2: float) -> str:
    if x1 == x2:
        return f"M{x1:g},{y1:g} L{x2:g},{y2:g}"
    middle = (y1 + y2) / 2
    return f"M{x1:g},{y1:g} C{x1:g},{middle:g} {x2:g},{middle:g} {x2:g},{y2:g}"


def _node(canvas: _Canvas, task: Task, x: float, y: float, depth: int) -> Node:
    kind = task.canonical_type
    node = Node(
        task_id=task.id,
        label=_shorten(task.id, ID_CHARS),
        short_type=_shorten(short_type(kind), ID_CHARS + 2),
        type=kind,
        x=x,
        y=y,
        width=NODE_W,
        height=NODE_H,
        flowable=bool(task.child_fields),
        depth=depth,
    )
    canvas.nodes.append(node)
    return node


def _place_list(
    canvas: _Canvas, items: Sequence[_Item], x: float, y: float, width: float, *, depth: int
) -> None:
    """Stack ``items`` from ``y`` down, each centred in ``width``, joined by edges."""
    previous: tuple[float, float, str] | None = None
    for item in items:
        left = x + (width - item.width) / 2
        centre = left + item.width / 2
        top = y + (PAD if item.grouped else 0)  # an edge ends on the group's head node
        if previous is not None:
            px, py, name = previous
            canvas.edges.append(Edge(_curve(px, py, centre, top), name, item.title))
        _place(canvas, item, left, y, depth)
        previous = (centre, y + item.height, item.title)
        y += item.height + GAP_Y


def _place(canvas: _Canvas, item: _Item, x: float, y: float, depth: int) -> None:
    if not item.grouped:
        assert item.task is not None
        _node(canvas, item.task, x, y, depth)
        return
    canvas.groups.append(
        Group(item.title, x, y, item.width, item.height, depth, section=item.task is None)
    )
    centre = x + item.width / 2
    top = y + PAD
    if item.task is not None:
        head = _node(canvas, item.task, centre - NODE_W / 2, top, depth)
        top += NODE_H + GAP_Y
        origin: tuple[float, float] | None = (centre, head.y + NODE_H)
    else:
        canvas.labels.append(Label(_shorten(item.title, LABEL_CHARS * 2), x + PAD, y + PAD + 4))
        top += LABEL_H
        origin = None
    inner = sum(b.width for b in item.branches) + GAP_X * max(0, len(item.branches) - 1)
    left = x + (item.width - inner) / 2
    for branch in item.branches:
        if branch.label:
            canvas.labels.append(Label(_shorten(branch.label, LABEL_CHARS), left + 2, top + 12))
        first = branch.items[0] if branch.items else None
        if origin is not None and first is not None:
            target_x = left + branch.width / 2
            target_y = top + LABEL_H + (PAD if first.grouped else 0)
            canvas.edges.append(Edge(_curve(*origin, target_x, target_y), item.title, first.title))
        _place_list(canvas, branch.items, left, top + LABEL_H, branch.width, depth=depth + 1)
        left += branch.width + GAP_X


def layout(flow: Flow) -> Graph:
    """The graph of ``flow``: its tasks, then its errors/finally/afterExecution sections."""
    main = [_item(t) for t in flow.tasks]
    sections = [
        _Item(None, title, [_Branch("", [_item(t) for t in tasks])])
        for attribute, title in _SECTIONS
        if (tasks := getattr(flow, attribute))
    ]
    everything = [*main, *sections]
    for item in everything:
        _measure(item)
    width = max(i.width for i in everything)
    canvas = _Canvas()
    outline: list[Outline] = []
    _outline(everything, 0, outline)
    _place_list(canvas, main, MARGIN, MARGIN, width, depth=0)
    y = MARGIN + sum(i.height for i in main) + GAP_Y * (len(main) - 1)
    for section in sections:
        y += GAP_Y
        _place(canvas, section, MARGIN + (width - section.width) / 2, y, 0)
        y += section.height
    return Graph(
        width=width + 2 * MARGIN,
        height=y + MARGIN,
        nodes=tuple(canvas.nodes),
        groups=tuple(canvas.groups),
        labels=tuple(canvas.labels),
        edges=tuple(canvas.edges),
        outline=tuple(outline),
    )
