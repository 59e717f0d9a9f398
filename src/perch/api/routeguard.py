"""Cheap rejection of the routers a request's path cannot reach.

Every router is mounted two or three times (instance, default tenant, ``{tenant}``), some sixty
included routers at the top of the application. FastAPI finds a request's route by asking each
included router in turn, and each of those walks all of its routes in Python: a create on
``/api/v1/{tenant}/executions/...`` used to try some two hundred routes before it reached its
own, a fifth of the server CPU the create cost.

``guard_routers`` gives each included router one regular expression, the union of the paths of
all its routes, and has the router answer "no match" at once when that expression rejects the
path. The union matches every path any of its routes matches, so the answer can only differ
from FastAPI's when FastAPI's would have been "no match" too: order, 405s (a path matched with
another method), redirects of a trailing slash and the tenant-before-default precedence are
untouched. A router whose routes' paths cannot be read (a host route, a frontend group) is left
as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from starlette._utils import get_route_path
from starlette.routing import Match
from starlette.types import Scope

_NAMED_GROUP = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")

Matcher = Callable[[Scope], tuple[Match, Scope]]


def guard_routers(app: FastAPI) -> int:
    """Guard every included router at the top of ``app``; the number guarded. Each union is
    built on the router's first request (FastAPI builds its routes lazily too)."""
    guarded = 0
    for route in app.router.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if not callable(contexts):
            continue
        # The instance's own attribute comes before the class's method for `route.matches`.
        route.__dict__["matches"] = _Guard(contexts, route.matches)
        guarded += 1
    return guarded


class _Guard:
    __slots__ = ("_built", "_contexts", "_matches", "_union")

    def __init__(self, contexts: Callable[[], Iterable[Any]], matches: Matcher) -> None:
        self._contexts = contexts
        self._matches = matches
        self._union: re.Pattern[str] | None = None
        self._built = False

    def __call__(self, scope: Scope) -> tuple[Match, Scope]:
        if not self._built:
            self._union = _union_of(self._contexts())
            self._built = True
        union = self._union
        if (
            union is not None
            and scope.get("type") == "http"
            and union.match(get_route_path(scope)) is None
        ):
            return Match.NONE, {}
        return self._matches(scope)


def _union_of(contexts: Iterable[Any]) -> re.Pattern[str] | None:
    patterns: list[str] = []
    for context in contexts:
        route = getattr(context, "starlette_route", None) or context
        regex = getattr(route, "path_regex", None)
        if not isinstance(regex, re.Pattern):
            return None
        # Named groups may repeat across the alternatives; only "does any match" counts here.
        patterns.append(f"(?:{_NAMED_GROUP.sub('(?:', regex.pattern)})")
    if not patterns:
        return None
    return re.compile("|".join(patterns))
