"""The outbound network policy as pure data: built-in refusals, the allow and deny lists with
the most specific network deciding, settings parsed from the environment, and a DNS failure
named with its host (the resolver is replaced here, a unit test)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from perch.errors import AddressRefused, HttpTaskError, NetworkFailure
from perch.tasks import network
from perch.tasks.network import (
    NetworkPolicy,
    configure_from_environment,
    configure_network,
    parse_networks,
    resolve_checked,
)


@pytest.fixture(autouse=True)
def _default_policy() -> Iterator[None]:
    configure_network()
    yield
    configure_network()


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.170.2",
        "::ffff:169.254.169.254",
        "fe80::1",
        "fe80::1%eth0",
        "fd00:ec2::254",
        "100.100.100.200",
        "192.0.0.192",
        "0.0.0.0",
        "::",
    ],
)
def test_metadata_link_local_and_unspecified_addresses_are_refused(address: str) -> None:
    assert NetworkPolicy().refusal(address) is not None


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "::1", "10.1.2.3", "192.168.1.1", "100.100.100.201", "8.8.8.8"]
)
def test_other_addresses_are_allowed_by_default(address: str) -> None:
    assert NetworkPolicy().refusal(address) is None


def test_the_most_specific_network_decides_and_deny_wins_a_tie() -> None:
    policy = NetworkPolicy(
        allow=parse_networks("169.254.10.0/24, 10.1.0.0/16", "A"),
        deny=parse_networks("0.0.0.0/0,10.1.2.0/24,169.254.10.0/24", "D"),
    )
    assert policy.refusal("10.1.0.9") is None
    assert policy.refusal("10.1.2.9") == "10.1.2.0/24 is listed in PERCH_HTTP_DENY_NETWORKS"
    assert policy.refusal("10.2.0.1") == "0.0.0.0/0 is listed in PERCH_HTTP_DENY_NETWORKS"
    assert policy.refusal("169.254.10.1") is not None  # tie: deny wins
    opened = NetworkPolicy(allow=parse_networks("169.254.169.254", "A"))
    assert opened.refusal("169.254.169.254") is None
    assert opened.refusal("169.254.169.253") is not None
    assert NetworkPolicy(deny=parse_networks("0.0.0.0/0", "D")).refusal("::1") is None


def test_settings_are_read_from_the_environment_and_bad_ones_are_named() -> None:
    policy = configure_from_environment(
        {
            "PERCH_HTTP_ALLOW_NETWORKS": "169.254.1.0/24",
            "PERCH_HTTP_DENY_NETWORKS": "127.0.0.2, 10.0.0.0/8",
            "PERCH_HTTP_MAX_RESPONSE_BYTES": "2048",
        }
    )
    assert [str(n) for n in policy.deny] == ["127.0.0.2/32", "10.0.0.0/8"]
    assert [str(n) for n in policy.allow] == ["169.254.1.0/24"]
    assert policy.max_response_bytes == 2048
    assert network.current_policy() == policy
    with pytest.raises(HttpTaskError, match="PERCH_HTTP_DENY_NETWORKS: 'nope' is not a network"):
        configure_from_environment({"PERCH_HTTP_DENY_NETWORKS": "10.0.0.0/8,nope"})
    with pytest.raises(HttpTaskError, match="PERCH_HTTP_MAX_RESPONSE_BYTES must be a number"):
        configure_from_environment({"PERCH_HTTP_MAX_RESPONSE_BYTES": "10MB"})
    assert configure_from_environment({}) == NetworkPolicy()


def test_every_resolved_address_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 80)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers)
    with pytest.raises(AddressRefused) as refused:
        resolve_checked("rebind.example", 80)
    assert str(refused.value).startswith(
        "Refused to connect to 169.254.169.254 (resolved from 'rebind.example') on port 80: "
    )
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: answers[:1])
    assert resolve_checked("fine.example", 80) == ["93.184.216.34"]


def test_a_dns_failure_names_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(NetworkFailure) as failure:
        resolve_checked("missing.example", 8443)
    assert str(failure.value) == (
        "Cannot resolve host 'missing.example' (port 8443): Name or service not known"
    )
