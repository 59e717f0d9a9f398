"""Webhook triggers through HTTP: no credentials, the key in the path; body, headers and query
parameters land in the execution's trigger variables as data (template syntax in a body stays
text); a wrong key or flow is 404, a disabled flow 409, a refused condition 204."""

from __future__ import annotations

from tests.api.conftest import Api, state_is

HOOKED = """\
id: hooked
namespace: company.team
inputs:
  - id: who
    type: STRING
    defaults: nobody
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "hello={{ trigger.body.hello }} who={{ inputs.who }}"
triggers:
  - id: webhook
    type: io.kestra.plugin.core.trigger.Webhook
    key: s3cr3t-Key_0123456789
    inputs:
      who: "{{ trigger.body.who ?? 'anonymous' }}"
"""

PATH = "/api/v1/main/executions/webhook/company.team/hooked/s3cr3t-Key_0123456789"


def messages(api: Api, execution_id: str) -> list[str]:
    return [line["message"] for line in api.client.get(f"/api/v1/logs/{execution_id}").json()]


def test_a_post_starts_an_execution_with_the_body_as_data(api: Api) -> None:
    api.deploy(HOOKED)
    with api.anonymous() as caller:
        answer = caller.post(
            PATH,
            json={"hello": "{{ 7 * 7 }}", "who": "{{ secret('X') }}"},
            headers={"X-Source": "ci", "Authorization": "Bearer not-for-the-flow"},
            params={"run": ["1", "2"]},
        )
    assert answer.status_code == 200, answer.text
    started = answer.json()
    assert started["namespace"] == "company.team"
    assert started["flowId"] == "hooked"
    variables = started["trigger"]["variables"]
    assert started["trigger"]["type"] == "io.kestra.plugin.core.trigger.Webhook"
    assert variables["body"] == {"hello": "{{ 7 * 7 }}", "who": "{{ secret('X') }}"}
    assert variables["parameters"] == {"run": ["1", "2"]}
    assert variables["headers"]["x-source"] == ["ci"]
    assert "authorization" not in {name.lower() for name in variables["headers"]}

    ended = api.wait(started["id"], state_is("SUCCESS", "FAILED"))
    assert ended["state"]["current"] == "SUCCESS"
    assert ended["inputs"] == {"who": "{{ secret('X') }}"}
    assert "hello={{ 7 * 7 }} who={{ secret('X') }}" in messages(api, started["id"])


def test_get_and_put_work_and_a_text_body_stays_text(api: Api) -> None:
    api.deploy(HOOKED)
    with api.anonymous() as caller:
        got = caller.get(PATH.replace("/main", ""), params={"a": "b"})
        put = caller.put(PATH, content=b"plain words", headers={"Content-Type": "text/plain"})
    assert got.status_code == 200, got.text
    assert got.json()["trigger"]["variables"]["parameters"] == {"a": ["b"]}
    assert put.status_code == 200, put.text
    assert put.json()["trigger"]["variables"]["body"] == "plain words"


def test_a_wrong_key_or_flow_is_404_and_a_disabled_flow_409(api: Api) -> None:
    api.deploy(HOOKED)
    with api.anonymous() as caller:
        wrong = caller.post(PATH[:-1] + "X", json={})
        shorter = caller.post(PATH[:-3], json={})
        no_flow = caller.post(PATH.replace("hooked", "missing"), json={})
    assert wrong.status_code == 404
    assert wrong.json()["message"].endswith("Webhook not found")
    assert shorter.status_code == 404
    assert no_flow.status_code == 404
    disabled = HOOKED.replace(
        "namespace: company.team\n", "namespace: company.team\ndisabled: true\n"
    )
    updated = api.client.put(
        "/api/v1/main/flows/company.team/hooked",
        content=disabled,
        headers={"Content-Type": "application/x-yaml"},
    )
    assert updated.status_code == 200, updated.text
    with api.anonymous() as caller:
        assert caller.post(PATH, json={}).status_code == 409
    found = api.client.get(
        "/api/v1/main/executions/search", params={"namespace": "company.team"}
    ).json()
    assert found["total"] == 0


CONDITIONAL = """\
id: conditional
namespace: company.team
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{ trigger.body.hello }}"
outputs:
  - id: greeting
    type: STRING
    value: "{{ trigger.body.hello }}"
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: another-key
    wait: true
    returnOutputs: true
    conditions:
      - type: io.kestra.plugin.core.condition.Expression
        expression: "{{ trigger.body.hello == 'world' }}"
"""


def test_conditions_refuse_with_204_and_wait_returns_the_outputs(api: Api) -> None:
    api.deploy(CONDITIONAL)
    path = "/api/v1/main/executions/webhook/company.team/conditional/another-key"
    with api.anonymous() as caller:
        refused = caller.post(path, json={"hello": "moon"})
        accepted = caller.post(path, json={"hello": "world"})
    assert refused.status_code == 204
    assert accepted.status_code == 200, accepted.text
    assert accepted.json() == {"greeting": "world"}


def test_a_body_over_one_mebibyte_is_refused(api: Api) -> None:
    api.deploy(HOOKED)
    with api.anonymous() as caller:
        small = caller.post(PATH, content=b"x" * (200 * 1024))
        large = caller.post(PATH, content=b"x" * (1024 * 1024 + 1))
    assert small.status_code == 200, small.text
    assert large.status_code == 413
