"""The worker's claim filter: validation of its options and the matching rule."""

from __future__ import annotations

import pytest

from perch.engine.jobfilter import JobFilter, like_pattern, like_prefix
from perch.errors import InvalidWorkerFilter, PerchError

HTTP = "io.kestra.plugin.core.http.Request"
SHELL = "io.kestra.plugin.scripts.shell.Commands"


def test_the_default_worker_takes_only_jobs_without_a_group() -> None:
    default = JobFilter.of()
    assert default.is_default
    assert default.matches(None, HTTP, "company.team")
    assert not default.matches("gpu", HTTP, "company.team")


def test_a_group_worker_takes_only_its_group() -> None:
    gpu = JobFilter.of("gpu")
    assert gpu.matches("gpu", SHELL, "a")
    assert not gpu.matches(None, SHELL, "a")
    assert not gpu.matches("gpu2", SHELL, "a")


def test_type_patterns_and_namespace_prefixes_narrow_the_claims() -> None:
    narrow = JobFilter.of(None, ["io.kestra.plugin.scripts.*", HTTP], ["company.team,other"])
    assert narrow.task_types == ("io.kestra.plugin.scripts.*", HTTP)
    assert narrow.namespaces == ("company.team", "other")
    assert narrow.matches(None, SHELL, "company.team")
    assert narrow.matches(None, HTTP, "company.team.sub")
    assert not narrow.matches(None, "io.kestra.plugin.core.log.Log", "company.team")
    assert not narrow.matches(None, SHELL, "company.teamwork")
    assert not narrow.matches(None, SHELL, "company")
    assert narrow.matches(None, SHELL, "other")


@pytest.mark.parametrize(
    ("group", "types", "namespaces", "named"),
    [
        ("-gpu", (), (), "--worker-group '-gpu'"),
        ("g p u", (), (), "--worker-group"),
        (None, ("io.kestra%",), (), "--task-types 'io.kestra%'"),
        (None, (), ("a..b",), "--namespaces 'a..b'"),
    ],
)
def test_bad_options_are_refused_naming_the_option(
    group: str | None, types: tuple[str, ...], namespaces: tuple[str, ...], named: str
) -> None:
    with pytest.raises(InvalidWorkerFilter) as caught:
        JobFilter.of(group, types, namespaces)
    assert named in str(caught.value)
    assert isinstance(caught.value, PerchError)


def test_like_forms_escape_what_sql_would_read_as_wildcards() -> None:
    assert like_pattern("io.kestra.plugin.my_tasks.*") == "io.kestra.plugin.my\\_tasks.%"
    assert like_prefix("company_x") == "company\\_x.%"
