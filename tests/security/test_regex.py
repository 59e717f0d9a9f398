"""Regular expressions written in flows, matched on values typed by people, run in linear time.

The review held the whole process for 7.6 s with one validator and a 28-character answer; on a
backtracking engine each character more doubles that. These probes use 40 characters (hours on
Python's ``re``) while ``/health`` is watched.
"""

from __future__ import annotations

from tests.security.conftest import HealthWatch, Live

EVIL = r"^([a-zA-Z0-9]+\s?)+$"
ANSWER = "a" * 40 + "!"


def _flow(flow_id: str) -> str:
    return f"""
id: {flow_id}
namespace: probes
inputs:
  - id: name
    type: STRING
    validator: '{EVIL}'
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: reason
        type: STRING
        validator: '{EVIL}'
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ outputs.wait.onResume.reason }}}}"
"""


def test_a_catastrophic_validator_is_fast_on_create(live: Live, health: HealthWatch) -> None:
    flow = live.deploy(_flow("evil_create"))
    refused = live.client.post(
        f"/api/v1/main/executions/{flow['namespace']}/{flow['id']}", files={"name": (None, ANSWER)}
    )
    assert refused.status_code == 422, refused.text
    assert "name" in refused.text
    assert "must match the pattern" in refused.text


def test_a_catastrophic_validator_is_fast_on_resume(live: Live, health: HealthWatch) -> None:
    flow = live.deploy(_flow("evil_resume"))
    started = live.start(flow["namespace"], flow["id"], {"name": "fine name"})
    paused = live.wait(started["id"])
    assert paused["state"]["current"] == "PAUSED"
    resume = f"/api/v1/main/executions/{started['id']}/resume"
    refused = live.client.post(resume, files={"reason": (None, ANSWER)})
    assert refused.status_code == 422, refused.text
    assert "reason" in refused.text
    assert live.wait(started["id"])["state"]["current"] == "PAUSED"
    accepted = live.client.post(resume, files={"reason": (None, "looks good")})
    assert accepted.status_code == 204, accepted.text
    done = live.wait(started["id"], until=lambda e: e["state"]["current"] == "SUCCESS")
    assert done["state"]["current"] == "SUCCESS"


def test_regex_filters_run_in_linear_time(live: Live, health: HealthWatch) -> None:
    result = live.run(
        """
id: evil_filters
namespace: probes
inputs:
  - id: text
    type: STRING
tasks:
  - id: filters
    type: io.kestra.plugin.core.debug.Return
    format: >-
      {{ inputs.text | replace({'(a|aa)+$': 'x'}, regexp=true) }}
      {{ inputs.text | split('(a+)+b') | length }}
""",
        inputs={"text": ANSWER},
    )
    assert result["state"]["current"] == "SUCCESS", result
    assert result["taskRunList"][0]["outputs"]["value"] == f"{ANSWER} 1"


def test_a_pattern_re2_cannot_run_is_reported_at_validation_with_its_line(live: Live) -> None:
    source = (
        "id: backref\n"
        "namespace: probes\n"
        "inputs:\n"
        "  - id: word\n"
        "    type: STRING\n"
        "    validator: '(a)\\1'\n"
        "tasks:\n"
        "  - id: log\n"
        "    type: io.kestra.plugin.core.log.Log\n"
        "    message: hi\n"
    )
    response = live.client.post(
        "/api/v1/main/flows", content=source, headers={"Content-Type": "application/x-yaml"}
    )
    assert response.status_code == 422, response.text
    [error] = response.json()["_embedded"]["errors"]
    assert error["line"] == 6, error
    assert "back-references" in error["message"]


def test_a_regex_filter_re2_cannot_run_fails_the_task_clearly(live: Live) -> None:
    result = live.run(
        """
id: lookahead
namespace: probes
tasks:
  - id: filters
    type: io.kestra.plugin.core.debug.Return
    format: "{{ 'abc' | replace({'a(?=b)': 'x'}, regexp=true) }}"
"""
    )
    assert result["state"]["current"] == "FAILED"
    messages = " ".join(line["message"] for line in live.logs(result["id"]))
    assert "Invalid regular expression 'a(?=b)'" in messages
    assert "look-around" in messages
