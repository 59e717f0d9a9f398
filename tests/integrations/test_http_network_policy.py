"""The outbound network policy on real requests: metadata and link-local addresses are refused
before any connection is made, a deny list reaches names that resolve to a denied address and
every redirect hop, and the most specific network decides between the allow and deny lists."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from perch.tasks.network import configure_network
from tests.api.conftest import Api
from tests.integrations.conftest import Receiver, errors_of, run_flow, task_run

METADATA_FLOW = """\
id: ssrf
namespace: company.team
tasks:
  - id: metadata
    type: io.kestra.plugin.core.http.Request
    uri: http://169.254.169.254/latest/meta-data/
    allowFailure: true
  - id: mapped
    type: io.kestra.plugin.core.http.Request
    uri: "http://[::ffff:169.254.169.254]/"
    allowFailure: true
  - id: alibaba
    type: io.kestra.plugin.core.http.Request
    uri: http://100.100.100.200/latest/meta-data/
    allowFailure: true
  - id: ipv6_metadata
    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook
    url: "http://[fd00:ec2::254]/latest"
    payload: '{"text": "hi"}'
    allowFailure: true
"""


def test_metadata_addresses_are_refused_by_default(api: Api) -> None:
    execution = run_flow(api, METADATA_FLOW)
    assert execution["state"]["current"] == "WARNING"
    assert errors_of(api, execution, "metadata") == [
        "Refused to connect to 169.254.169.254 on port 80: 169.254.0.0/16 (link-local, where "
        "cloud metadata services answer) is refused by default; allow it with "
        "PERCH_HTTP_ALLOW_NETWORKS"
    ]
    [mapped] = errors_of(api, execution, "mapped")
    assert mapped.startswith("Refused to connect to ::ffff:169.254.169.254 on port 80: ")
    [alibaba] = errors_of(api, execution, "alibaba")
    assert "100.100.100.200/32 (the Alibaba Cloud metadata service)" in alibaba
    [aws6] = errors_of(api, execution, "ipv6_metadata")
    assert aws6.startswith("Refused to connect to fd00:ec2::254 on port 80: fd00:ec2::254/128")


@pytest.fixture
def second_receiver() -> Iterator[Receiver]:
    """A receiver on 127.0.0.2, another loopback address the deny list can name."""
    running = Receiver("127.0.0.2").start()
    yield running
    running.stop()


DENIED_FLOW = """\
id: denied
namespace: company.team
tasks:
  - id: direct
    type: io.kestra.plugin.core.http.Request
    uri: "{second}/direct"
    allowFailure: true
  - id: hop
    type: io.kestra.plugin.core.http.Request
    uri: "{first}/hop"
    allowFailure: true
  - id: allowed
    type: io.kestra.plugin.core.http.Request
    uri: "{first}/fine"
"""


def test_the_deny_list_refuses_addresses_names_and_redirect_hops(
    api: Api, receiver: Receiver, second_receiver: Receiver
) -> None:
    configure_network(deny="127.0.0.2/32")
    receiver.reply("/hop", status=307, body=b"", headers={"Location": f"{second_receiver.url}/x"})
    execution = run_flow(api, DENIED_FLOW.format(first=receiver.url, second=second_receiver.url))
    assert execution["state"]["current"] == "WARNING", errors_of(api, execution, "allowed")

    port = second_receiver.port
    assert errors_of(api, execution, "direct") == [
        f"Refused to connect to 127.0.0.2 on port {port}: 127.0.0.2/32 is listed in "
        "PERCH_HTTP_DENY_NETWORKS"
    ]
    [hop] = errors_of(api, execution, "hop")
    assert hop.startswith(f"Refused to connect to 127.0.0.2 on port {port}: ")
    assert task_run(execution, "allowed")["state"]["current"] == "SUCCESS"
    assert second_receiver.requests == []
    assert [r.path for r in receiver.requests] == ["/hop", "/fine"]


NAME_FLOW = """\
id: by_name
namespace: company.team
tasks:
  - id: by_name
    type: io.kestra.plugin.core.http.Request
    uri: "http://localhost:{port}/by-name"
"""


def test_a_name_is_refused_when_an_address_it_resolves_to_is_denied(
    api: Api, receiver: Receiver
) -> None:
    configure_network(deny="127.0.0.1/32")
    execution = run_flow(api, NAME_FLOW.format(port=receiver.port))
    assert execution["state"]["current"] == "FAILED"
    [error] = errors_of(api, execution, "by_name")
    assert error.startswith(
        f"Refused to connect to 127.0.0.1 (resolved from 'localhost') on port {receiver.port}: "
        "127.0.0.1/32 is listed in PERCH_HTTP_DENY_NETWORKS"
    )
    assert receiver.requests == []


def test_the_most_specific_network_decides(
    api: Api, receiver: Receiver, second_receiver: Receiver
) -> None:
    configure_network(deny="127.0.0.0/8", allow="127.0.0.1/32")
    flow = """\
id: specific
namespace: company.team
tasks:
  - id: open
    type: io.kestra.plugin.core.http.Request
    uri: "{first}/open"
  - id: closed
    type: io.kestra.plugin.core.http.Request
    uri: "{second}/closed"
    allowFailure: true
"""
    execution = run_flow(api, flow.format(first=receiver.url, second=second_receiver.url))
    assert task_run(execution, "open")["outputs"]["code"] == 200
    [closed] = errors_of(api, execution, "closed")
    assert "127.0.0.0/8 is listed in PERCH_HTTP_DENY_NETWORKS" in closed
    assert [r.path for r in receiver.requests] == ["/open"]
    assert second_receiver.requests == []
