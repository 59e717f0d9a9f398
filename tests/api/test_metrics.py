"""/ready and /metrics on the API: readiness names what is wrong, the metrics count what the
database holds and time what the process did (a task in a worker, a claim, a decision, the
request itself)."""

from __future__ import annotations

import re

from tests.api.conftest import Api, api, backend, state_is

__all__ = ["api", "backend"]

FLOW = """\
id: measured
namespace: company.team
tasks:
  - id: ask
    type: io.kestra.plugin.core.flow.Pause
  - id: work
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo measured
"""


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        found = re.match(r"([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
        if found and found.group(1) == name:
            have = ",".join(sorted((found.group(2) or "").split(","))) if found.group(2) else ""
            if have == wanted:
                return float(found.group(3))
    return 0.0


def test_ready_and_metrics_answer_without_credentials(api: Api) -> None:
    with api.anonymous() as anonymous:
        assert anonymous.get("/ready").json() == {"status": "UP"}
        before = anonymous.get("/metrics").text
    api.deploy(FLOW)
    started = api.client.post("/api/v1/main/executions/company.team/measured").json()
    api.wait(started["id"], state_is("PAUSED"))
    assert api.client.post(f"/api/v1/main/executions/{started['id']}/resume").status_code == 204
    api.wait(started["id"], state_is("SUCCESS"))
    with api.anonymous() as anonymous:
        answer = anonymous.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    text = answer.text
    assert sample(text, "perch_executions", state="SUCCESS") >= 1
    assert "perch_paused_executions" in text
    assert "perch_queue_depth" in text
    for name, labels in (
        ("perch_time_to_decision_seconds_count", {}),
        ("perch_claim_latency_seconds_count", {}),
        (
            "perch_task_duration_seconds_count",
            {"type": "scripts.shell.Commands", "state": "SUCCESS"},
        ),
    ):
        assert sample(text, name, **labels) > sample(before, name, **labels), name
    routes = 'route="/executions/{executionId}/resume"'
    assert routes in text
