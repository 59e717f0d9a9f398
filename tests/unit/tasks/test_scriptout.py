"""The lines a script prints: ``::{...}::`` messages (outputs, logs, metrics) and plain lines,
their levels, and the bounds on what one attempt may log."""

from __future__ import annotations

import json
import threading

import pytest

from perch.tasks.scriptout import STDERR, STDOUT, Collector, level_of, parse_message


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('::{"outputs": {"a": 1}}::', {"outputs": {"a": 1}}),
        ('  ::{"outputs":{"a":"x::y"}}::  \n', {"outputs": {"a": "x::y"}}),
        ("::{}::", {}),
        ('::{"metrics": []}::\r\n', {"metrics": []}),
    ],
)
def test_a_message_line_is_its_json_object(line: str, expected: dict[str, object]) -> None:
    assert parse_message(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "hello",
        "::not json::",
        '::{"outputs": {"a": 1}}',  # no closing marker
        'say ::{"outputs": {"a": 1}}:: later',  # not the whole line
        "::[1, 2]::",  # not an object
        '::{"a": NaN}::',  # not JSON
        '::{"a": 1}',
        "::",
        "",
    ],
)
def test_other_lines_are_plain(line: str) -> None:
    assert parse_message(line) is None


def test_outputs_merge_into_vars_and_are_not_logged() -> None:
    collector = Collector()
    collector.feed(STDOUT, b'::{"outputs": {"a": 1, "b": {"c": 2}}}::\n')
    collector.feed(STDOUT, b"plain\n")
    collector.feed(STDOUT, b'::{"outputs": {"a": 3}}::\n')
    assert collector.vars == {"a": 3, "b": {"c": 2}}
    assert collector.logs == [("INFO", "plain")]
    assert collector.stdout_lines == 3


def test_the_kestra_package_formats_are_understood() -> None:
    """What ``Kestra.outputs``, ``Kestra.logger()`` and ``Kestra.counter`` print."""
    collector = Collector()
    lines = [
        {"outputs": {"rows": 10}},
        {"logs": [{"level": "WARN", "message": "careful"}, {"level": "weird", "message": "x"}]},
        {"metrics": [{"name": "count", "type": "counter", "value": 1, "tags": {"t": "a"}}]},
    ]
    for message in lines:
        collector.feed(STDOUT, f"::{json.dumps(message)}::\n".encode())
    assert collector.vars == {"rows": 10}
    assert collector.logs == [
        ("WARN", "careful"),
        ("INFO", "x"),
        ("DEBUG", 'Metric counter \'count\' = 1 {"t": "a"}'),
    ]


def test_stderr_is_logged_at_error_and_stdout_at_info() -> None:
    collector = Collector()
    collector.feed(STDERR, b"oops\n")
    collector.feed(STDOUT, b"fine\r\n")
    assert collector.logs == [("ERROR", "oops"), ("INFO", "fine")]
    assert (collector.stdout_lines, collector.stderr_lines) == (1, 1)


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    collector = Collector()
    collector.feed(STDOUT, b"caf\xe9\n")
    assert collector.logs == [("INFO", "caf\ufffd")]


@pytest.mark.parametrize(
    ("name", "level"),
    [("warning", "WARN"), ("CRITICAL", "ERROR"), ("debug", "DEBUG"), (None, "INFO"), (3, "INFO")],
)
def test_levels_named_by_scripts(name: object, level: str) -> None:
    assert level_of(name) == level


def test_a_long_line_is_cut_with_a_note() -> None:
    collector = Collector(max_line_bytes=10)
    collector.feed(STDOUT, b"0123456789abcdef\n")
    collector.feed(STDOUT, b"0123456789", cut=True)
    assert collector.logs == [
        ("INFO", "0123456789 … [line cut at 10 bytes]"),
        ("INFO", "0123456789 … [line cut at 10 bytes]"),
    ]


def test_a_cut_line_is_never_a_message() -> None:
    collector = Collector()
    collector.feed(STDOUT, b'::{"outputs": {"a": 1}}::', cut=True)
    assert collector.vars == {}
    assert len(collector.logs) == 1


def test_beyond_the_log_budget_lines_are_dropped_with_one_note() -> None:
    collector = Collector(max_log_bytes=20)
    for index in range(10):
        collector.feed(STDOUT, f"line {index}\n".encode())
    collector.feed(STDOUT, b'::{"outputs": {"late": true}}::\n')
    assert [text for _, text in collector.logs[:3]] == ["line 0", "line 1", "line 2"]
    assert len(collector.logs) == 4
    assert collector.logs[-1][0] == "WARN"
    assert "Further output dropped" in collector.logs[-1][1]
    # Outputs still arrive once the logs are full.
    assert collector.vars == {"late": True}


def test_beyond_the_line_count_lines_are_dropped() -> None:
    collector = Collector(max_log_lines=3)
    for index in range(10):
        collector.feed(STDOUT, f"{index}\n".encode())
    assert len(collector.logs) == 4
    assert "Further output dropped" in collector.logs[-1][1]
    assert collector.stdout_lines == 10


def test_beyond_the_message_budget_messages_are_ignored_with_one_note() -> None:
    collector = Collector(max_message_bytes=60)
    for index in range(5):
        collector.feed(STDOUT, f'::{{"outputs": {{"k{index}": {index}}}}}::\n'.encode())
    assert collector.vars == {"k0": 0, "k1": 1}
    assert [level for level, _ in collector.logs] == ["WARN"]


def test_notes_are_kept_past_the_budget() -> None:
    collector = Collector(max_log_lines=1)
    collector.feed(STDOUT, b"a\n")
    collector.feed(STDOUT, b"b\n")
    collector.note("WARN", "from the server")
    assert collector.logs[-1] == ("WARN", "from the server")


def test_two_streams_can_feed_at_once() -> None:
    collector = Collector()

    def write(stream: str) -> None:
        for index in range(500):
            collector.feed(stream, f"{stream} {index}\n".encode())

    threads = [threading.Thread(target=write, args=(s,)) for s in (STDOUT, STDERR)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(collector.logs) == 1000
    assert (collector.stdout_lines, collector.stderr_lines) == (500, 500)
