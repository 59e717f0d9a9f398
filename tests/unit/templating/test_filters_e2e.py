"""The filter and function library through the real engine (``default_environment``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from perch.errors import TemplateRenderError
from perch.templating import default_environment

VARIABLES: dict[str, Any] = {
    "flow": {"id": "vacation", "namespace": "company.hr"},
    "execution": {"startDate": datetime(2024, 3, 5, 14, 7, 9, tzinfo=UTC)},
    "inputs": {"name": "Ann Lee", "items": [3, 1, 2], "day": "2024-01-02", "raw": '{"a": 5}'},
}

HOOKS: Mapping[str, Callable[..., Any]] = {
    "secret": lambda key: f"secret-of-{key}",
    "kv": lambda key, namespace, error_on_missing=True: f"kv:{namespace or 'flow'}:{key}",
    "appLink": lambda app_id=None, base_url=None: f"https://perch/apps/{app_id or 'current'}",
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('{{ execution.startDate | date("yyyy-MM-dd") }}', "2024-03-05"),
        (
            "{{ execution.startDate | dateAdd(-1, 'DAYS') | date('EEE d MMM', timeZone='UTC') }}",
            "Mon 4 Mar",
        ),
        ('{{ inputs.day | date("EEEE") }}', "Tuesday"),
        ('{{ inputs.items | sort | join(",") }}', "1,2,3"),
        ("{{ {'a': 1, 'b': [true, null]} | toJson }}", '{"a":1,"b":[true,null]}'),
        ("{{ [1, 2, 3] | jq('.[1]') | first }}", "2"),
        ("{{ inputs.name | slugify }}", "ann-lee"),
        ("{{ fromJson(inputs.raw).a }}", "5"),
        ("{{ range(1, 3) | join('-') }}", "1-2-3"),
        ("{{ 'I like %this%' | replace({'%this%': 'tea'}) }}", "I like tea"),
        ("{{ '12' | number + 1 }}", "13"),
        ("{{ 3.14159 | numberformat('#.##') }}", "3.14"),
        ("{{ 'a.b.c' | substringAfterLast('.') | upper }}", "C"),
        ("{{ kv('HR_API_ENDPOINT') }}", "kv:flow:HR_API_ENDPOINT"),
        ("{{ secret('SLACK_HR_WEBHOOK') }}", "secret-of-SLACK_HR_WEBHOOK"),
        ("Approve: {{ appLink('appId') }}", "Approve: https://perch/apps/appId"),
    ],
)
def test_render_through_the_engine(source: str, expected: str) -> None:
    assert default_environment().render(source, VARIABLES, hooks=HOOKS) == expected


def test_now_prints_as_iso_in_utc() -> None:
    text = default_environment().render("{{ now() }}", VARIABLES)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", text)


def test_typed_evaluation_keeps_lists() -> None:
    assert default_environment().evaluate("{{ inputs.items | rsort }}", VARIABLES) == [3, 2, 1]


def test_errors_name_the_filter_or_function() -> None:
    env = default_environment()
    with pytest.raises(TemplateRenderError, match="'chunk' filter"):
        env.render("{{ [1, 2] | chunk(0) }}", VARIABLES)
    with pytest.raises(TemplateRenderError, match=re.escape("secret() is not available here")):
        env.render("{{ secret('X') }}", VARIABLES)
