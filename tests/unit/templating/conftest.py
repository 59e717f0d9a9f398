"""Shared fixtures for the engine tests: a small environment independent of the filter library."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from perch.errors import TemplateRenderError
from perch.templating import CallContext, Environment


def _hook(name: str) -> Callable[..., Any]:
    def call(ctx: CallContext, *args: Any, **kwargs: Any) -> Any:
        hook = ctx.hooks.get(name)
        if hook is None:
            raise TemplateRenderError(f"{name}() is not available here")
        return hook(*args, **kwargs)

    return call


def _join(value: Any, separator: str = "") -> str:
    return separator.join(str(v) for v in value)


TEST_FILTERS: dict[str, Callable[..., Any]] = {
    "upper": lambda value: str(value).upper(),
    "lower": lambda value: str(value).lower(),
    "trim": lambda value: str(value).strip(),
    "length": len,
    "join": _join,
    "first": lambda value: value[0],
    "replace": lambda value, old, new="": str(value).replace(old, new),
    "abbreviate": lambda value, length=3: str(value)[:length],
}

TEST_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "secret": _hook("secret"),
    "kv": _hook("kv"),
    "appLink": _hook("appLink"),
    "max": lambda ctx, *values: max(values),
    "echo": lambda ctx, *args, **kwargs: [list(args), dict(sorted(kwargs.items()))],
}

HOOKS: Mapping[str, Callable[..., Any]] = {
    "secret": lambda key: f"secret-of-{key}",
    "kv": lambda key, *rest: f"https://kv/{key}",
    "appLink": lambda app_id=None, **_: f"https://app/{app_id or 'current'}",
}

VARIABLES: dict[str, Any] = {
    "flow": {"id": "vacation", "namespace": "company.hr", "revision": 3},
    "execution": {"id": "exec123", "startDate": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)},
    "inputs": {
        "employee": None,
        "employee_email": "ann@example.com",
        "start_date": "2026-07-01",
        "end_date": "2026-07-15",
        "request": {"name": "Ann", "days": 10},
        "slack_webhook_uri": "https://hooks.slack.com/x",
        "vm_spec": {"cpu": 2, "ram": "4GB"},
        "empty": "",
        "blank": "  ",
        "zero": 0,
        "list": [1, 2, 3],
        "emptylist": [],
        "emptymap": {},
        "map": {"a": 1, "b": 2},
        "my-key": "dash",
        "flag": True,
        "off": False,
        "falsestr": "false",
        "truestr": "true",
        "f": 1.5,
        "big": 1e20,
        "tiny": 0.0001,
        "tmpl": "{{ inputs.request.name }}",
        "json": '{"a": 1}',
        "nested": [[1, 2], [3]],
        "words": ["a", "b", "c"],
        "people": [{"name": "Ann", "age": 30}, {"name": "Bob", "age": 25}],
        "key": "request",
        "index": 1,
    },
    "labels": {"system": {"username": "bob", "correlationId": "c1"}, "team": "hr"},
    "outputs": {
        "await_decision": {
            "onResume": {"approved": True, "reason": "OK"},
            "resumed": {"by": "boss", "on": "2026-06-01T10:00:00", "to": "SUCCESS"},
        },
        "rejected": {"onResume": {"approved": False, "reason": "No"}},
        "pause": {"onResume": None},
        "approve": {"body": '{"ok":true}'},
        "waitForApproval": {"onResume": {"reason": "fine"}},
        "it_admin_approval": {"resumed": {"by": "admin"}},
        "return": {"value": "flow-with-outputs"},
    },
    "vars": {"greeting": "Hello {{ inputs.request.name }}", "plain": "hi"},
    "parents": [{"taskrun": {"value": "p0"}}],
    "tasks": {"wait": {"state": "KILLED"}},
    "trigger": {"_context": {"id": "t1"}},
}


@pytest.fixture(scope="session")
def engine() -> Environment:
    """An environment with a few simple filters and hook-backed functions."""
    return Environment(filters=TEST_FILTERS, functions=TEST_FUNCTIONS)


@pytest.fixture(scope="session")
def variables() -> dict[str, Any]:
    """Execution-like variables modelled on the seeds' flows."""
    return VARIABLES


@pytest.fixture(scope="session")
def hooks() -> Mapping[str, Callable[..., Any]]:
    """Hooks answering secret(), kv() and appLink()."""
    return HOOKS
