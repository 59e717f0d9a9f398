"""What the HITL API tests share: small flows, and starting executions over HTTP."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, state_is

APPROVAL = """\
id: approval
namespace: company.team
inputs:
  - id: amount
    type: INT
    defaults: 10
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: "Asking about {{ inputs.amount }}"
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
        description: Approve?
      - id: reason
        type: STRING
        defaults: none given
      - id: level
        type: INT
        min: 1
        max: 5
        required: false
      - id: pin
        type: SECRET
        required: false
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.wait.onResume.reason }} by {{ outputs.wait.resumed.by }}"
"""

HOLD = """\
id: hold
namespace: company.bulk
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: resumed
"""

SLOW = """\
id: slow
namespace: company.bulk
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1H
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: woke up
"""

QUICK = """\
id: quick
namespace: company.bulk
tasks:
  - id: only
    type: io.kestra.plugin.core.log.Log
    message: done
"""

FAILING = """\
id: failing
namespace: company.bulk
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: first
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: boom
"""


def form(**values: str | list[str]) -> dict[str, Any]:
    """Multipart fields as ``curl -F`` sends them (for httpx's ``files=``)."""
    parts: list[tuple[str, tuple[None, str]]] = []
    for name, value in values.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append((name, (None, item)))
    return {"files": parts}


def create(
    api: Api,
    namespace: str,
    flow_id: str,
    inputs: dict[str, str] | None = None,
    *,
    tenant: str | None = None,
) -> str:
    """Start an execution over HTTP and return its id."""
    prefix = f"/api/v1/{tenant}" if tenant else "/api/v1"
    body = form(**inputs) if inputs else {}
    response = api.client.post(f"{prefix}/executions/{namespace}/{flow_id}", **body)
    assert response.status_code == 200, response.text
    execution_id: str = response.json()["id"]
    return execution_id


def paused(
    api: Api, namespace: str, flow_id: str, count: int = 1, *, tenant: str | None = None
) -> list[str]:
    """Start ``count`` executions and wait until each is PAUSED."""
    ids = [create(api, namespace, flow_id, tenant=tenant) for _ in range(count)]
    for execution_id in ids:
        api.wait(execution_id, state_is("PAUSED"), tenant=tenant)
    return ids


def outputs_of(execution: dict[str, Any], task_id: str) -> dict[str, Any]:
    """The outputs of the (first) task run of ``task_id``."""
    for run in execution.get("taskRunList") or []:
        if run["taskId"] == task_id:
            found: dict[str, Any] = run.get("outputs") or {}
            return found
    raise AssertionError(f"no task run of {task_id}")


def task_states(execution: dict[str, Any]) -> dict[str, str]:
    return {run["taskId"]: run["state"]["current"] for run in execution.get("taskRunList") or []}


def bind(
    api: Api,
    type: str,
    external_id: str,
    role: str,
    *,
    namespace: str | None = None,
    tenant: str | None = None,
) -> dict[str, Any]:
    """Give ``role`` to a user, group or service account, through the API (as an admin)."""
    prefix = f"/api/v1/{tenant}" if tenant else "/api/v1"
    body = {"type": type, "externalId": external_id, "roleId": role, "namespace": namespace}
    answer = api.client.post(f"{prefix}/bindings", json=body)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def service_token(
    api: Api, name: str = "ci-bot", *, tenant: str | None = None, role: str | None = "Admin"
) -> str:
    """A new service account's API token, through the API (as an administrator would); the
    account gets ``role`` on the whole tenant (none when None)."""
    prefix = f"/api/v1/{tenant}" if tenant else "/api/v1"
    account = api.client.post(f"{prefix}/service-accounts", json={"name": name})
    assert account.status_code == 200, account.text
    if role is not None:
        bind(api, "SERVICE_ACCOUNT", account.json()["id"], role, tenant=tenant)
    token = api.client.post(
        f"{prefix}/service-accounts/{account.json()['id']}/api-tokens", json={"name": "resume"}
    )
    assert token.status_code == 200, token.text
    raw: str = token.json()["token"]
    return raw
