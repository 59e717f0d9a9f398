"""Long requests hold no shared thread (issue 8, "Requests"): many ``wait=true`` creates wait
at once while ``/health`` keeps answering, and each answers with the state it waited for."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from tests.security.conftest import ADMIN, HealthWatch, Live

CONCURRENT = 45
"""As many ``wait=true`` creates as froze /health for 56 s in the review (more than the 40
threads of the shared pool)."""

SLEEPY = """
id: sleepy
namespace: probes.waits
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT3S
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: awake
"""

HOLD = """
id: hold
namespace: probes.waits
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: resumed
"""


def test_many_waiting_creates_leave_health_answering(live: Live, health: HealthWatch) -> None:
    live.deploy(SLEEPY)
    live.deploy(HOLD)
    flows = ["sleepy"] * (CONCURRENT - 5) + ["hold"] * 5
    # One client with a connection per request: 45 clients each building their own TLS context
    # would load this process, where the /health watcher runs, more than the server.
    limits = httpx.Limits(max_connections=CONCURRENT)
    with httpx.Client(base_url=live.url, auth=ADMIN, timeout=120, limits=limits) as client:

        def create_and_wait(flow_id: str) -> dict[str, Any]:
            response = client.post(
                f"/api/v1/main/executions/probes.waits/{flow_id}", params={"wait": "true"}
            )
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        with ThreadPoolExecutor(CONCURRENT) as pool:
            answers = list(pool.map(create_and_wait, flows))
    for flow_id, body in zip(flows, answers, strict=True):
        expected = "SUCCESS" if flow_id == "sleepy" else "PAUSED"
        assert body["state"]["current"] == expected, (flow_id, body["state"])
    assert health.latencies
