"""Searching flows, listing their namespaces, and validating flow sources without saving them.

A tenant holds hundreds of flows, rarely thousands, and their labels live inside the YAML
source: the latest revisions are read in one query and filtered here, with the parsed flows
coming from the engine's cache of revisions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from perch.engine.executor import EngineContext, context_for, reading
from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import Store, StoredFlow, Transaction
from perch.engine.service.flows import RevisionRead, parsed_or_none
from perch.errors import InvalidRequest, Problem
from perch.flows import check_flow
from perch.flows.yamlsource import load_yaml
from perch.permissions import in_scope

_TEXT_OPERATIONS: dict[str, Callable[[str, str], bool]] = {
    "EQUALS": lambda have, want: have == want,
    "NOT_EQUALS": lambda have, want: have != want,
    "STARTS_WITH": lambda have, want: have.startswith(want),
    "ENDS_WITH": lambda have, want: have.endswith(want),
    "CONTAINS": lambda have, want: want.lower() in have.lower(),
}

FILTER_OPERATIONS: dict[str, tuple[str, ...]] = {
    "namespace": (*_TEXT_OPERATIONS, "PREFIX"),
    "flowId": tuple(_TEXT_OPERATIONS),
    "q": ("EQUALS",),
    "labels": ("EQUALS", "NOT_EQUALS"),
}
"""The filter fields of a flow search and the operations each accepts."""

SORT_FIELDS = ("id", "namespace", "revision", "updated")
"""What flow searches sort by."""
DEFAULT_SORT: tuple[tuple[str, bool], ...] = (("namespace", False), ("id", False))


@dataclass(frozen=True, slots=True)
class FlowFilter:
    """One condition of a flow search, as in Kestra's ``filters[field][operation]=value``.

    ``key`` is the label key of a ``labels`` filter. ``q`` matches a case-insensitive part of
    the namespace or the id; ``namespace`` ``PREFIX`` matches the namespace and its children.
    """

    field: str
    operation: str
    value: str
    key: str | None = None

    def __post_init__(self) -> None:
        allowed = FILTER_OPERATIONS.get(self.field)
        if allowed is None:
            known = ", ".join(FILTER_OPERATIONS)
            raise InvalidRequest(f"Unknown flow filter field '{self.field}'; use one of {known}")
        if self.operation not in allowed:
            raise InvalidRequest(
                f"Filter '{self.field}' does not support {self.operation}; "
                f"use one of {', '.join(allowed)}"
            )
        if self.field == "labels" and not self.key:
            raise InvalidRequest("A labels filter needs a key: filters[labels][EQUALS][key]=value")


@dataclass(frozen=True, slots=True)
class FlowSearch:
    """A page of a flow search: every filter must match. Pages are 1-based; ``sort`` holds
    ``(field, descending)`` pairs, the first one deciding most."""

    tenant: str = DEFAULT_TENANT
    filters: tuple[FlowFilter, ...] = ()
    page: int = 1
    size: int = 10
    sort: tuple[tuple[str, bool], ...] = DEFAULT_SORT
    namespace_scope: tuple[str, ...] | None = None
    """Only these namespaces and their children (what the caller may read); None: all."""

    def __post_init__(self) -> None:
        for name, _ in self.sort:
            if name not in SORT_FIELDS:
                raise InvalidRequest(
                    f"Cannot sort flows by '{name}'; use one of {', '.join(SORT_FIELDS)}"
                )


@dataclass(frozen=True, slots=True)
class FlowCheck:
    """The verdict on one document of a validation request (lines count from the start of the
    whole request). ``outdated`` means the document's ``revision`` is not the next one."""

    index: int
    flow: str | None
    namespace: str | None
    problems: list[Problem] = field(default_factory=list)
    outdated: bool = False
    warnings: list[Problem] = field(default_factory=list)
    """What Kestra accepts but fails when it runs (the flow is valid)."""


def _text_matches(operation: str, have: str, want: str) -> bool:
    if operation == "PREFIX":
        return have == want or have.startswith(want + ".")
    return _TEXT_OPERATIONS[operation](have, want)


def _matches(flt: FlowFilter, stored: StoredFlow, labels: dict[str, str]) -> bool:
    if flt.field == "namespace":
        return _text_matches(flt.operation, stored.namespace, flt.value)
    if flt.field == "flowId":
        return _text_matches(flt.operation, stored.id, flt.value)
    if flt.field == "q":
        wanted = flt.value.lower()
        return wanted in stored.namespace.lower() or wanted in stored.id.lower()
    assert flt.key is not None
    equal = labels.get(flt.key) == flt.value
    return equal if flt.operation == "EQUALS" else not equal


def _labels_of(ctx: EngineContext, tx: Transaction, stored: StoredFlow) -> dict[str, str]:
    flow = parsed_or_none(ctx, tx, stored)
    if flow is not None:
        return dict(flow.labels or {})
    # A revision that no longer validates: its labels as written, when they are a map.
    labels = _field(load_yaml(stored.source).data, "labels")
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def _sort(flows: list[StoredFlow], sort: tuple[tuple[str, bool], ...]) -> list[StoredFlow]:
    ordered = list(flows)
    # Stable sorts applied from the least to the most significant key.
    for name, descending in reversed(sort):
        if name == "revision":
            ordered.sort(key=lambda f: f.revision, reverse=descending)
        elif name == "updated":
            ordered.sort(key=lambda f: (f.updated is not None, f.updated), reverse=descending)
        else:
            ordered.sort(
                key=lambda f: f.namespace if name == "namespace" else f.id, reverse=descending
            )
    return ordered


def search_flows(store: Store, search: FlowSearch) -> tuple[list[RevisionRead], int]:
    """One page of the latest revisions of the flows matching every filter, and the number of
    matches in all."""
    ctx = context_for(store)
    with reading(store) as tx:
        # Labels live in the source: parse (from the cache) only when a filter asks for them.
        by_label = any(f.field == "labels" for f in search.filters)
        matched = [
            stored
            for stored in tx.list_flows(search.tenant)
            if in_scope(search.namespace_scope, stored.namespace)
            and all(
                _matches(f, stored, _labels_of(ctx, tx, stored) if by_label else {})
                for f in search.filters
            )
        ]
        ordered = _sort(matched, search.sort)
        start = (search.page - 1) * search.size
        page = ordered[start : start + search.size]
        return [(s, parsed_or_none(ctx, tx, s)) for s in page], len(ordered)


def flows_of_namespace(
    store: Store, namespace: str, *, tenant: str = DEFAULT_TENANT
) -> list[RevisionRead]:
    """The latest revision of every flow in exactly ``namespace`` (not its children), by id."""
    ctx = context_for(store)
    with reading(store) as tx:
        return [
            (s, parsed_or_none(ctx, tx, s))
            for s in tx.list_flows(tenant, namespace)
            if s.namespace == namespace
        ]


def distinct_namespaces(
    store: Store,
    *,
    tenant: str = DEFAULT_TENANT,
    q: str | None = None,
    scope: tuple[str, ...] | None = None,
) -> list[str]:
    """The namespaces holding at least one flow, sorted; ``q`` keeps those containing it
    (ignoring case), ``scope`` those the caller may read."""
    with reading(store) as tx:
        namespaces = {s.namespace for s in tx.list_flows(tenant) if in_scope(scope, s.namespace)}
    wanted = (q or "").lower()
    return sorted(n for n in namespaces if wanted in n.lower())


_SEPARATOR = re.compile(r"^---[ \t]*(?:#.*)?\r?$", re.MULTILINE)


def split_documents(text: str) -> list[tuple[int, str]]:
    """The YAML documents of ``text`` separated by ``---`` lines, each with its first line
    number; blank documents (before a leading ``---``, after a trailing one) are dropped
    unless the whole text is blank."""
    documents: list[tuple[int, str]] = []
    start, line = 0, 1
    for separator in _SEPARATOR.finditer(text):
        documents.append((line, text[start : separator.start()]))
        line += text.count("\n", start, separator.end()) + 1
        start = separator.end() + 1
    documents.append((line, text[start:]))
    kept = [(first, doc) for first, doc in documents if doc.strip()]
    return kept or [(1, text)]


def _field(data: object, key: str) -> object:
    return data.get(key) if isinstance(data, dict) else None


def _text_field(data: object, key: str) -> str | None:
    value = _field(data, key)
    return value if isinstance(value, str) else None


def validate_sources(store: Store, text: str, *, tenant: str = DEFAULT_TENANT) -> list[FlowCheck]:
    """Validate each document of ``text`` as ``perch flow validate`` does, saving nothing."""
    checks: list[FlowCheck] = []
    for index, (first_line, source) in enumerate(split_documents(text)):
        result = check_flow(source)
        problems = [_moved(p, first_line) for p in result.problems]
        warnings = [_moved(p, first_line) for p in result.warnings]
        flow = result.flow
        data = load_yaml(source).data if flow is None else None
        flow_id = flow.id if flow is not None else _text_field(data, "id")
        namespace = flow.namespace if flow is not None else _text_field(data, "namespace")
        outdated = False
        if flow is not None and flow.revision is not None:
            with reading(store) as tx:
                revisions = tx.list_flow_revisions(tenant, flow.namespace, flow.id)
            last = revisions[-1].revision if revisions else 0
            outdated = flow.revision != last + 1
        checks.append(FlowCheck(index, flow_id, namespace, problems, outdated, warnings))
    return checks


def _moved(problem: Problem, first_line: int) -> Problem:
    """``problem`` with its line counted from the start of the whole request."""
    line = problem.line + first_line - 1 if problem.line is not None else None
    return Problem(problem.path, problem.message, line, problem.column)
