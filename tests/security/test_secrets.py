"""SECRET values are masked at the source, and only them, against a live server.

Masking used to be a text replacement over whatever was shown: the secret leaked through any
filter that changed its text (``upper``, ``base64encode``, ``slugify``), through ``toJson``'s
escaping and through a ``Fail`` message, and it replaced unrelated text equal to the secret
(a secret ``SUCCESS`` masked ``state.current``; a secret ``a`` masked every ``a``). Now the
value is marked where it enters and every value rendered from it is marked: logs, the log
download, execution inputs and outputs and task errors show ``******``, nothing else changes.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from tests.security.conftest import Live

# A quote, a slash and a non-ASCII letter: toJson escapes them, slugify drops them.
PASSWORD = 'Hunter"2 pass/é'
MASK = "******"


def _forms(secret: str) -> list[str]:
    """The secret and what the leaking filters made of it."""
    slug = re.sub(r"[^a-z0-9]+", "-", secret.lower().replace("é", "e")).strip("-")
    return [
        secret,
        secret.upper(),
        base64.b64encode(secret.encode()).decode(),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=True)[1:-1],
        slug,
    ]


LEAKS = """
id: leaks
namespace: probe.secrets
inputs:
  - id: pw
    type: SECRET
  - id: name
    type: STRING
    defaults: world
tasks:
  - id: upper
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.pw | upper }}"
  - id: b64
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.pw | base64encode }}"
  - id: json
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs | toJson }}"
  - id: slug
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.pw | slugify }}"
  - id: plain
    type: io.kestra.plugin.core.log.Log
    message: "hello {{ inputs.name }}"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.pw | upper }}"
  - id: same
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.pw == 'Hunter\\"2 pass/é' }}"
    then:
      - id: matched
        type: io.kestra.plugin.core.log.Log
        message: the real value reached the condition
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "refused {{ inputs.pw | lower }}"
"""


def _download(live: Live, execution_id: str) -> str:
    response = live.client.get(f"/api/v1/main/logs/{execution_id}/download")
    assert response.status_code == 200, response.text
    return response.text


def _messages(logs: list[dict[str, Any]]) -> dict[str, list[str]]:
    by_task: dict[str, list[str]] = {}
    for line in logs:
        by_task.setdefault(str(line.get("taskId")), []).append(line["message"])
    return by_task


def test_a_secret_never_leaks_through_filters_json_outputs_or_a_fail_message(live: Live) -> None:
    execution = live.run(LEAKS, {"pw": PASSWORD})
    assert execution["state"]["current"] == "FAILED"
    logs = live.logs(execution["id"])
    shown = [json.dumps(execution), json.dumps(logs), _download(live, execution["id"])]
    for text in shown:
        for form in _forms(PASSWORD) + _forms(PASSWORD.lower()):
            assert form not in text, (form, text[:2000])
    messages = _messages(logs)
    for task in ("upper", "b64", "json", "slug"):
        assert messages[task] == [MASK], (task, messages)
    assert messages["plain"] == ["hello world"]
    assert messages["matched"] == ["the real value reached the condition"]
    assert messages["fail"] == [MASK]
    assert execution["inputs"] == {"pw": MASK, "name": "world"}
    runs = {run["taskId"]: run for run in execution["taskRunList"]}
    assert runs["ret"]["outputs"] == {"value": MASK}
    assert runs["fail"]["state"]["current"] == "FAILED"
    assert f"{MASK}\n" in _download(live, execution["id"])


SUCCESS_SECRET = """
id: success_secret
namespace: probe.secrets
inputs:
  - id: pw
    type: SECRET
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: SUCCESS of a banana
"""


@pytest.mark.parametrize("secret", ["SUCCESS", "a"])
def test_a_secret_equal_to_other_text_leaves_that_text_alone(live: Live, secret: str) -> None:
    flow = SUCCESS_SECRET.replace("success_secret", f"equal_{secret.lower()}")
    execution = live.run(flow, {"pw": secret})
    assert execution["state"]["current"] == "SUCCESS"
    assert execution["taskRunList"][0]["state"]["current"] == "SUCCESS"
    assert execution["namespace"] == "probe.secrets"
    assert execution["inputs"] == {"pw": MASK}
    assert [line["message"] for line in live.logs(execution["id"])] == ["SUCCESS of a banana"]
    assert "SUCCESS of a banana" in _download(live, execution["id"])


CHILD = """
id: child
namespace: probe.secrets
inputs:
  - id: token
    type: STRING
outputs:
  - id: echoed
    type: STRING
    value: "{{ inputs.token | upper }}"
tasks:
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.token == 'open sesame' }}"
    then:
      - id: opened
        type: io.kestra.plugin.core.log.Log
        message: the child got the real value
"""

PARENT = """
id: parent
namespace: probe.secrets
inputs:
  - id: pw
    type: SECRET
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: probe.secrets
    flowId: child
    inputs:
      token: "{{ inputs.pw }}"
"""


def test_a_secret_passed_to_a_subflow_keeps_its_value_and_its_mask(live: Live) -> None:
    live.deploy(CHILD)
    parent = live.run(PARENT, {"pw": "open sesame"})
    assert parent["state"]["current"] == "SUCCESS", parent
    response = live.client.get(
        "/api/v1/main/executions/search", params={"namespace": "probe.secrets", "flowId": "child"}
    )
    assert response.status_code == 200, response.text
    (child,) = response.json()["results"]
    # The child declared a STRING, but what it got was rendered from a secret: still masked.
    assert child["inputs"] == {"token": MASK}
    assert child["outputs"] == {"echoed": MASK}
    messages = [line["message"] for line in live.logs(child["id"])]
    assert "the child got the real value" in messages
    for text in (json.dumps(child), json.dumps(parent)):
        assert "open sesame" not in text
        assert "OPEN SESAME" not in text


def test_the_database_file_never_holds_a_secret(live: Live) -> None:
    secret = "plaintext-at-rest-7c1e"
    flow = LEAKS.replace("id: leaks", "id: at_rest")
    execution = live.run(flow, {"pw": secret})
    assert execution["state"]["current"] == "FAILED"
    data = live.log_path.parent / "data"
    key = data / "secret.key"
    assert key.exists()
    assert key.stat().st_mode & 0o777 == 0o600
    files = [path for path in data.iterdir() if path.name.startswith("perch.db")]
    assert files
    for path in files:
        content = path.read_bytes()
        for form in _forms(secret):
            assert form.encode() not in content, (path.name, form)
