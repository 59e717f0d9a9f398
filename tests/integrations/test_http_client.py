"""The HTTP tasks' own client (``perch.tasks.httpclient``) through flows run over the API:
HTTPS against a certificate made in the test (refused unverified, accepted when the task trusts
all certificates), keep-alive connections reused between tasks and a connection the peer closed
replaced, a killed execution ending its blocked request at once, and gzip answers decoded."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from perch.errors import HttpTaskError
from perch.tasks import httpclient
from tests.api.conftest import Api, state_is
from tests.integrations.conftest import Receiver, errors_of, run_flow, task_run
from tests.integrations.smtp import make_certificate


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[Receiver]:
    certificate = make_certificate(tmp_path, "localhost")
    running = Receiver(tls=certificate.server_context()).start()
    yield running
    running.stop()


HTTPS_FLOW = """\
id: https_{name}
namespace: company.team
tasks:
  - id: call
    type: io.kestra.plugin.core.http.Request
    uri: "https://localhost:{port}/secure"
    method: POST
    body: '{{"hello": "tls"}}'
{options}"""

TRUST_ALL = """\
    options:
      ssl:
        insecureTrustAllCertificates: true
"""


def test_https_refuses_an_unknown_certificate_and_trusts_it_when_told(
    api: Api, tls_receiver: Receiver
) -> None:
    refused = run_flow(api, HTTPS_FLOW.format(name="refused", port=tls_receiver.port, options=""))
    assert refused["state"]["current"] == "FAILED"
    [error] = errors_of(api, refused, "call")
    assert error.startswith(f"Cannot connect to localhost:{tls_receiver.port}: TLS: ")
    assert "certificate" in error
    assert tls_receiver.at("/secure") == []

    trusted = run_flow(
        api, HTTPS_FLOW.format(name="trusted", port=tls_receiver.port, options=TRUST_ALL)
    )
    assert trusted["state"]["current"] == "SUCCESS", errors_of(api, trusted, "call")
    [request] = tls_receiver.at("/secure")
    assert request.json() == {"hello": "tls"}
    assert task_run(trusted, "call")["outputs"]["body"] == {"ok": True}


SEQUENCE_FLOW = """\
id: http_sequence
namespace: company.team
tasks:
  - id: first
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/one"
  - id: second
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/two"
  - id: third
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/three"
"""


def test_tasks_reuse_a_kept_alive_connection_and_replace_one_the_peer_closed(
    api: Api, receiver: Receiver
) -> None:
    receiver.reply("/two", headers={"Content-Type": "application/json", "Connection": "close"})
    execution = run_flow(api, SEQUENCE_FLOW.format(url=receiver.url))
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution, "third")
    [one], [two], [three] = (receiver.at(p) for p in ("/one", "/two", "/three"))
    assert one.client_port == two.client_port  # the first connection was kept and reused
    assert three.client_port != two.client_port  # /two closed it: a new one for /three


SLOW_FLOW = """\
id: http_slow
namespace: company.team
tasks:
  - id: wait
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/slow"
"""


def test_a_kill_ends_a_request_waiting_for_its_answer(api: Api, receiver: Receiver) -> None:
    receiver.reply("/slow", delay=60.0)
    flow = api.deploy(SLOW_FLOW.format(url=receiver.url))
    created = api.client.post(f"/api/v1/main/executions/{flow['namespace']}/{flow['id']}")
    assert created.status_code == 200, created.text
    execution_id = created.json()["id"]
    arrived = threading.Event()
    for _ in range(400):
        if receiver.at("/slow"):
            arrived.set()
            break
        arrived.wait(0.05)
    assert arrived.is_set(), "the request never reached the receiver"
    killed = api.client.delete(f"/api/v1/main/executions/{execution_id}/kill")
    assert killed.status_code == 202, killed.text
    # Well before the receiver's 60 s answer: the blocked read was ended, not waited out.
    execution = api.wait(execution_id, state_is("KILLED"), timeout=15)
    assert task_run(execution, "wait")["state"]["current"] == "KILLED"


GZIP_FLOW = """\
id: http_gzip_{name}
namespace: company.team
tasks:
  - id: zipped
    type: io.kestra.plugin.core.http.Request
    uri: "{url}/zipped"
"""


def test_a_gzip_answer_is_decoded_and_a_corrupt_one_fails_clearly(
    api: Api, receiver: Receiver
) -> None:
    receiver.reply(
        "/zipped",
        body=gzip.compress(b'{"zipped": true}'),
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        times=1,
    )
    execution = run_flow(api, GZIP_FLOW.format(name="good", url=receiver.url))
    assert execution["state"]["current"] == "SUCCESS", errors_of(api, execution, "zipped")
    assert task_run(execution, "zipped")["outputs"]["body"] == {"zipped": True}
    [request] = receiver.at("/zipped")
    assert request.header("accept-encoding") == "gzip, deflate"

    receiver.reply("/zipped", body=b"not gzip at all", headers={"Content-Encoding": "gzip"})
    broken = run_flow(api, GZIP_FLOW.format(name="corrupt", url=receiver.url))
    assert broken["state"]["current"] == "FAILED"
    [error] = errors_of(api, broken, "zipped")
    assert error.startswith(f"The gzip body from 127.0.0.1:{receiver.port} is corrupt: ")


def test_a_url_that_is_not_http_is_refused_before_any_connection() -> None:
    outbound = httpclient.Outbound(method="GET", url="ftp://127.0.0.1/file")
    with pytest.raises(HttpTaskError, match="is not an http or https URL"):
        httpclient.send(outbound)
    with pytest.raises(HttpTaskError, match="names no host"):
        httpclient.send(httpclient.Outbound(method="GET", url="http:///path"))
