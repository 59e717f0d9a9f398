"""An index of a flow's task tree, built once per Flow object and reused by every transition.

Task ids are unique across a flow, so a task run names its task by id alone; the index answers
"which task is this", "which flowable holds it" and "in which branch" in O(1).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

from perch.errors import PerchError
from perch.flows import Flow, Task

FLOW_BRANCHES = ("tasks", "errors", "finally", "afterExecution")
"""The top-level branches of a flow; a top-level task's ``owner`` is ``None``."""


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a task sits: the flowable holding it (``None`` at top level) and the branch key."""

    task: Task
    owner: str | None
    branch: str


class FlowIndex:
    """Every task of a flow by id, with its placement."""

    __slots__ = ("flow", "placements")

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.placements: dict[str, Placement] = {}
        for key, tasks in (
            ("tasks", flow.tasks),
            ("errors", flow.errors),
            ("finally", flow.finally_),
            ("afterExecution", flow.afterExecution),
        ):
            for task in tasks or []:
                self._add(task, None, key)

    def _add(self, task: Task, owner: str | None, branch: str) -> None:
        self.placements[task.id] = Placement(task, owner, branch)
        for path, child in task.children():
            self._add(child, task.id, str(path[0]))

    def task(self, task_id: str) -> Task:
        """The task with this id; :class:`perch.errors.PerchError` when the flow has none."""
        try:
            return self.placements[task_id].task
        except KeyError:
            raise PerchError(f"Task '{task_id}' does not exist in flow '{self.flow.id}'") from None

    def in_error_branch(self, task_id: str) -> bool:
        """Whether the task lies (at any depth) in an ``errors``, ``finally`` or
        ``afterExecution`` branch, i.e. runs only because of how something else ended."""
        current: str | None = task_id
        while current is not None:
            placement = self.placements[current]
            if placement.branch in ("errors", "finally", "afterExecution"):
                return True
            current = placement.owner
        return False


_CACHE: OrderedDict[int, FlowIndex] = OrderedDict()
_CACHE_SIZE = 512
_LOCK = Lock()


def flow_index(flow: Flow) -> FlowIndex:
    """The index of ``flow``, cached by object identity (a flow model is immutable)."""
    key = id(flow)
    with _LOCK:
        index = _CACHE.get(key)
        # id() can be reused after a flow is collected: the identity check keeps that safe.
        if index is not None and index.flow is flow:
            _CACHE.move_to_end(key)
            return index
    index = FlowIndex(flow)
    with _LOCK:
        _CACHE[key] = index
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return index


def find_task(flow: Flow, task_id: str) -> Task:
    """The task with id ``task_id`` anywhere in ``flow`` (raises when there is none)."""
    return flow_index(flow).task(task_id)
