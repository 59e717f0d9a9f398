"""Reading search filters from a query string (both of Kestra's spellings) into an
:class:`ExecutionQuery`: a pure function, tested without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import pytest
from starlette.requests import Request

from perch.api.filters import MAX_PAGE_SIZE, execution_query, query_from_params
from perch.engine.ports import ExecutionQuery
from perch.engine.states import StateType
from perch.errors import InvalidRequest

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def parse(query: str, **options: object) -> ExecutionQuery:
    params = parse_qsl(query, keep_blank_values=True)
    return query_from_params(params, "main", now=NOW, **options)  # type: ignore[arg-type]


def test_nothing_given_is_every_execution_of_the_tenant() -> None:
    query = parse("")
    assert query == ExecutionQuery(tenant="main", size=10)


def test_states_in_every_spelling() -> None:
    expected = (StateType.PAUSED, StateType.RUNNING)
    assert parse("filters[state][IN]=PAUSED&filters[state][IN]=RUNNING").states == expected
    assert parse("filters[state][IN]=PAUSED,RUNNING").states == expected
    assert parse("filters[state][EQUALS]=PAUSED&state=RUNNING").states == expected
    assert parse("state=paused&state=RUNNING").states == expected
    query = parse("filters[state][NOT_IN]=SUCCESS,FAILED&filters[state][NOT_EQUALS]=KILLED")
    assert query.not_states == (StateType.SUCCESS, StateType.FAILED, StateType.KILLED)


def test_default_states_apply_only_without_a_state_filter() -> None:
    paused = (StateType.PAUSED,)
    assert parse("", default_states=paused).states == paused
    assert parse("state=RUNNING", default_states=paused).states == (StateType.RUNNING,)
    excluded = parse("filters[state][NOT_EQUALS]=RUNNING", default_states=paused)
    assert excluded.states == ()


def test_namespace_flow_and_text() -> None:
    assert parse("namespace=company").namespace_prefix == "company"
    assert parse("filters[namespace][PREFIX]=company").namespace_prefix == "company"
    assert parse("filters[namespace][EQUALS]=company.team").namespace == "company.team"
    assert parse("filters[namespace][NOT_EQUALS]=a").not_namespace == "a"
    assert parse("filters[namespace][STARTS_WITH]=comp").namespace_starts_with == "comp"
    assert parse("filters[namespace][CONTAINS]=tea").namespace_contains == "tea"
    assert parse("flowId=hello").flow_id == "hello"
    assert parse("filters[flowId][EQUALS]=hello").flow_id == "hello"
    assert parse("filters[flowId][NOT_EQUALS]=hello").not_flow_id == "hello"
    assert parse("q=abc").text == "abc"
    assert parse("filters[q][EQUALS]=abc").text == "abc"
    # The same filter twice with the same value is harmless.
    assert parse("flowId=hello&filters[flowId][EQUALS]=hello").flow_id == "hello"


def test_labels_in_every_spelling() -> None:
    query = parse(
        "filters[labels][EQUALS][env]=prod"
        "&filters[labels][EQUALS]=team:a:b"
        "&labels=owner:ana"
        "&labels=owner:ana"
    )
    assert query.labels == (("env", "prod"), ("team", "a:b"), ("owner", "ana"))


def test_dates_and_time_range() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    micro = timedelta(microseconds=1)
    text = "2026-01-02T03:04:05Z"
    assert parse(f"filters[startDate][GREATER_THAN_OR_EQUAL_TO]={text}").start_after == moment
    assert parse(f"filters[startDate][GREATER_THAN]={text}").start_after == moment + micro
    assert parse(f"filters[startDate][LESS_THAN]={text}").start_before == moment
    assert parse(f"filters[startDate][LESS_THAN_OR_EQUAL_TO]={text}").start_before == (
        moment + micro
    )
    assert parse(f"filters[endDate][GREATER_THAN]={text}").end_after == moment + micro
    assert parse(f"filters[endDate][LESS_THAN]={text}").end_before == moment
    # Legacy: started at or after startDate, ended at or before endDate; no zone means UTC.
    legacy = parse("startDate=2026-01-02T03:04:05&endDate=2026-01-02T04:04:05%2B01:00")
    assert legacy.start_after == moment
    assert legacy.end_before == moment + micro
    assert parse("timeRange=PT24H").start_after == NOW - timedelta(hours=24)
    assert parse("filters[timeRange][EQUALS]=P7D").start_after == NOW - timedelta(days=7)
    # Both bounds must hold: the later lower bound wins.
    both = parse(f"timeRange=PT1H&filters[startDate][GREATER_THAN_OR_EQUAL_TO]={text}")
    assert both.start_after == NOW - timedelta(hours=1)


def test_page_size_and_sort() -> None:
    query = parse("page=3&size=50&sort=state.endDate:asc")
    assert (query.page, query.size, query.sort_field, query.sort_desc) == (
        3,
        50,
        "end_date",
        False,
    )
    assert parse("sort=id").sort_field == "id"
    assert not parse("sort=id").sort_desc
    assert parse("sort=state.startDate:desc").sort_desc
    assert parse("sort=flowId:DESC").sort_field == "flow_id"
    assert parse("sort=state.current").sort_field == "state"
    assert parse(f"size={MAX_PAGE_SIZE}").size == MAX_PAGE_SIZE


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("filters[colour][EQUALS]=red", "colour"),
        ("filters[state][LIKE]=PAUSED", "LIKE"),
        ("filters[state][EQUALS]=SLEEPING", "SLEEPING"),
        ("filters[state]=PAUSED", "filters[state]"),
        ("filters[flowId][EQUALS][x]=y", "only the `labels` filter takes a key"),
        ("filters[labels][EQUALS]=nocolon", "key:value"),
        ("labels=:value", "needs a key"),
        ("filters[startDate][GREATER_THAN]=yesterday", "yesterday"),
        ("timeRange=24 hours", "24 hours"),
        ("timeRange=-PT1H", "positive"),
        ("filters[scope][EQUALS]=SYSTEM", "system flows"),
        ("namespace=a&filters[namespace][PREFIX]=b", "twice"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("page=1000001", "page"),
        ("size=0", "size"),
        (f"size={MAX_PAGE_SIZE + 1}", "size"),
        ("sort=colour", "colour"),
        ("sort=id:sideways", "sideways"),
        ("q=a%00b", "NUL"),
    ],
)
def test_bad_filters_are_refused_naming_the_culprit(query: str, named: str) -> None:
    with pytest.raises(InvalidRequest, match=None) as caught:
        parse(query)
    assert named in caught.value.message


def test_unknown_plain_parameters_are_left_to_the_route() -> None:
    assert parse("wait=true&latestRevision=true") == parse("")


def test_reads_the_query_string_of_a_request() -> None:
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/api/v1/executions/search",
            "query_string": b"filters%5Bstate%5D%5BIN%5D=PAUSED&namespace=company&size=5",
            "headers": [],
        }
    )
    query = execution_query(request, "demo")
    assert query.tenant == "demo"
    assert query.states == (StateType.PAUSED,)
    assert query.namespace_prefix == "company"
    assert query.size == 5
