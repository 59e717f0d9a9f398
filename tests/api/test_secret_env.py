"""What flows see of the server's environment, over HTTP on SQLite and PostgreSQL: ``envs`` holds
the ``ENV_*`` variables only (``ENV_FOO`` is ``envs.foo``), and ``secret('X')`` reads
``SECRET_X`` (base64) after the namespace store, never a variable without the prefix."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest
from tests.api.conftest import Api, state_is
from tests.api.hitl import create, outputs_of

ENVS = """\
id: envs
namespace: company.team
tasks:
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      greeting: "{{ envs.greeting_text }}"
      names: "{{ envs | keys | join(',') }}"
      missing: "{{ envs.perch_admin_password ?? 'absent' }}"
"""

SECRETS = """\
id: secrets
namespace: company.team
inputs:
  - id: name
    type: STRING
tasks:
  - id: out
    type: io.kestra.plugin.core.output.OutputValues
    values:
      upper: "{{ secret(inputs.name) | upper }}"
"""


def _run(api: Api, source: str, flow_id: str, inputs: dict[str, str] | None = None) -> Any:
    api.deploy(source)
    execution_id = create(api, "company.team", flow_id, inputs)
    return api.wait(execution_id, state_is("SUCCESS", "FAILED"))


def _error_text(api: Api, execution: dict[str, Any]) -> str:
    logs = api.client.get(f"/api/v1/logs/{execution['id']}").json()
    return " ".join(str(line["message"]) for line in logs)


def test_envs_holds_only_the_env_prefixed_variables(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENV_GREETING_TEXT", "hello from the server")
    monkeypatch.setenv("PERCH_ADMIN_PASSWORD", "never-shown-7")
    execution = _run(api, ENVS, "envs")
    assert execution["state"]["current"] == "SUCCESS"
    values = outputs_of(execution, "out")["values"]
    assert values["greeting"] == "hello from the server"
    assert values["missing"] == "absent"
    expected = sorted(n[4:].lower() for n in os.environ if n.startswith("ENV_") and len(n) > 4)
    assert sorted(values["names"].split(",")) == expected
    assert "never-shown-7" not in str(execution)


def test_secret_reads_the_base64_secret_variable(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_API_KEY", base64.b64encode(b"k3y-from-env").decode())
    execution = _run(api, SECRETS, "secrets", {"name": "API_KEY"})
    assert execution["state"]["current"] == "SUCCESS"
    assert outputs_of(execution, "out")["values"] == {"upper": "******"}


def test_the_namespace_store_comes_before_the_environment(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_API_KEY", base64.b64encode(b"from-env").decode())
    put = api.client.put(
        "/api/v1/main/namespaces/company/secrets/API_KEY", json={"value": "from-store"}
    )
    assert put.status_code == 204
    flow = SECRETS.replace(
        'upper: "{{ secret(inputs.name) | upper }}"',
        "store: \"{{ secret(inputs.name) == 'from-store' }}\"",
    )
    execution = _run(api, flow, "secrets", {"name": "API_KEY"})
    assert outputs_of(execution, "out")["values"] == {"store": True}


def test_a_variable_without_the_prefix_is_no_secret(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLAIN_VARIABLE", "not-a-secret-value")
    execution = _run(api, SECRETS, "secrets", {"name": "PLAIN_VARIABLE"})
    assert execution["state"]["current"] == "FAILED"
    text = _error_text(api, execution)
    assert "PLAIN_VARIABLE" in text
    assert "SECRET_PLAIN_VARIABLE" in text
    assert "not-a-secret-value" not in text + str(execution)


def test_a_secret_variable_that_is_not_base64_fails_the_task(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_BROKEN", "not base64 at all!")
    execution = _run(api, SECRETS, "secrets", {"name": "BROKEN"})
    assert execution["state"]["current"] == "FAILED"
    text = _error_text(api, execution)
    assert "SECRET_BROKEN" in text
    assert "base64" in text
    assert "not base64 at all!" not in text + str(execution)
