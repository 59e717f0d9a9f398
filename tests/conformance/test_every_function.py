"""Every function the templating engine declares works through a real server (the engine, its
workers and hooks wired as ``perch server local`` wires them), each in a flow of its own: a
function whose hook is wired only in the unit-test harness would fail here with "not available
here". The list is checked against the engine's own, so a new function needs a case here.

Kestra's Pebble functions: ``core/src/main/java/io/kestra/core/runners/pebble/functions``.
"""

from __future__ import annotations

import pytest

from perch.templating.environment import default_environment
from tests.api.conftest import Api, state_is
from tests.conformance.conftest import messages, only_run, run

NAMESPACE = "conformance.functions"

# name -> (the expression a Return task formats, a check of what it rendered)
CASES: dict[str, tuple[str, str]] = {
    "now": ("{{ now() | date('yyyy') }}", "20"),
    "fromJson": ("{{ fromJson('{\"a\": [1, 2]}').a[1] }}", "2"),
    "json": ("{{ json('{\"b\": 3}').b }}", "3"),
    "yaml": ("{{ yaml('c: 4').c }}", "4"),
    "uuid": ("{{ uuid() | length }}", "36"),
    "id": ("{{ id() | length }}", "22"),
    "range": ("{{ range(1, 3) | join(',') }}", "1,2,3"),
    "max": ("{{ max(4, 9, 2) }}", "9"),
    "min": ("{{ min(4, 9, 2) }}", "2"),
    "randomInt": ("{{ randomInt(5, 6) }}", "5"),
    "printContext": ("{{ printContext() | length > 0 }}", "true"),
    "fetchContext": ("{{ fetchContext() | length > 0 }}", "true"),
    "secret": ("{{ secret('API_PASSWORD') }}", "******"),
    "kv": ("{{ kv('greeting') }}", "hello"),
    "read": ("{{ read(inputs.doc) }}", "the file's text"),
    "appLink": ("{{ appLink() }}", "/ui/executions/conformance.functions/fn_appLink/"),
    "errorLogs": ("", ""),  # its own flow below: it needs an errors branch
    "currentEachOutput": ("", ""),  # its own flow below: it needs a ForEach
    "render": ("{{ render(vars.template) }}", "fn_render"),
    "renderOnce": ("{{ renderOnce(vars.template) }}", "fn_renderOnce"),
}

PLAIN = """\
id: fn_NAME
namespace: conformance.functions
inputs:
  - id: doc
    type: FILE
    required: false
variables:
  template: "{{ flow.id }}"
tasks:
  - id: call
    type: io.kestra.plugin.core.debug.Return
    format: "EXPRESSION"
"""

ERROR_LOGS = """\
id: fn_errorLogs
namespace: conformance.functions
tasks:
  - id: failed
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: Task failure
errors:
  - id: call
    type: io.kestra.plugin.core.log.Log
    message: "{% for log in errorLogs() %}{{ log.taskId }}: {{ log.message }}{% endfor %}"
"""

CURRENT_EACH = """\
id: fn_currentEachOutput
namespace: conformance.functions
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: first
        type: io.kestra.plugin.core.debug.Return
        format: "got {{ taskrun.value }}"
      - id: call
        type: io.kestra.plugin.core.debug.Return
        format: "{{ currentEachOutput(outputs.first).value }}"
"""


def test_the_cases_cover_every_declared_function() -> None:
    assert set(CASES) == set(default_environment().functions)


@pytest.mark.parametrize("name", sorted(n for n, (e, _) in CASES.items() if e))
def test_a_function_works_on_the_real_server(server: Api, name: str) -> None:
    expression, expected = CASES[name]
    server.client.put(f"/api/v1/main/namespaces/{NAMESPACE}/kv/greeting", json="hello")
    answer = server.client.put(
        f"/api/v1/main/namespaces/{NAMESPACE}/secrets/API_PASSWORD", json={"value": "s3cr3t-pw"}
    )
    assert answer.status_code in (200, 204), answer.text
    quoted = expression.replace("\\", "\\\\").replace('"', '\\"')  # inside a YAML "string"
    server.deploy(PLAIN.replace("NAME", name).replace("EXPRESSION", quoted))
    if name == "read":
        created = server.client.post(
            f"/api/v1/main/executions/{NAMESPACE}/fn_read",
            files={"doc": ("doc.txt", b"the file's text", "text/plain")},
        )
        assert created.status_code == 200, created.text
        execution = server.wait(created.json()["id"], state_is("SUCCESS", "FAILED"))
    else:
        execution = run(server, NAMESPACE, f"fn_{name}")
    assert execution["state"]["current"] == "SUCCESS", messages(server, execution["id"])
    value = str(only_run(execution, "call")["outputs"]["value"])
    if name == "secret":
        assert value == expected  # resolved (the flow ran), and masked in the outputs
    else:
        assert expected in value, value


def test_error_logs_and_current_each_output_work_on_the_real_server(server: Api) -> None:
    server.deploy(ERROR_LOGS)
    failed = run(server, NAMESPACE, "fn_errorLogs")
    assert failed["state"]["current"] == "FAILED"
    assert "failed: Task failure" in messages(server, failed["id"], "call")

    server.deploy(CURRENT_EACH)
    each = run(server, NAMESPACE, "fn_currentEachOutput")
    assert each["state"]["current"] == "SUCCESS", messages(server, each["id"])
    values = sorted(r["outputs"]["value"] for r in each["taskRunList"] if r["taskId"] == "call")
    assert values == ["got a", "got b"]
