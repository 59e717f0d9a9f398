"""The engine's own renderings (an ``If`` condition here) hold no write lock others wait on.

On SQLite the whole database has one write lock. A resume whose ``If`` condition renders until
the template time budget ends (8 s on this server) is sent first; while that rendering runs,
another flow is deployed, created, paused and resumed, and all of it finishes while the slow
execution is still PAUSED (its resume not yet written). Had the condition rendered inside the
write transaction, those writes would have queued behind it, and the slow execution would have
left PAUSED before they finished. The slow one then fails, naming the time limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.security.conftest import HealthWatch, Live, start_live, stop_live
from tests.security.test_slow_render import OTHER

# Ten billion iterations: longer than any time budget, so the rendering ends at the budget.
SPIN = "{% for i in range(1, 100000) %}{% for j in range(1, 100000) %}{% endfor %}{% endfor %}"
SLOW = f"""
id: slow_if
namespace: probes
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: decide
    type: io.kestra.plugin.core.flow.If
    condition: "{SPIN}true"
    then:
      - id: never
        type: io.kestra.plugin.core.log.Log
        message: "not reached"
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    running = start_live(
        Path(tmp_path_factory.mktemp("renders")),
        {"PERCH_TEMPLATE_TIME_LIMIT": "8", "PERCH_TEMPLATE_LOOP_LIMIT": "10000000000"},
    )
    yield running
    stop_live(running)


def test_an_if_condition_renders_outside_the_write_lock(live: Live, health: HealthWatch) -> None:
    live.deploy(SLOW)
    live.deploy(OTHER)
    slow = live.start("probes", "slow_if")["id"]
    assert live.wait(slow)["state"]["current"] == "PAUSED"

    answers: list[httpx.Response] = []

    def resume_slow() -> None:
        with httpx.Client(base_url=live.url, auth=live.client.auth, timeout=120) as client:
            answers.append(client.post(f"/api/v1/main/executions/{slow}/resume"))

    resuming = threading.Thread(target=resume_slow)
    resuming.start()
    time.sleep(1.0)  # a head start for the slow rendering (not a measured duration)
    for round_number in range(2):
        updated = live.client.put(
            "/api/v1/main/flows/probes/other",
            content=OTHER.replace('"resumed"', f'"resumed {round_number}"'),
            headers={"Content-Type": "application/x-yaml"},
        )
        assert updated.status_code == 200, updated.text
        other = live.start("probes", "other")["id"]
        assert live.wait(other)["state"]["current"] == "PAUSED"
        resumed = live.client.post(f"/api/v1/main/executions/{other}/resume")
        assert resumed.status_code in (200, 204), resumed.text
        assert live.wait(other)["state"]["current"] == "SUCCESS"
    still = live.client.get(f"/api/v1/main/executions/{slow}").json()
    assert still["state"]["current"] == "PAUSED", "the others waited for the slow rendering"

    resuming.join(timeout=120)
    assert answers, "the slow resume never answered"
    assert answers[0].status_code in (200, 204), answers[0].text
    ended = live.wait(slow, timeout=120)
    assert ended["state"]["current"] == "FAILED"
    decide = next(run for run in ended["taskRunList"] if run["taskId"] == "decide")
    assert decide["state"]["current"] == "FAILED"
    assert "time" in " ".join(line["message"] for line in live.logs(slow)).lower()
    assert "database is locked" not in live.server_log()
