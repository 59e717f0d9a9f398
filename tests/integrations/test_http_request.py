"""http.Request through the real API and engine, against a recording server on loopback: what
arrived (JSON, form and multipart bodies, a FILE input's bytes, auth headers), the outputs,
response codes that fail or are allowed, redirects, timeouts and retries, refused connections
and oversized answers."""

from __future__ import annotations

import base64
import gzip
import socket
from urllib.parse import parse_qsl

from perch.tasks.network import configure_network
from tests.api.conftest import Api
from tests.integrations.conftest import Receiver, errors_of, run_flow, task_run

JSON_FLOW = """\
id: http_json
namespace: company.team
inputs:
  - id: amount
    type: INT
    defaults: 42
tasks:
  - id: call
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/orders?source={{{{ flow.id }}}}"
    method: POST
    headers:
      X-Flow: "{{{{ flow.id }}}}"
    body: |
      {{"amount": {{{{ inputs.amount }}}}, "who": "{{{{ execution.id }}}}"}}
  - id: after
    type: io.kestra.plugin.core.output.OutputValues
    values:
      order: "{{{{ outputs.call.body.order }}}}"
      code: "{{{{ outputs.call.code }}}}"
"""


def test_a_json_body_arrives_and_the_answer_becomes_outputs(api: Api, receiver: Receiver) -> None:
    receiver.reply(
        "/orders",
        status=201,
        body=b'{"order": 7, "items": [1, 2]}',
        headers={"Content-Type": "application/json; charset=utf-8", "X-Trace": "t-1"},
    )
    execution = run_flow(api, JSON_FLOW.format(url=receiver.url))
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution, "call")

    [got] = receiver.requests
    assert got.method == "POST"
    assert got.path == "/orders?source=http_json"
    assert got.header("content-type") == "application/json"
    assert got.header("x-flow") == "http_json"
    assert got.json() == {"amount": 42, "who": execution["id"]}
    outputs = task_run(execution, "call")["outputs"]
    assert outputs["code"] == 201
    assert outputs["uri"] == f"{receiver.url}/orders?source=http_json"
    assert outputs["body"] == {"order": 7, "items": [1, 2]}
    assert outputs["headers"]["X-Trace"] == ["t-1"]
    assert task_run(execution, "after")["outputs"]["values"] == {"order": 7, "code": 201}


FORM_FLOW = """\
id: http_form
namespace: company.team
tasks:
  - id: form
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/form"
    method: POST
    contentType: application/x-www-form-urlencoded
    formData:
      user: "Ann & Bob"
      count: 3
  - id: text
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/text"
"""


def test_form_data_is_url_encoded_and_a_text_answer_stays_text(
    api: Api, receiver: Receiver
) -> None:
    receiver.reply("/text", body=b"plain words", headers={"Content-Type": "text/plain"})
    execution = run_flow(api, FORM_FLOW.format(url=receiver.url))
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution, "form")

    [form] = receiver.at("/form")
    assert form.header("content-type") == "application/x-www-form-urlencoded"
    assert parse_qsl(form.body.decode()) == [("user", "Ann & Bob"), ("count", "3")]
    [text] = receiver.at("/text")
    assert text.method == "GET"
    assert text.body == b""
    assert task_run(execution, "text")["outputs"]["body"] == "plain words"


MULTIPART_FLOW = """\
id: http_upload
namespace: company.team
inputs:
  - id: doc
    type: FILE
tasks:
  - id: upload
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/upload"
    method: POST
    contentType: multipart/form-data
    formData:
      note: "for {{{{ flow.id }}}}"
      doc: "{{{{ inputs.doc }}}}"
      renamed:
        name: copy.bin
        content: "{{{{ inputs.doc }}}}"
"""


def test_multipart_sends_a_file_input_with_its_bytes_and_names(
    api: Api, receiver: Receiver
) -> None:
    content = b"\x00\x01binary \xff report\r\n--not-a-boundary\r\n"
    execution = run_flow(
        api,
        MULTIPART_FLOW.format(url=receiver.url),
        files=[("doc", ("report.pdf", content, "application/pdf"))],
    )
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution, "upload")

    [got] = receiver.requests
    assert (got.header("content-type") or "").startswith("multipart/form-data; boundary=")
    parts = {part.name: part for part in got.parts()}
    assert set(parts) == {"note", "doc", "renamed"}
    assert parts["note"].filename is None
    assert parts["note"].content == b"for http_upload"
    assert parts["doc"].filename == "report.pdf"
    assert parts["doc"].content == content
    assert parts["doc"].content_type == "application/pdf"
    assert parts["renamed"].filename == "copy.bin"
    assert parts["renamed"].content == content


AUTH_FLOW = """\
id: http_auth
namespace: company.team
tasks:
  - id: basic
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/basic"
    options:
      auth:
        type: BASIC
        username: ann
        password: "s3cr:et"
  - id: bearer
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/bearer"
    options:
      auth:
        type: BEARER
        token: "tok-{{{{ flow.id }}}}"
  - id: legacy
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/legacy"
    options:
      basicAuthUser: bob
      basicAuthPassword: pw
"""


def test_basic_and_bearer_auth_headers(api: Api, receiver: Receiver) -> None:
    execution = run_flow(api, AUTH_FLOW.format(url=receiver.url))
    assert execution["state"]["current"] == "SUCCESS"

    basic = receiver.at("/basic")[0].header("authorization")
    assert basic == "Basic " + base64.b64encode(b"ann:s3cr:et").decode()
    assert receiver.at("/bearer")[0].header("authorization") == "Bearer tok-http_auth"
    legacy = receiver.at("/legacy")[0].header("authorization")
    assert legacy == "Basic " + base64.b64encode(b"bob:pw").decode()


CODES_FLOW = """\
id: http_codes
namespace: company.team
tasks:
  - id: failing
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/broken"
    allowFailure: true
  - id: allowed
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/broken"
    options:
      allowFailed: true
  - id: listed
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/missing"
    options:
      allowedResponseCodes: [404]
  - id: unlisted
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/fine"
    allowFailure: true
    options:
      allowedResponseCodes: [201, 204]
"""


def test_codes_of_400_and_more_fail_unless_allowed(api: Api, receiver: Receiver) -> None:
    receiver.reply(
        "/broken",
        status=503,
        body=b'{"error": "database is down", "detail": "' + b"x" * 500 + b'"}',
    )
    receiver.reply("/missing", status=404, body=b"nothing here", headers={})
    execution = run_flow(api, CODES_FLOW.format(url=receiver.url))
    assert execution["state"]["current"] == "WARNING"

    assert task_run(execution, "failing")["state"]["current"] == "WARNING"
    [error] = errors_of(api, execution, "failing")
    assert "response code 503" in error
    assert '{"error": "database is down"' in error
    assert len(error) < 400
    allowed = task_run(execution, "allowed")
    assert allowed["state"]["current"] == "SUCCESS"
    assert allowed["outputs"]["code"] == 503
    assert allowed["outputs"]["body"]["error"] == "database is down"
    listed = task_run(execution, "listed")
    assert listed["state"]["current"] == "SUCCESS"
    assert listed["outputs"]["code"] == 404
    assert listed["outputs"]["body"] == "nothing here"
    [unlisted] = errors_of(api, execution, "unlisted")
    assert "response code 200" in unlisted
    assert "allowedResponseCodes: 201, 204" in unlisted


REDIRECT_FLOW = """\
id: http_redirects
namespace: company.team
tasks:
  - id: followed
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/old"
  - id: kept
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/old"
    options:
      followRedirects: false
"""


def test_redirects_are_followed_unless_told_not_to(api: Api, receiver: Receiver) -> None:
    receiver.reply(
        "/old",
        status=302,
        body=b"moved",
        headers={"Location": "/new", "Content-Type": "text/plain"},
    )
    receiver.reply("/new", body=b'{"here": true}')
    execution = run_flow(api, REDIRECT_FLOW.format(url=receiver.url))
    assert execution["state"]["current"] == "SUCCESS"

    followed = task_run(execution, "followed")["outputs"]
    assert followed["code"] == 200
    assert followed["body"] == {"here": True}
    kept = task_run(execution, "kept")["outputs"]
    assert kept["code"] == 302
    assert kept["headers"]["Location"] == ["/new"]
    assert kept["body"] == "moved"
    assert [r.path for r in receiver.requests] == ["/old", "/new", "/old"]


TIMEOUT_FLOW = """\
id: http_timeout
namespace: company.team
tasks:
  - id: slow
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/slow"
    options:
      timeout:
        readIdleTimeout: PT0.3S
"""


def test_a_read_timeout_fails_the_task_naming_host_and_port(api: Api, receiver: Receiver) -> None:
    receiver.reply("/slow", delay=2.0)
    execution = run_flow(api, TIMEOUT_FLOW.format(url=receiver.url))
    assert execution["state"]["current"] == "FAILED"
    [error] = errors_of(api, execution, "slow")
    assert error == f"127.0.0.1:{receiver.port} did not answer within 0.3 s (readTimeout)"


RETRY_FLOW = """\
id: http_retry
namespace: company.team
tasks:
  - id: flaky
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/flaky"
    options:
      readTimeout: PT0.3S
    retry:
      type: constant
      interval: PT0.1S
      maxAttempts: 3
"""


def test_a_network_failure_is_a_failed_attempt_that_retry_repeats(
    api: Api, receiver: Receiver
) -> None:
    receiver.reply("/flaky", delay=1.5, times=1)
    execution = run_flow(api, RETRY_FLOW.format(url=receiver.url))
    assert execution["state"]["current"] == "SUCCESS"
    flaky = task_run(execution, "flaky")
    assert [a["state"]["current"] for a in flaky["attempts"]] == ["FAILED", "SUCCESS"]
    assert flaky["outputs"]["code"] == 200
    assert len(receiver.at("/flaky")) == 2


REFUSED_FLOW = """\
id: http_refused
namespace: company.team
tasks:
  - id: nobody
    type: io.kestra.plugin.core.http.Request
    uri: "http://127.0.0.1:{port}/"
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_refused_connection_names_host_port_and_reason(api: Api) -> None:
    port = _free_port()
    execution = run_flow(api, REFUSED_FLOW.replace("{port}", str(port)))
    assert execution["state"]["current"] == "FAILED"
    [error] = errors_of(api, execution, "nobody")
    assert error == f"Cannot connect to 127.0.0.1:{port}: 127.0.0.1: Connection refused"


def test_an_oversized_answer_fails_clearly(api: Api, receiver: Receiver) -> None:
    configure_network(max_response_bytes=1000)
    receiver.reply("/big", body=b"a" * 5000, headers={"Content-Type": "text/plain"})
    receiver.reply("/chunks", body=b"b" * 5000, headers={}, chunked=True)
    bomb = gzip.compress(b"c" * 500_000)
    receiver.reply("/bomb", body=bomb, headers={"Content-Encoding": "gzip"})
    zipped = gzip.compress(b'{"zipped": true}')
    receiver.reply(
        "/zipped",
        body=zipped,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    flow = """\
id: http_big
namespace: company.team
tasks:
  - id: declared
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/big"
    allowFailure: true
  - id: chunked
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/chunks"
    allowFailure: true
  - id: bomb
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/bomb"
    allowFailure: true
  - id: zipped
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/zipped"
  - id: small
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/small"
"""
    execution = run_flow(api, flow.format(url=receiver.url))
    assert execution["state"]["current"] == "WARNING"
    where = f"127.0.0.1:{receiver.port}"
    assert errors_of(api, execution, "declared") == [
        f"The response from {where} is 5000 bytes, over the limit of 1000 bytes "
        "(PERCH_HTTP_MAX_RESPONSE_BYTES)"
    ]
    [chunked] = errors_of(api, execution, "chunked")
    assert "over the limit of 1000 bytes" in chunked
    assert len(bomb) < 1000
    assert errors_of(api, execution, "bomb") == [
        f"The response from {where} is larger once decompressed, over the limit of 1000 bytes "
        "(PERCH_HTTP_MAX_RESPONSE_BYTES)"
    ]
    assert task_run(execution, "zipped")["outputs"]["body"] == {"zipped": True}
    assert task_run(execution, "small")["state"]["current"] == "SUCCESS"
