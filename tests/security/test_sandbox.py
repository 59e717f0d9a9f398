"""Expressions and jq against a live server: nothing of the server's environment, and budgets.

Before: ``jq('$ENV')`` read ``PERCH_ADMIN_PASSWORD``; ``jq('last(range(1e12))')`` held the GIL so
``/health`` and SIGTERM froze for good; nested ``{% for %}`` over ``range()`` ran for minutes.
Now jq runs in worker processes with an empty environment and the rendering's time left as its
timeout, and every rendering has a time, output and loop budget: over one, that task fails with
the limit named, and the server goes on serving everyone else.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.security.conftest import ADMIN, ENV_SECRET, HealthWatch, Live, start_live, stop_live

LOOP_LIMIT = 300_000


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A server whose loop budget is a server setting given in its environment."""
    running = start_live(
        tmp_path_factory.mktemp("sandbox"), {"PERCH_TEMPLATE_LOOP_LIMIT": str(LOOP_LIMIT)}
    )
    yield running
    stop_live(running)


def _flow(flow_id: str, message: str) -> str:
    return (
        f"id: {flow_id}\nnamespace: probe.sandbox\ntasks:\n  - id: probe\n"
        f"    type: io.kestra.plugin.core.log.Log\n    message: {json.dumps(message)}\n"
    )


def _text(live: Live, execution: dict[str, object]) -> str:
    logs = live.logs(str(execution["id"]))
    return json.dumps(execution) + json.dumps(logs)


def _quick(live: Live, flow_id: str) -> dict[str, object]:
    """Deploy and run a one-line flow: the server still serves others."""
    done = live.run(_flow(flow_id, "still serving"))
    assert done["state"]["current"] == "SUCCESS", done
    return done


@pytest.mark.parametrize(
    "program",
    [
        "$ENV",
        "env",
        "$ENV.PERCH_ADMIN_PASSWORD",
        "env.PERCH_PROBE_SECRET",
        "$__loc__",
        "input_filename",
        '[$ENV | to_entries[] | .value] | join(",")',
    ],
)
def test_jq_sees_nothing_of_the_environment(live: Live, health: HealthWatch, program: str) -> None:
    flow_id = "env_" + str(abs(hash(program)))
    message = "{{ 1 | jq('" + program.replace("'", "\\'") + "') | first }}"
    done = live.run(_flow(flow_id, message))
    shown = _text(live, done)
    assert ENV_SECRET not in shown
    assert ADMIN[1] not in shown
    assert done["state"]["current"] == "SUCCESS", shown[:2000]


@pytest.mark.parametrize(
    "program", ['import "secrets" as $s; $s', 'include "passwd"; .', "modulemeta"]
)
def test_jq_cannot_read_files(live: Live, health: HealthWatch, program: str) -> None:
    flow_id = "files_" + str(abs(hash(program)))
    message = "{{ 1 | jq('" + program + "') }}"
    done = live.run(_flow(flow_id, message))
    assert done["state"]["current"] == "FAILED"
    assert "jq programs cannot read files" in _text(live, done)


def test_an_endless_jq_program_fails_its_task_and_freezes_nothing(
    live: Live, health: HealthWatch
) -> None:
    flow = live.deploy(_flow("endless_jq", "{{ 1 | jq('last(range(1e12))') }}"))
    started = live.start(flow["namespace"], flow["id"])
    _quick(live, "beside_jq")
    done = live.wait(started["id"])
    assert done["state"]["current"] == "FAILED"
    assert "template time limit of 2 s" in _text(live, done)
    # jq still works for the next program (the stopped worker was replaced).
    after = live.run(_flow("jq_after", "{{ [1, 2, 3] | jq('map(. * 2) | add') | first }}"))
    assert [line["message"] for line in live.logs(after["id"])] == ["12"]


def test_nested_loops_stop_at_the_loop_limit_of_the_server(live: Live, health: HealthWatch) -> None:
    loops = "{% for i in range(0, 100000) %}{% for j in range(0, 100000) %}{% endfor %}{% endfor %}"
    flow = live.deploy(_flow("nested_loops", loops))
    started = live.start(flow["namespace"], flow["id"])
    _quick(live, "beside_loops")
    done = live.wait(started["id"])
    assert done["state"]["current"] == "FAILED"
    assert f"template limit of {LOOP_LIMIT} iterations" in _text(live, done)


def test_a_slow_body_stops_at_the_time_limit(live: Live, health: HealthWatch) -> None:
    # Few iterations, each sorting a large list: the clock, not the count, stops it.
    slow = "{% for i in range(0, 100000) %}{{ range(0, 200000) | sort | length }}{% endfor %}"
    done = live.run(_flow("slow_body", slow))
    assert done["state"]["current"] == "FAILED"
    assert "template time limit of 2 s" in _text(live, done)


@pytest.mark.parametrize(
    ("flow_id", "message"),
    [
        ("wide_output", "{% for i in range(0, 200000) %}0123456789{% endfor %}"),
        ("wide_join", "{{ range(0, 999999) | join(',') }}"),
    ],
)
def test_output_over_the_limit_fails_the_task(
    live: Live, health: HealthWatch, flow_id: str, message: str
) -> None:
    done = live.run(_flow(flow_id, message))
    assert done["state"]["current"] == "FAILED"
    assert "template output limit of 1048576 characters" in _text(live, done)


_A = "a" * 100
_BIG = "{% set x = '" + _A + "' | replace({'a': '" + _A + "'}) | replace({'a': '" + _A + "'}) %}"
"""``x``: 1,000,000 characters, under the limit; what is made from it below is not."""
GROWTH = {
    # A flat expression whose printed value is short (a length) but whose steps are huge: each
    # would take gigabytes before the rendered value was measured at the end.
    "replace_chain": "{{ '"
    + _A
    + "' | replace({'a': '"
    + _A
    + "'}) | replace({'a': '"
    + _A
    + "'}) | replace({'a': '"
    + _A
    + "'}) | replace({'a': '"
    + _A
    + "'}) | length }}",
    "replace_regex": "{{ '" + _A + "' | replace({'(a)': '" + "$1" * 50 + "'}, regexp=true)"
    " | replace({'(a)': '" + "$1" * 50 + "'}, regexp=true)"
    " | replace({'(a)': '" + "$1" * 50 + "'}, regexp=true) | length }}",
    "indent_wide": "{{ '" + "\\n" * 1000 + "' | indent(1000, '" + _A + "') | length }}",
    "join_wide": _BIG + "{{ [x, x, x, x] | join(x) | length }}",
    "concat_chain": _BIG + "{{ (x ~ x ~ x ~ x ~ x ~ x ~ x ~ x) | length }}",
}


@pytest.mark.parametrize("flow_id", sorted(GROWTH))
def test_a_value_made_along_the_way_is_bounded_too(
    live: Live, health: HealthWatch, flow_id: str
) -> None:
    done = live.run(_flow(flow_id, GROWTH[flow_id]))
    assert done["state"]["current"] == "FAILED", done
    assert "A value made while rendering is larger than the template output limit" in _text(
        live, done
    )
    _quick(live, f"{flow_id}_after")


def test_ranges_and_numbers_cannot_grow_without_bound(live: Live, health: HealthWatch) -> None:
    ranged = live.run(_flow("dots_range", "{{ (0..100000000000) | length }}"))
    assert ranged["state"]["current"] == "FAILED"
    assert "more than the limit of 1000000" in _text(live, ranged)
    product = " * ".join(["99999999999"] * 30)  # about 1,100 bits
    squared = live.run(_flow("squares", "{{ " + product + " }}"))
    assert squared["state"]["current"] == "FAILED"
    assert "larger than the limit of 1024 bits" in _text(live, squared)


def _quietly(server: Live, url: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        server.client.post(url, timeout=10)


def test_sigterm_stops_the_server_while_jq_runs(tmp_path: Path) -> None:
    # A long time limit: the program is still inside jq when the signal comes.
    server = start_live(tmp_path, {"PERCH_TEMPLATE_TIME_LIMIT": "120"})
    try:
        flow = server.deploy(_flow("endless_at_stop", "{{ 1 | jq('last(range(1e12))') }}"))
        # The create may answer only once the program ends: send it from a thread.
        url = f"/api/v1/main/executions/{flow['namespace']}/{flow['id']}"
        threading.Thread(target=_quietly, args=(server, url), daemon=True).start()
        time.sleep(2.0)  # the program is inside jq now
        server.process.send_signal(signal.SIGTERM)
        try:
            code = server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            raise AssertionError("the server did not stop on SIGTERM while jq ran") from None
        assert code == 0
        assert _workers_of(server.process.pid) == []
    finally:
        stop_live(server)


def _workers_of(pid: int) -> list[int]:
    """jq workers started by the server ``pid`` still alive (they name it last)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(a.endswith(b"jq_worker.py") for a in args) and str(pid).encode() in args[-2:]:
            found.append(int(proc.name))
    return found


def test_a_killed_server_leaves_no_jq_worker_running(tmp_path: Path) -> None:
    server = start_live(tmp_path, {"PERCH_TEMPLATE_TIME_LIMIT": "120"})
    try:
        flow = server.deploy(_flow("endless_at_kill", "{{ 1 | jq('last(range(1e12))') }}"))
        url = f"/api/v1/main/executions/{flow['namespace']}/{flow['id']}"
        threading.Thread(target=_quietly, args=(server, url), daemon=True).start()
        deadline = time.monotonic() + 30
        while not _workers_of(server.process.pid):
            assert time.monotonic() < deadline, "no jq worker started"
            time.sleep(0.1)
        server.process.kill()
        server.process.wait()
        deadline = time.monotonic() + 10
        while _workers_of(server.process.pid):
            assert time.monotonic() < deadline, "a jq worker outlived its server"
            time.sleep(0.1)
    finally:
        stop_live(server)


LOOPS = "{% for i in range(0, 100000) %}{% for j in range(0, 100000) %}{% endfor %}{% endfor %}"
ENGINE_RENDERS = {
    "in_if": (
        f'  - id: check\n    type: io.kestra.plugin.core.flow.If\n    condition: "{LOOPS}true"\n'
        "    then:\n      - id: x\n        type: io.kestra.plugin.core.log.Log\n"
        "        message: hi\n"
    ),
    "in_pause": (
        "  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n"
        f'    pauseDuration: "{LOOPS}PT1S"\n'
    ),
    "in_foreach": (
        f'  - id: each\n    type: io.kestra.plugin.core.flow.ForEach\n    values: "{LOOPS}[1]"\n'
        "    tasks:\n      - id: x\n        type: io.kestra.plugin.core.log.Log\n"
        "        message: hi\n"
    ),
    "in_runif": (
        f'  - id: x\n    type: io.kestra.plugin.core.log.Log\n    runIf: "{LOOPS}true"\n'
        "    message: hi\n"
    ),
}


@pytest.mark.parametrize("flow_id", sorted(ENGINE_RENDERS))
def test_the_budget_holds_where_the_engine_renders(
    live: Live, health: HealthWatch, flow_id: str
) -> None:
    source = f"id: {flow_id}\nnamespace: probe.sandbox\ntasks:\n{ENGINE_RENDERS[flow_id]}"
    done = live.run(source)
    assert done["state"]["current"] == "FAILED"
    assert f"template limit of {LOOP_LIMIT} iterations" in _text(live, done)
    _quick(live, f"after_{flow_id}")
