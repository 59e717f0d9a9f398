"""A task that takes the server down at every start is failed, not started again forever.

The probe: a Log whose jq program runs for minutes (a 120 s template time limit), so the task
is always running on a worker when the server is killed. Each restart claims the job again as
the next attempt; after the third lost attempt the task run FAILS with a line saying so, the
execution ends, and the restarted server serves everyone else.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.security.conftest import HealthWatch, Live, start_live, stop_live
from tests.security.test_sandbox import _quick, _workers_of

POISON = """
id: poison
namespace: probe.poison
tasks:
  - id: endless
    type: io.kestra.plugin.core.log.Log
    message: "{% set x = 1 %}{{ x | jq('last(range(1e12))') }}"
"""
SLOW = {"PERCH_TEMPLATE_TIME_LIMIT": "120"}


def _kill_while_running(server: Live) -> None:
    deadline = time.monotonic() + 60
    while not _workers_of(server.process.pid):
        assert time.monotonic() < deadline, "the task never started on this server"
        time.sleep(0.1)
    server.process.kill()
    server.process.wait()
    stop_live(server)


def test_a_task_that_kills_the_server_at_every_start_is_failed(tmp_path: Path) -> None:
    server = start_live(tmp_path, SLOW)
    flow = server.deploy(POISON)
    started = server.start(flow["namespace"], flow["id"])
    _kill_while_running(server)
    for _ in range(2):
        server = start_live(tmp_path, SLOW)
        _kill_while_running(server)
    server = start_live(tmp_path, SLOW)
    try:
        with HealthWatch(server.url) as watch:
            done = server.wait(started["id"], timeout=60)
            _quick(server, "beside_poison")
        watch.check()
        assert done["state"]["current"] == "FAILED", done
        (run,) = done["taskRunList"]
        assert run["state"]["current"] == "FAILED"
        messages = [line["message"] for line in server.logs(started["id"])]
        assert any("lost its worker 3 times" in m for m in messages), messages
    finally:
        stop_live(server)
