"""A slow template delays only its own execution: a Log whose message renders nested
``{% for %}`` loops (under the loop budget) for about half a second, started three times,
while another flow is deployed, created and resumed. Those answer (no 'database is locked')
and /health never freezes."""

from __future__ import annotations

from tests.security.conftest import HealthWatch, Live

LOOP = "{% for i in range(1, 1000) %}{% for j in range(1, 900) %}{% endfor %}{% endfor %}"
SLOW = f"""
id: slow_log
namespace: probes
tasks:
  - id: slow
    type: io.kestra.plugin.core.log.Log
    message: "{LOOP}done"
"""

OTHER = """
id: other
namespace: probes
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "resumed"
"""


def test_a_slow_template_does_not_hold_others_create_resume_or_deploy(
    live: Live, health: HealthWatch
) -> None:
    live.deploy(SLOW)
    slow = [live.start("probes", "slow_log")["id"] for _ in range(3)]
    live.deploy(OTHER)
    for round_number in range(3):
        updated = live.client.put(
            "/api/v1/main/flows/probes/other",
            content=OTHER.replace('"resumed"', f'"resumed {round_number}"'),
            headers={"Content-Type": "application/x-yaml"},
        )
        assert updated.status_code == 200, updated.text
        other = live.start("probes", "other")
        paused = live.wait(other["id"])
        assert paused["state"]["current"] == "PAUSED"
        resumed = live.client.post(f"/api/v1/main/executions/{other['id']}/resume")
        assert resumed.status_code in (200, 204), resumed.text
        assert live.wait(other["id"])["state"]["current"] == "SUCCESS"
    for execution_id in slow:
        assert live.wait(execution_id, timeout=120)["state"]["current"] == "SUCCESS"
    assert "database is locked" not in live.server_log()
