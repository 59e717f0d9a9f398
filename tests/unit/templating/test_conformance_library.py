"""Conformance cases that need the standard filter and function library.

These render with :func:`default_environment`, the environment flows use, so they also check
that the engine and the library fit together (calling conventions, ``default``, ``render``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from perch.errors import TemplateRenderError, TemplateSyntaxError, UndefinedVariableError
from perch.templating import default_environment

VARIABLES: dict[str, Any] = {
    "inputs": {
        "name": "  Ann Example ",
        "list": [3, 1, 2],
        "csv": "a,b,c",
        "map": {"b": 2, "a": 1},
        "employee": None,
        "json": '{"user": {"id": 7}}',
        "when": "2024-01-02T03:04:05Z",
    },
    "outputs": {
        "await_decision": {"onResume": {"approved": False, "reason": "Too long"}},
        "call": {"body": {"id": "261"}},
    },
    "vars": {"greeting": "Hello {{ inputs.name | trim }}"},
}


def _kv(key: str, namespace: str | None = None, error_on_missing: bool = True) -> str:
    return {"HR_API_ENDPOINT": "https://hr"}[key]


def _app_link(app_id: str | None = None, base_url: bool | None = None) -> str:
    return f"https://kestra/apps/{app_id or 'self'}"


HOOKS: dict[str, Callable[..., Any]] = {
    "secret": {"SLACK_HR_WEBHOOK": "https://hooks.slack.com/T000"}.__getitem__,
    "kv": _kv,
    "appLink": _app_link,
}

CASES = [
    ("{{ inputs.name | trim | upper }}", "ANN EXAMPLE"),
    ("{{ inputs.name | trim | lower }}", "ann example"),
    ("{{ 'hello world' | title }}", "Hello World"),
    ("{{ 'hello' | capitalize }}", "Hello"),
    ("{{ inputs.list | length }}", "3"),
    ("{{ 'abcd' | length }}", "4"),
    ("{{ inputs.list | sort }}", "[1,2,3]"),
    ("{{ inputs.list | sort | first }}", "1"),
    ("{{ inputs.list | last }}", "2"),
    ("{{ inputs.list | join(', ') }}", "3, 1, 2"),
    ("{{ inputs.csv | split(',') | join('-') }}", "a-b-c"),
    ("{{ inputs.map | keys }}", '["b","a"]'),
    ("{{ inputs.map | toJson }}", '{"b":2,"a":1}'),
    ("{{ fromJson(inputs.json).user.id }}", "7"),
    # An HTTP task's JSON body is decoded already; Kestra's idiom still reads it.
    ("{{ fromJson(outputs.call.body).id }}", "261"),
    ("{{ json(outputs.call.body).id }}", "261"),
    ("{{ fromJson(inputs.json).user.missing ?? 'none' }}", "none"),
    ("{{ range(1, 3) }}", "[1,2,3]"),
    ("{{ max(1, 5, 3) }}", "5"),
    ("{{ inputs.employee | default('anonymous') | upper }}", "ANONYMOUS"),
    ("{{ inputs.missing | default('x') }}", "x"),
    ("{{ inputs.when | date('yyyy-MM-dd') }}", "2024-01-02"),
    ("{{ 'Hello World!' | slugify }}", "hello-world"),
    ("{{ inputs.map | jq('.a') | first }}", "1"),
    ("{{ 'a' | replace({'a': 'b'}) }}", "b"),
    ("{{ render(vars.greeting) }}", "Hello Ann Example"),
    ("{{ vars.greeting }}", "Hello {{ inputs.name | trim }}"),
    ("{{ now() is defined }}", "true"),
    ("{{ secret('SLACK_HR_WEBHOOK') }}", "https://hooks.slack.com/T000"),
    ("{{ kv('HR_API_ENDPOINT') }}/approvals", "https://hr/approvals"),
    ("{{ appLink('appId') }}", "https://kestra/apps/appId"),
    (
        "{{ outputs.await_decision.onResume.approved ? 'APPROVED' : 'REJECTED' }}",
        "REJECTED",
    ),
    ("{{ outputs.await_decision.onResume.approved is false }}", "true"),
    ("{{ outputs.await_decision.onResume.reason | abbreviate(6) }}", "Too..."),
    ("{{ 'x' | className }}", TemplateSyntaxError),
    ("{{ inputs.missing | upper }}", UndefinedVariableError),
    ("{{ fromJson('not json') }}", TemplateRenderError),
]


@pytest.mark.parametrize(("template", "expected"), CASES)
def test_library(template: str, expected: str | type[Exception]) -> None:
    env = default_environment()
    if isinstance(expected, str):
        assert env.render(template, VARIABLES, hooks=HOOKS) == expected
    else:
        with pytest.raises(expected):
            env.render(template, VARIABLES, hooks=HOOKS)
