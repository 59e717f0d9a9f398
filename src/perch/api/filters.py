"""Execution search filters from the query string, in both of Kestra's spellings.

Kestra 1.x writes a filter as ``filters[<field>][<OPERATION>]=<value>``; the older, deprecated
form is one plain parameter per field. Both may be mixed, and every filter must hold (see
:data:`FILTER_HELP`). Plain parameters this module does not know are left to the route (``wait``,
``latestRevision``…), but an unknown ``filters[…]`` field or operation is an error, so that a typo
never widens a bulk action to every execution.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import Request

from perch.durations import parse_duration
from perch.engine.access import scope
from perch.engine.ports import ExecutionQuery
from perch.engine.principal import Principal
from perch.engine.states import StateType
from perch.errors import InvalidDuration, InvalidRequest
from perch.permissions import Action, Resource

FILTER_HELP = """\
Filters, as `filters[<field>][<OPERATION>]=<value>` (all must hold):

* `state`: `EQUALS`, `IN` (repeated or comma-separated), `NOT_EQUALS`, `NOT_IN`
* `namespace`: `EQUALS`, `NOT_EQUALS`, `PREFIX` (the namespace and its children),
  `STARTS_WITH`, `CONTAINS`
* `flowId`: `EQUALS`, `NOT_EQUALS`
* `labels`: `EQUALS`, as `filters[labels][EQUALS][<key>]=<value>` or
  `filters[labels][EQUALS]=<key>:<value>`
* `startDate`, `endDate`: `GREATER_THAN`, `GREATER_THAN_OR_EQUAL_TO`, `LESS_THAN`,
  `LESS_THAN_OR_EQUAL_TO` (ISO-8601 date-times; without a zone, UTC)
* `timeRange`: `EQUALS` (an ISO-8601 duration: started within it, e.g. `PT24H`)
* `q`: `EQUALS`, `CONTAINS` (part of the id, namespace or flow id, any case)
* `scope`: `EQUALS USER` (accepted and ignored: Perch has no system flows)

The deprecated plain parameters still work: `namespace` (the namespace and its children),
`flowId`, `state` (repeated), `labels` (repeated `key:value`), `startDate` (started at or
after), `endDate` (ended at or before), `timeRange`, `q`.
An unknown filter field or operation is refused (422).
"""
"""Markdown for the OpenAPI description of every route that takes these filters."""

DEFAULT_PAGE_SIZE = 10
"""Kestra's default page size."""
MAX_PAGE_SIZE = 1000
"""The largest page a search returns; a bigger ``size`` is refused (422) rather than cut, so a
script paging through results never silently skips some."""

MAX_PAGE = 1_000_000
"""The highest page number: the offset it gives must fit the databases' integers."""

SORTS: dict[str, str] = {
    "state.startDate": "start_date",
    "startDate": "start_date",
    "state.endDate": "end_date",
    "endDate": "end_date",
    "id": "id",
    "namespace": "namespace",
    "flowId": "flow_id",
    "state.current": "state",
    "state": "state",
}
"""Sort keys of the API (``sort=<key>[:asc|:desc]``) and the store fields they sort by."""

_FILTER = re.compile(r"filters\[(?P<field>[^\[\]]*)\]\[(?P<op>[^\[\]]*)\](?:\[(?P<key>[^\]]*)\])?")
_ONE_MICROSECOND = timedelta(microseconds=1)  # the stores keep microseconds: > t is >= t + 1µs


@dataclass
class _Builder:
    """The filters read so far; turned into an :class:`ExecutionQuery` at the end."""

    now: datetime
    values: dict[str, Any] = field(default_factory=dict)
    states: list[StateType] = field(default_factory=list)
    not_states: list[StateType] = field(default_factory=list)
    labels: list[tuple[str, str]] = field(default_factory=list)

    def single(self, name: str, value: str, source: str) -> None:
        # Two different values for one exact filter can never both hold: say so, not "no results".
        current = self.values.get(name)
        if current is not None and current != value:
            raise InvalidRequest(f"`{source}` is given twice with different values")
        self.values[name] = value

    def lower(self, name: str, moment: datetime) -> None:
        current = self.values.get(name)
        self.values[name] = moment if current is None else max(current, moment)

    def upper(self, name: str, moment: datetime) -> None:
        current = self.values.get(name)
        self.values[name] = moment if current is None else min(current, moment)


def execution_query(
    request: Request, tenant: str, *, default_states: Sequence[StateType] = ()
) -> ExecutionQuery:
    """The search the query string of ``request`` asks for, in ``tenant``.

    ``default_states`` apply when no state filter is given (a bulk resume by query, say, only
    ever looks at PAUSED executions). Raises :class:`perch.errors.InvalidRequest` (422) naming
    an unknown filter field, operation, state, sort key, or a malformed date, duration or label.
    """
    query = query_from_params(
        request.query_params.multi_items(), tenant, default_states=default_states
    )
    return readable_only(request, query)


def readable_only(request: Request, query: ExecutionQuery) -> ExecutionQuery:
    """``query`` narrowed to the namespaces whose executions the caller may read, so that
    results, totals and bulk actions by query never reach beyond them."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        return query
    return replace(query, namespace_scope=scope(principal, Resource.EXECUTION, Action.READ))


def query_from_params(
    params: Iterable[tuple[str, str]],
    tenant: str,
    *,
    default_states: Sequence[StateType] = (),
    now: datetime | None = None,
) -> ExecutionQuery:
    """:func:`execution_query` over ``(name, value)`` pairs; ``now`` anchors ``timeRange``."""
    builder = _Builder(now=now or datetime.now(UTC))
    page, size = 1, DEFAULT_PAGE_SIZE
    sort_field, sort_desc = "start_date", True
    for name, value in params:
        if "\x00" in name or "\x00" in value:
            # No stored text holds NUL (PostgreSQL cannot), and it must not reach a query.
            raise InvalidRequest(f"`{name!r}` contains a NUL character")
        match = _FILTER.fullmatch(name)
        if match is not None:
            _apply_filter(builder, match, value, name)
        elif name.startswith("filters"):
            raise InvalidRequest(
                f"`{name}` is not a filter: write `filters[<field>][<OPERATION>]=<value>`"
            )
        elif name in _LEGACY:
            _LEGACY[name](builder, value, name)
        elif name == "page":
            page = _integer(value, name, low=1, high=MAX_PAGE)
        elif name == "size":
            size = _integer(value, name, low=1, high=MAX_PAGE_SIZE)
        elif name == "sort":
            sort_field, sort_desc = _sort(value)
    states = tuple(dict.fromkeys(builder.states))
    if not states and not builder.not_states:
        states = tuple(default_states)
    return replace(
        ExecutionQuery(tenant=tenant, page=page, size=size),
        states=states,
        not_states=tuple(dict.fromkeys(builder.not_states)),
        labels=tuple(dict.fromkeys(builder.labels)),
        sort_field=sort_field,
        sort_desc=sort_desc,
        **builder.values,
    )


# --- filters[field][OP] -------------------------------------------------------------------------


def _apply_filter(builder: _Builder, match: re.Match[str], value: str, source: str) -> None:
    name, op, key = match["field"], match["op"], match["key"]
    handlers = _FILTERS.get(name)
    if handlers is None:
        known = ", ".join(sorted(_FILTERS))
        raise InvalidRequest(f"`{source}`: unknown filter field `{name}` (known: {known})")
    handler = handlers.get(op)
    if handler is None:
        known = ", ".join(handlers)
        raise InvalidRequest(
            f"`{source}`: the `{name}` filter has no operation `{op}` (it has: {known})"
        )
    if key is None:
        handler(builder, value, source)
    elif name == "labels":
        _label(builder, None, key, value, source)
    else:
        raise InvalidRequest(f"`{source}`: only the `labels` filter takes a key")


def _states(target: str) -> Any:
    def read(builder: _Builder, value: str, source: str) -> None:
        found = getattr(builder, target)
        for part in value.split(","):
            if part.strip():
                found.append(_state(part.strip(), source))

    return read


def _state(text: str, source: str) -> StateType:
    try:
        return StateType(text.upper())
    except ValueError:
        raise InvalidRequest(f"`{source}`: `{text}` is not an execution state") from None


def _text(target: str) -> Any:
    def read(builder: _Builder, value: str, source: str) -> None:
        builder.single(target, value, source)

    return read


def _bound(target: str, *, lower: bool, inclusive: bool) -> Any:
    def read(builder: _Builder, value: str, source: str) -> None:
        moment = _datetime(value, source)
        if lower:
            builder.lower(target, moment if inclusive else moment + _ONE_MICROSECOND)
        else:
            # Stored bounds above are exclusive: "at or before t" is "before t + 1µs".
            builder.upper(target, moment + _ONE_MICROSECOND if inclusive else moment)

    return read


def _time_range(builder: _Builder, value: str, source: str) -> None:
    try:
        span = parse_duration(value.strip())
    except InvalidDuration:
        raise InvalidRequest(
            f"`{source}`: `{value}` is not an ISO-8601 duration such as PT24H or P7D"
        ) from None
    if span <= timedelta(0):
        raise InvalidRequest(f"`{source}`: the time range must be positive")
    builder.lower("start_after", builder.now - span)


def _scope(builder: _Builder, value: str, source: str) -> None:
    del builder
    if value.upper() != "USER":
        raise InvalidRequest(f"`{source}`: Perch has no system flows; only `USER` is accepted")


def _not_scope(builder: _Builder, value: str, source: str) -> None:
    del builder
    if value.upper() != "SYSTEM":
        raise InvalidRequest(f"`{source}`: Perch has no system flows; only `SYSTEM` is accepted")


MAX_LABEL_FILTERS = 50
"""The most ``labels`` filters one search takes (each becomes a condition of the query)."""


def _label(builder: _Builder, pair: str | None, key: str | None, value: str, source: str) -> None:
    if pair is not None:
        key, separator, value = pair.partition(":")
        if not separator:
            raise InvalidRequest(f"`{source}`: a label is written `key:value`, got `{pair}`")
    if not key:
        raise InvalidRequest(f"`{source}`: a label needs a key")
    if len(builder.labels) >= MAX_LABEL_FILTERS:
        raise InvalidRequest(f"at most {MAX_LABEL_FILTERS} label filters may be given")
    builder.labels.append((key, value))


def _datetime(value: str, source: str) -> datetime:
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(
            f"`{source}`: `{value}` is not an ISO-8601 date such as 2026-01-31T09:30:00Z"
        ) from None
    # A date without a zone is read as UTC, the zone of every date Perch writes.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_LOWER_INCLUSIVE = {"GREATER_THAN_OR_EQUAL_TO": True, "GREATER_THAN": False}
_UPPER_INCLUSIVE = {"LESS_THAN_OR_EQUAL_TO": True, "LESS_THAN": False}


def _date_filters(prefix: str) -> dict[str, Any]:
    handlers: dict[str, Any] = {}
    for op, inclusive in _LOWER_INCLUSIVE.items():
        handlers[op] = _bound(f"{prefix}_after", lower=True, inclusive=inclusive)
    for op, inclusive in _UPPER_INCLUSIVE.items():
        handlers[op] = _bound(f"{prefix}_before", lower=False, inclusive=inclusive)
    return handlers


_FILTERS: dict[str, dict[str, Any]] = {
    "state": {
        "EQUALS": _states("states"),
        "IN": _states("states"),
        "NOT_EQUALS": _states("not_states"),
        "NOT_IN": _states("not_states"),
    },
    "namespace": {
        "EQUALS": _text("namespace"),
        "NOT_EQUALS": _text("not_namespace"),
        "PREFIX": _text("namespace_prefix"),
        "STARTS_WITH": _text("namespace_starts_with"),
        "CONTAINS": _text("namespace_contains"),
    },
    "flowId": {"EQUALS": _text("flow_id"), "NOT_EQUALS": _text("not_flow_id")},
    "labels": {"EQUALS": lambda b, v, s: _label(b, v, None, v, s)},
    "startDate": _date_filters("start"),
    "endDate": _date_filters("end"),
    "timeRange": {"EQUALS": _time_range},
    "q": {"EQUALS": _text("text"), "CONTAINS": _text("text")},
    "scope": {"EQUALS": _scope, "NOT_EQUALS": _not_scope},
}


# --- the legacy plain parameters ----------------------------------------------------------------


_LEGACY: dict[str, Any] = {
    "namespace": _text("namespace_prefix"),
    "flowId": _text("flow_id"),
    "state": _states("states"),
    "labels": _FILTERS["labels"]["EQUALS"],
    "startDate": _bound("start_after", lower=True, inclusive=True),
    "endDate": _bound("end_before", lower=False, inclusive=True),
    "timeRange": _time_range,
    "q": _text("text"),
}


def _integer(value: str, name: str, *, low: int, high: int | None = None) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        raise InvalidRequest(f"`{name}` must be a whole number, got `{value}`") from None
    if number < low or (high is not None and number > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise InvalidRequest(f"`{name}` must be {bounds}, got {number}")
    return number


def _sort(value: str) -> tuple[str, bool]:
    key, _, direction = value.strip().partition(":")
    column = SORTS.get(key)
    if column is None:
        raise InvalidRequest(f"cannot sort by `{key}` (sort by one of: {', '.join(SORTS)})")
    direction = direction.lower() or "asc"
    if direction not in ("asc", "desc"):
        raise InvalidRequest(f"a sort direction is `asc` or `desc`, got `{direction}`")
    return column, direction == "desc"
