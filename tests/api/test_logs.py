"""GET /logs/{executionId} and /logs/{executionId}/download over real HTTP, on SQLite and
PostgreSQL: Kestra's LogEntry JSON, every filter, SECRET values masked, 404 across tenants."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api

from perch.engine import service
from perch.engine.model import Execution
from perch.engine.ports import Store
from perch.engine.principal import Principal
from perch.engine.states import StateType
from perch.engine.watch import wait_for

ADMIN = Principal("admin")
SECRET_VALUE = "hunter2-very-secret"

FLOW = """
id: logged
namespace: company.team
inputs:
  - id: token
    type: SECRET
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "hello with {{ inputs.token }}"
  - id: detail
    type: io.kestra.plugin.core.log.Log
    level: DEBUG
    message: "a debug detail"
  - id: warn
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: ["first warning", "second warning"]
"""


def run_to_end(store: Store, source: str = FLOW, **inputs: Any) -> Execution:
    """Deploy ``source``, run it with ``inputs`` and wait until it has finished."""
    flow = service.deploy_flow(store, source, ADMIN)
    created = service.create_execution(
        store, "main", flow.namespace, flow.id, inputs or {"token": SECRET_VALUE}, ADMIN
    )
    return wait_for(store, created.id, lambda e: e.state.current.is_terminated, 15.0)


def messages(response_json: list[dict[str, Any]]) -> list[str]:
    return [line["message"] for line in response_json]


def test_logs_are_listed_as_kestra_log_entries(api: Api) -> None:
    execution = run_to_end(api.store)
    assert execution.state.current is StateType.SUCCESS

    response = api.client.get(f"/api/v1/logs/{execution.id}")

    assert response.status_code == 200, response.text
    lines = response.json()
    assert [line.get("taskId") for line in lines] == ["greet", "detail", "warn", "warn"]
    first = lines[0]
    greet_run = next(r for r in execution.task_runs if r.task_id == "greet")
    assert first["tenantId"] == "main"
    assert first["namespace"] == "company.team"
    assert first["flowId"] == "logged"
    assert first["executionId"] == execution.id
    assert first["taskRunId"] == greet_run.id
    assert first["attemptNumber"] == 0
    assert first["level"] == "INFO"
    assert first["timestamp"].endswith("Z")
    assert "thread" not in first  # Kestra leaves out properties without a value
    assert [line["level"] for line in lines[2:]] == ["WARN", "WARN"]
    assert messages(lines)[2:] == ["first warning", "second warning"]
    # The tenant-prefixed path answers the same.
    assert api.client.get(f"/api/v1/main/logs/{execution.id}").json() == lines


def test_secret_values_are_masked_in_logs(api: Api) -> None:
    execution = run_to_end(api.store)

    listed = api.client.get(f"/api/v1/logs/{execution.id}").text
    downloaded = api.client.get(f"/api/v1/logs/{execution.id}/download").text

    assert SECRET_VALUE not in listed
    assert SECRET_VALUE not in downloaded
    # The line was rendered from a secret: masked whole, the other lines untouched.
    assert '"message":"******"' in listed
    assert "[greet] ******" in downloaded
    assert "second warning" in listed


def test_each_filter_narrows_the_lines(api: Api) -> None:
    execution = run_to_end(api.store)
    url = f"/api/v1/logs/{execution.id}"
    greet_run = next(r for r in execution.task_runs if r.task_id == "greet")

    def tasks(**params: Any) -> list[str]:
        response = api.client.get(url, params=params)
        assert response.status_code == 200, response.text
        return [line.get("taskId") for line in response.json()]

    assert tasks(minLevel="TRACE") == ["greet", "detail", "warn", "warn"]
    assert tasks(minLevel="INFO") == ["greet", "warn", "warn"]
    assert tasks(minLevel="WARN") == ["warn", "warn"]
    assert tasks(minLevel="ERROR") == []
    assert tasks(taskId="detail") == ["detail"]
    assert tasks(taskId="detail", minLevel="INFO") == []
    assert tasks(taskRunId=greet_run.id) == ["greet"]
    assert tasks(taskRunId=greet_run.id, attempt=0) == ["greet"]
    assert tasks(taskRunId=greet_run.id, attempt=3) == []
    assert tasks(taskId="nothing-like-this") == []


def test_a_bad_filter_is_422(api: Api) -> None:
    execution = run_to_end(api.store)

    for params in ({"minLevel": "LOUD"}, {"attempt": "-1"}, {"attempt": "first"}):
        response = api.client.get(f"/api/v1/logs/{execution.id}", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["message"].startswith("Invalid entity")
    bad_download = api.client.get(
        f"/api/v1/logs/{execution.id}/download", params={"minLevel": "LOUD"}
    )
    assert bad_download.status_code == 422


def test_logs_of_an_unknown_or_foreign_execution_are_404(api: Api) -> None:
    api.add_tenant("other")
    execution = run_to_end(api.store)

    for path in (
        "/api/v1/logs/no-such-execution",
        "/api/v1/logs/no-such-execution/download",
        f"/api/v1/other/logs/{execution.id}",
        f"/api/v1/other/logs/{execution.id}/download",
    ):
        response = api.client.get(path)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["message"].startswith("Not Found")


def test_logs_need_credentials(api: Api) -> None:
    execution = run_to_end(api.store)
    with api.anonymous() as anonymous:
        assert anonymous.get(f"/api/v1/logs/{execution.id}").status_code == 401
        assert anonymous.get(f"/api/v1/logs/{execution.id}/download").status_code == 401


def test_logs_download_as_text(api: Api) -> None:
    execution = run_to_end(api.store)

    response = api.client.get(f"/api/v1/logs/{execution.id}/download")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-disposition"] == (f'attachment; filename="{execution.id}.log"')
    lines = response.text.splitlines()
    assert len(lines) == 4
    stamp, rest = lines[0].split(" ", 1)
    assert stamp.endswith("Z")
    assert len(stamp) == len("2026-11-21T10:00:00.123Z")
    assert rest == "INFO  [greet] ******"
    assert lines[1].split()[1:] == ["DEBUG", "[detail]", "a", "debug", "detail"]
    assert lines[3].endswith("WARN  [warn] second warning")

    filtered = api.client.get(f"/api/v1/logs/{execution.id}/download", params={"minLevel": "WARN"})
    assert filtered.text.splitlines() == lines[2:]


def test_an_execution_without_lines_has_an_empty_list(api: Api) -> None:
    quiet = """
id: quiet
namespace: company.team
tasks:
  - id: value
    type: io.kestra.plugin.core.output.OutputValues
    values:
      a: 1
"""
    execution = run_to_end(api.store, quiet, nothing=None)

    assert api.client.get(f"/api/v1/logs/{execution.id}").json() == []
    assert api.client.get(f"/api/v1/logs/{execution.id}/download").text == ""


FORGER = """\
id: forger
namespace: company.team
inputs:
  - id: note
    type: STRING
tasks:
  - id: echo
    type: io.kestra.plugin.core.log.Log
    message: "note={{ inputs.note }}"
"""


def test_typed_values_cannot_forge_lines_in_the_download(api: Api) -> None:
    api.deploy(FORGER)
    forged = "ok\n2026-01-01T00:00:00.000Z ERROR [admin] forged line\r\x1b[2J\x1b[31mred\u2028x"
    created = api.client.post(
        "/api/v1/executions/company.team/forger", files={"note": (None, forged)}
    )
    assert created.status_code == 200, created.text
    execution_id = created.json()["id"]
    api.wait(execution_id, lambda body: body["state"]["current"] == "SUCCESS")

    response = api.client.get(f"/api/v1/main/logs/{execution_id}/download")

    assert response.status_code == 200, response.text
    lines = response.text.splitlines()
    echoed = [line for line in lines if "[echo]" in line]
    assert len(echoed) == 1, lines
    assert echoed[0].endswith(
        "note=ok\\n2026-01-01T00:00:00.000Z ERROR [admin] forged line"
        "\\r\\x1b[2J\\x1b[31mred\\u2028x"
    )
    assert not any(line.startswith("2026-01-01T00:00:00.000Z") for line in lines)
    assert "\x1b" not in response.text
    assert "\r" not in response.text
    # The JSON listing keeps the value as it was typed.
    listed = api.client.get(f"/api/v1/main/logs/{execution_id}").json()
    assert [line["message"] for line in listed if line.get("taskId") == "echo"] == [
        f"note={forged}"
    ]
