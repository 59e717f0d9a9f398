"""A flow's topology as Kestra's ``FlowGraph``: nodes, the edges between them and the clusters
that flowable tasks open, optionally with the task runs of one execution.

Kestra's model, rebuilt from what its API answers: every cluster (the flow itself, and each
flowable task that holds tasks) has a start and an end node; a flowable task's own node heads
its cluster and its branches hang from it; a list of tasks is a chain of edges. Uids are dotted
paths from ``root`` (``root.check.yes``); a cluster's uid is ``cluster_`` and the uid of its
head. The start and end nodes end in ``._start`` and ``._end``: a task id starts with a letter
or a digit, so they never clash with one. Edges carry the relation Kestra names: SEQUENTIAL,
PARALLEL, CHOICE (with the branch: ``then``, ``else``, a case), ERROR and DYNAMIC (the body of
a ForEach). Pure data: the API turns it into JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from perch.engine.model import Execution, TaskRun
from perch.flows import ChildShape, Flow, Task
from perch.flows.tasks.flowable import EachSequential, ForEach, If, Parallel, Switch
from perch.flows.triggers import Trigger

ROOT = "root"


class Relation(StrEnum):
    """How an edge's target follows its source (Kestra's ``RelationType``)."""

    SEQUENTIAL = "SEQUENTIAL"
    CHOICE = "CHOICE"
    ERROR = "ERROR"
    PARALLEL = "PARALLEL"
    DYNAMIC = "DYNAMIC"


class NodeKind(StrEnum):
    """The Java class Kestra names each node by (its ``type``)."""

    TASK = "io.kestra.core.models.hierarchies.GraphTask"
    TRIGGER = "io.kestra.core.models.hierarchies.GraphTrigger"
    START = "io.kestra.core.models.hierarchies.GraphClusterRoot"
    END = "io.kestra.core.models.hierarchies.GraphClusterEnd"
    CLUSTER = "io.kestra.core.models.hierarchies.GraphCluster"


@dataclass(frozen=True, slots=True)
class GraphNode:
    """A task, a trigger, or the start or end of a cluster."""

    uid: str
    kind: NodeKind
    task: Task | None = None
    trigger: Trigger | None = None
    run: TaskRun | None = None
    relation: Relation | None = None
    error: bool = False


@dataclass(frozen=True, slots=True)
class GraphEdge:
    source: str
    target: str
    relation: Relation | None = None
    value: str | None = None


@dataclass(frozen=True, slots=True)
class GraphCluster:
    """A flowable task's box (or the triggers'): its head node (None for the triggers), the
    uids of what it holds directly, the clusters around it (outermost first), its start and
    end."""

    uid: str
    relation: Relation | None
    head: GraphNode | None
    nodes: tuple[str, ...]
    parents: tuple[str, ...]
    start: str
    end: str
    error: bool = False


@dataclass(frozen=True, slots=True)
class FlowGraph:
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    clusters: tuple[GraphCluster, ...]
    flowables: tuple[str, ...]
    """The ids of the tasks that open a cluster."""


@dataclass(slots=True)
class _Box:
    uid: str
    members: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Branch:
    tasks: Sequence[Task]
    relation: Relation
    value: str | None = None
    error: bool = False


class _Builder:
    def __init__(self, runs: Mapping[str, TaskRun]) -> None:
        self.runs = runs
        self.nodes: list[GraphNode] = []
        self.edges: list[GraphEdge] = []
        self.clusters: list[GraphCluster] = []
        self.flowables: list[str] = []

    def add(self, box: _Box, node: GraphNode) -> GraphNode:
        self.nodes.append(node)
        box.members.append(node.uid)
        return node

    def edge(
        self, source: str, target: str, relation: Relation | None = None, value: str | None = None
    ) -> None:
        self.edges.append(GraphEdge(source, target, relation, value))

    def chain(
        self, box: _Box, branch: _Branch, entry: str, exit_: str, parents: tuple[str, ...]
    ) -> None:
        """``branch``'s tasks one after the other, from ``entry`` to ``exit_``."""
        previous = entry
        for position, task in enumerate(branch.tasks):
            relation = branch.relation if position == 0 else Relation.SEQUENTIAL
            if branch.error:
                relation = Relation.ERROR
            first, last = self.place(box, task, parents, relation, error=branch.error)
            self.edge(previous, first, relation, branch.value if position == 0 else None)
            previous = last
        self.edge(previous, exit_)

    def place(
        self,
        box: _Box,
        task: Task,
        parents: tuple[str, ...],
        relation: Relation,
        *,
        error: bool,
    ) -> tuple[str, str]:
        """Put ``task`` in ``box``; the uids an edge enters it by and leaves it by."""
        uid = f"{box.uid}.{task.id}"
        branches = _branches(task)
        node = GraphNode(uid, NodeKind.TASK, task=task, run=self.runs.get(task.id))
        if not branches:
            self.add(box, _with(node, relation, error))
            return uid, uid
        self.flowables.append(task.id)
        inner = _Box(uid)
        start, end = f"{uid}._start", f"{uid}._end"
        head = _with(node, _cluster_relation(task), error)
        self.add(inner, GraphNode(start, NodeKind.START, error=error))
        self.add(inner, head)
        self.edge(start, uid)
        cluster_uid = f"cluster_{uid}"
        box.members.append(cluster_uid)
        for branch in branches:
            flagged = branch if not error else _Branch(branch.tasks, branch.relation, error=True)
            self.chain(inner, flagged, uid, end, (*parents, cluster_uid))
        self.add(inner, GraphNode(end, NodeKind.END, error=error))
        self.clusters.append(
            GraphCluster(
                cluster_uid,
                _cluster_relation(task),
                head,
                tuple(inner.members),
                parents,
                start,
                end,
                error,
            )
        )
        return start, end


def _with(node: GraphNode, relation: Relation, error: bool) -> GraphNode:
    return GraphNode(node.uid, node.kind, node.task, node.trigger, node.run, relation, error)


def _cluster_relation(task: Task) -> Relation:
    if isinstance(task, Parallel):
        return Relation.PARALLEL
    if isinstance(task, If | Switch):
        return Relation.CHOICE
    if isinstance(task, ForEach | EachSequential):
        return Relation.DYNAMIC
    return Relation.SEQUENTIAL


def _branches(task: Task) -> list[_Branch]:
    """The task lists ``task`` holds, each with how it hangs from the task's node."""
    found: list[_Branch] = []
    choice = isinstance(task, If | Switch)
    for key, shape in task.child_fields.items():
        value: Any = getattr(task, task.attribute_for(key))
        if not value:
            continue
        if key == "errors":
            found.append(_Branch(value, Relation.ERROR, error=True))
        elif shape is ChildShape.SINGLE:
            found.append(_Branch([value], Relation.SEQUENTIAL, key))
        elif shape is ChildShape.MAP:
            found.extend(_Branch(tasks, Relation.CHOICE, case) for case, tasks in value.items())
        elif isinstance(task, Parallel) and key == "tasks":
            found.extend(_Branch([t], Relation.PARALLEL) for t in value)
        elif choice and key != "finally":
            found.append(_Branch(value, Relation.CHOICE, key))
        elif isinstance(task, ForEach | EachSequential) and key == "tasks":
            found.append(_Branch(value, Relation.DYNAMIC))
        else:
            found.append(_Branch(value, Relation.SEQUENTIAL, None if key == "tasks" else key))
    return found


def _latest_runs(execution: Execution | None) -> dict[str, TaskRun]:
    # One node per task: it shows the task's latest run (a ForEach's body ran once per value).
    if execution is None:
        return {}
    return {run.task_id: run for run in execution.task_runs}


def flow_graph(flow: Flow, execution: Execution | None = None) -> FlowGraph:
    """The graph of ``flow``; with ``execution``, each task's node carries its latest run."""
    builder = _Builder(_latest_runs(execution))
    root = _Box(ROOT)
    start, end = f"{ROOT}._start", f"{ROOT}._end"
    builder.add(root, GraphNode(start, NodeKind.START))
    if flow.triggers:
        _triggers(builder, root, flow.triggers, start)
    sections = [_Branch(flow.tasks, Relation.SEQUENTIAL)]
    if flow.errors:
        sections.append(_Branch(flow.errors, Relation.ERROR, error=True))
    if flow.finally_:
        sections.append(_Branch(flow.finally_, Relation.SEQUENTIAL, "finally"))
    if flow.afterExecution:
        sections.append(_Branch(flow.afterExecution, Relation.SEQUENTIAL, "afterExecution"))
    for section in sections:
        builder.chain(root, section, start, end, ())
    builder.add(root, GraphNode(end, NodeKind.END))
    return FlowGraph(
        tuple(builder.nodes),
        tuple(builder.edges),
        tuple(builder.clusters),
        tuple(builder.flowables),
    )


def _triggers(builder: _Builder, root: _Box, triggers: Sequence[Trigger], into: str) -> None:
    # The flow's triggers sit in a cluster of their own whose end leads to the flow's start.
    uid = f"{ROOT}.Triggers"
    box = _Box(uid)
    start, end = f"{uid}._start", f"{uid}._end"
    builder.add(box, GraphNode(start, NodeKind.START))
    for trigger in triggers:
        node = builder.add(box, GraphNode(f"{uid}.{trigger.id}", NodeKind.TRIGGER, trigger=trigger))
        builder.edge(start, node.uid)
        builder.edge(node.uid, end)
    builder.add(box, GraphNode(end, NodeKind.END))
    cluster_uid = f"cluster_{uid}"
    root.members.append(cluster_uid)
    builder.clusters.append(
        GraphCluster(cluster_uid, None, None, tuple(box.members), (), start, end)
    )
    builder.edge(end, into)
