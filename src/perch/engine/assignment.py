"""Who may decide a HumanTask: its assignment, and the one function every resume path calls.

A HumanTask's ``assignment`` (users by username or e-mail, groups by name; each entry may be a
template) is rendered when the task run starts and kept in its outputs, so the people a pause
waits for are fixed then and shown with the task run. The decision itself is checked when
someone resumes: a listed user, or a member of a listed group *at that moment*. Nobody else
may decide, an administrator included — the assignment is the flow author's promise of who
approves, and RBAC decides only who may see and operate the execution.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from perch.engine.model import Execution, TaskRun
from perch.engine.principal import Principal, PrincipalKind
from perch.engine.states import StateType
from perch.errors import NotAssigned, PerchError

ASSIGNMENT_KEY = "assignment"
"""Where a HumanTask's task run keeps its rendered assignment (``outputs.<task>.assignment``)."""

MAX_ASSIGNEES = 200
"""Users plus groups one assignment may name once rendered (a template may expand to a list)."""


@dataclass(frozen=True, slots=True)
class Decider:
    """What deciding needs to know of a user: their logins and their groups in one tenant."""

    username: str
    email: str | None
    groups: frozenset[str]


@dataclass(frozen=True, slots=True)
class Assignees:
    """A rendered assignment: who may resume one paused HumanTask."""

    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def to_json(self) -> dict[str, list[str]]:
        return {"users": list(self.users), "groups": list(self.groups)}

    @classmethod
    def from_json(cls, value: object) -> Assignees | None:
        if not isinstance(value, Mapping):
            return None
        return cls(
            users=tuple(str(u) for u in value.get("users") or ()),
            groups=tuple(str(g) for g in value.get("groups") or ()),
        )

    def admits(self, decider: Decider) -> bool:
        """Whether ``decider`` is one of these users or a member of one of these groups.

        Usernames match exactly; e-mail addresses in any case (they are stored lower-case)."""
        for entry in self.users:
            if entry == decider.username:
                return True
            if decider.email is not None and entry.strip().lower() == decider.email:
                return True
        return any(group in decider.groups for group in self.groups)


def assignees_of(run: TaskRun) -> Assignees | None:
    """The assignment kept on a HumanTask's task run; None for any other task run."""
    return Assignees.from_json((run.outputs or {}).get(ASSIGNMENT_KEY))


def paused_run(execution: Execution, task_run_id: str | None = None) -> TaskRun | None:
    """The task run a resume applies to: ``task_run_id``, or the first PAUSED one (None for a
    manual pause)."""
    for run in execution.task_runs:
        if run.state.current is StateType.PAUSED and task_run_id in (None, run.id):
            return run
    return None


class DeciderLookup(Protocol):
    """The reading a decision needs; the store's transactions have it."""

    def decider(self, username: str, tenant: str) -> Decider | None:
        """The enabled user ``username`` with their groups in ``tenant``; None otherwise."""
        ...


def may_decide(
    lookup: DeciderLookup, principal: Principal, execution: Execution, run: TaskRun | None
) -> bool:
    """Whether ``principal`` may resume ``run`` of ``execution``: always for a task run that
    has no assignment (a Pause, a manual pause), else only for an assignee."""
    assignees = None if run is None else assignees_of(run)
    if assignees is None:
        return True
    if principal.kind is not PrincipalKind.USER:
        return False
    decider: Decider | None = lookup.decider(principal.name, execution.tenant)
    return decider is not None and assignees.admits(decider)


def check_may_decide(
    lookup: DeciderLookup,
    principal: Principal,
    execution: Execution,
    task_run_id: str | None = None,
) -> None:
    """Raise :class:`perch.errors.NotAssigned` (403, the execution untouched) unless
    ``principal`` may resume the execution's paused task run."""
    if not may_decide(lookup, principal, execution, paused_run(execution, task_run_id)):
        raise NotAssigned()


def render_assignees(users: list[Any], groups: list[Any]) -> Assignees:
    """The assignment from rendered entries: each a name or a list of names (an expression such
    as ``{{ inputs.approvers }}`` may give a list); blanks dropped, duplicates once.

    Raises :class:`perch.errors.PerchError` when nobody is left: a pause that no one may
    resume would wait forever."""
    assignees = Assignees(users=_names(users, "users"), groups=_names(groups, "groups"))
    if not assignees.users and not assignees.groups:
        raise PerchError("the assignment names no user and no group")
    return assignees


def _names(values: list[Any], what: str) -> tuple[str, ...]:
    names: dict[str, None] = {}
    for value in values:
        items = value if isinstance(value, list) else [value]
        for item in items:
            if item is None:
                continue
            text = str(item).strip()
            if text:
                names.setdefault(text)
    if len(names) > MAX_ASSIGNEES:
        raise PerchError(f"the assignment names more than {MAX_ASSIGNEES} {what}")
    return tuple(names)
