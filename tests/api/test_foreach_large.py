"""A ForEach over 20,000 values runs to the end (the execution document is not rewritten whole
for each child: see benchmarks/engine_foreach.py for the time it takes)."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from tests.api.conftest import Api

VALUES = 20_000

FLOW = f"""
id: many
namespace: company.team
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: "{{{{ range(1, {VALUES}) }}}}"
    tasks:
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: "value {{{{ taskrun.value }}}}"
"""


def _until_ended(api: Api, execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 600  # a guard against a hang, not a timing assert
    while True:
        response = api.client.get(f"/api/v1/executions/{execution_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["state"]["current"] in ("SUCCESS", "FAILED", "KILLED", "WARNING"):
            return body
        assert time.monotonic() < deadline, f"still {body['state']['current']}"
        time.sleep(2)


def test_a_foreach_over_20000_values_succeeds_with_a_run_per_value(api: Api) -> None:
    api.deploy(FLOW)
    created = api.client.post("/api/v1/executions/company.team/many")
    assert created.status_code == 200, created.text
    done = _until_ended(api, created.json()["id"])
    assert done["state"]["current"] == "SUCCESS"
    by_task = Counter(run["taskId"] for run in done["taskRunList"])
    assert by_task == {"each": 1, "log": VALUES}
    values = {run["value"] for run in done["taskRunList"] if run["taskId"] == "log"}
    assert values == {str(number) for number in range(1, VALUES + 1)}
    logs = [run for run in done["taskRunList"] if run["taskId"] == "log"]
    assert all(run["state"]["current"] == "SUCCESS" for run in logs)
