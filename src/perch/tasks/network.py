"""Outbound network policy for tasks: which addresses they may connect to.

**The policy.** Tasks run requests that flow authors (and, through inputs, their users) aim
anywhere, so a request must not reach what the server's own network position exposes: the
cloud metadata services and the link-local networks they live on are refused by default. Each
host name is resolved here, *every* address it resolves to is checked, and the connection is
made to a checked address, never to a name resolved again later (a DNS answer that changes
between the check and the connection cannot slip through). Redirects open their connections
through the same check. Loopback stays allowed: the server talks to its own side services.

The server adds networks with :func:`configure_network` (``PERCH_HTTP_ALLOW_NETWORKS``,
``PERCH_HTTP_DENY_NETWORKS``): the most specific network that holds an address decides, a deny
winning a tie, so ``169.254.10.0/24`` in the allow list opens one link-local range and
``0.0.0.0/0`` in the deny list with ``10.1.0.0/16`` in the allow list permits only that one.

The HTTP client (:mod:`perch.tasks.httpclient`) and the mail task connect only to addresses
:func:`resolve_checked` returned; no proxy of the environment is used (a proxy would connect to
an unchecked address).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from perch.errors import AddressRefused, HttpTaskError, NetworkFailure

ALLOW_SETTING = "PERCH_HTTP_ALLOW_NETWORKS"
DENY_SETTING = "PERCH_HTTP_DENY_NETWORKS"
MAX_RESPONSE_SETTING = "PERCH_HTTP_MAX_RESPONSE_BYTES"

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_BUILT_IN: tuple[tuple[str, str], ...] = (
    ("169.254.0.0/16", "link-local, where cloud metadata services answer"),
    ("fe80::/10", "IPv6 link-local"),
    ("fd00:ec2::254/128", "the AWS metadata service over IPv6"),
    ("100.100.100.200/32", "the Alibaba Cloud metadata service"),
    ("192.0.0.192/32", "the Oracle Cloud metadata service"),
    ("0.0.0.0/8", "'this host' by another name"),
    ("::/128", "'this host' by another name"),
)
DEFAULT_DENIED: tuple[Network, ...] = tuple(ipaddress.ip_network(net) for net, _ in _BUILT_IN)
_WHY = {ipaddress.ip_network(net): why for net, why in _BUILT_IN}


def parse_networks(text: str | Iterable[str] | None, setting: str) -> tuple[Network, ...]:
    """Comma-separated CIDRs (or single addresses) as networks; a bad one raises naming
    ``setting``."""
    if text is None:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    networks: list[Network] = []
    for raw in items:
        item = raw.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise HttpTaskError(f"{setting}: '{item}' is not a network such as 10.0.0.0/8") from exc
    return tuple(networks)


def _plain(address: Address) -> Address:
    # ::ffff:169.254.169.254 reaches 169.254.169.254: judge it as the IPv4 address it is.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class NetworkPolicy:
    """Which addresses tasks may connect to, and how much of a response they may read."""

    allow: tuple[Network, ...] = ()
    deny: tuple[Network, ...] = ()
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def refusal(self, address: str) -> str | None:
        """Why ``address`` is refused, or ``None`` when it may be reached."""
        ip = _plain(ipaddress.ip_address(address.split("%", 1)[0]))
        best: tuple[int, int, str] | None = None  # (prefix length, deny wins ties, reason)
        for networks, verdict in ((self.allow, 0), (self.deny, 1), (DEFAULT_DENIED, 1)):
            for net in networks:
                if ip.version == net.version and ip in net:
                    if verdict == 0:
                        reason = ""
                    elif networks is self.deny:
                        reason = f"{net} is listed in {DENY_SETTING}"
                    else:
                        reason = (
                            f"{net} ({_WHY[net]}) is refused by default; "
                            f"allow it with {ALLOW_SETTING}"
                        )
                    candidate = (net.prefixlen, verdict, reason)
                    if best is None or candidate[:2] > best[:2]:
                        best = candidate
        if best is None or best[1] == 0:
            return None
        return best[2]


class _State:
    policy = NetworkPolicy()


_state = _State()


def configure_network(
    *,
    allow: str | Iterable[str] | None = None,
    deny: str | Iterable[str] | None = None,
    max_response_bytes: int | None = None,
) -> NetworkPolicy:
    """Set the policy of every outbound request of this process (the composition root calls
    this with the server's settings; tests call it too). No connection opened under the old
    policy is reused (the client's pool keeps the policy of each connection)."""
    size = DEFAULT_MAX_RESPONSE_BYTES if max_response_bytes is None else max_response_bytes
    if size <= 0:
        raise HttpTaskError(f"{MAX_RESPONSE_SETTING} must be a positive number of bytes")
    policy = NetworkPolicy(
        allow=parse_networks(allow, ALLOW_SETTING),
        deny=parse_networks(deny, DENY_SETTING),
        max_response_bytes=size,
    )
    _state.policy = policy
    return policy


def configure_from_environment(environ: dict[str, str] | os._Environ[str]) -> NetworkPolicy:
    """:func:`configure_network` from the ``PERCH_HTTP_*`` settings of ``environ``."""
    size = environ.get(MAX_RESPONSE_SETTING, "").strip()
    if size and not size.isdigit():
        raise HttpTaskError(f"{MAX_RESPONSE_SETTING} must be a number of bytes, not '{size}'")
    return configure_network(
        allow=environ.get(ALLOW_SETTING),
        deny=environ.get(DENY_SETTING),
        max_response_bytes=int(size) if size else None,
    )


def current_policy() -> NetworkPolicy:
    """The policy in force."""
    return _state.policy


def port_of(host: str, port: int) -> str:
    """``host:port``, an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def resolve_checked(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, each checked against the policy; raises
    :class:`AddressRefused` if any one is refused, :class:`NetworkFailure` if none."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NetworkFailure(
            f"Cannot resolve host '{host}' (port {port}): {exc.strerror or exc}"
        ) from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise NetworkFailure(f"Host '{host}' (port {port}) has no address")
    policy = _state.policy
    for address in addresses:
        reason = policy.refusal(address)
        if reason is not None:
            named = address if address == host else f"{address} (resolved from '{host}')"
            raise AddressRefused(f"Refused to connect to {named} on port {port}: {reason}")
    return addresses
