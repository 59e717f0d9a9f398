"""Outbound HTTP for tasks: the network policy, and one guarded client every HTTP task uses.

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

**The client.** :func:`send` never reads more than the response size limit, always has
timeouts, follows redirects only when asked, ignores proxy variables of the environment (a
proxy would connect to an unchecked address), and gives up at once when the task is cancelled.
Every failure is a :class:`perch.errors.HttpTaskError` naming the host, the port and why.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx

from perch.errors import AddressRefused, HttpTaskError, NetworkFailure, ResponseTooLarge

ALLOW_SETTING = "PERCH_HTTP_ALLOW_NETWORKS"
DENY_SETTING = "PERCH_HTTP_DENY_NETWORKS"
MAX_RESPONSE_SETTING = "PERCH_HTTP_MAX_RESPONSE_BYTES"

DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 10
CANCEL_POLL_SECONDS = 0.05

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


class Cancelled(HttpTaskError):
    """The task was cancelled while its request ran."""


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
_clients: dict[bool, httpx.Client] = {}
_lock = threading.Lock()


def configure_network(
    *,
    allow: str | Iterable[str] | None = None,
    deny: str | Iterable[str] | None = None,
    max_response_bytes: int | None = None,
) -> NetworkPolicy:
    """Set the policy of every outbound request of this process (the composition root calls
    this with the server's settings; tests call it too). Open connections are dropped, so no
    connection checked under the old policy is reused."""
    size = DEFAULT_MAX_RESPONSE_BYTES if max_response_bytes is None else max_response_bytes
    if size <= 0:
        raise HttpTaskError(f"{MAX_RESPONSE_SETTING} must be a positive number of bytes")
    policy = NetworkPolicy(
        allow=parse_networks(allow, ALLOW_SETTING),
        deny=parse_networks(deny, DENY_SETTING),
        max_response_bytes=size,
    )
    with _lock:
        _state.policy = policy
        old = list(_clients.values())
        _clients.clear()
    for client in old:
        client.close()
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


def _port_of(host: str, port: int) -> str:
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


class _GuardedBackend(httpcore.NetworkBackend):
    """Connects only to addresses the policy allows, and to exactly the address it checked."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failures: list[str] = []
        for address in resolve_checked(host, port):
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except httpcore.ConnectTimeout:
                failures.append(f"{address}: no answer within {timeout:g} s")
            except httpcore.ConnectError as exc:
                failures.append(f"{address}: {_reason(exc)}")
        where = _port_of(host, port)
        raise httpcore.ConnectError(f"Cannot connect to {where}: {'; '.join(failures)}")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("Unix sockets are not reachable from tasks")


def _reason(exc: BaseException) -> str:
    cause = exc.__context__ or exc.__cause__
    if isinstance(cause, OSError) and cause.errno is not None:
        return os.strerror(cause.errno)
    return str(exc) or type(exc).__name__


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, *, verify: bool) -> None:
        super().__init__(verify=verify, trust_env=False)
        ssl_context = httpx.create_ssl_context(verify=verify, trust_env=False)
        # The same pool httpx builds, with a backend that checks every address it connects to.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(),
        )


def _client(verify: bool) -> httpx.Client:
    with _lock:
        client = _clients.get(verify)
        if client is None:
            client = _clients[verify] = httpx.Client(
                transport=_GuardedTransport(verify=verify),
                trust_env=False,
                max_redirects=MAX_REDIRECTS,
            )
        return client


@dataclass(frozen=True)
class Outbound:
    """One request to send: what :func:`send` needs besides the cancel flag."""

    method: str
    url: str
    headers: Sequence[tuple[str, str]] = ()
    content: bytes | None = None
    data: dict[str, str] | None = None
    files: Sequence[tuple[str, tuple[str, bytes, str]]] | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 300.0
    follow_redirects: bool = True
    verify: bool = True
    max_bytes: int | None = None
    """A lower limit than the server's for this request's response."""


@dataclass(frozen=True)
class Reply:
    """What came back: status, headers as received (name case kept), the body bytes, and the
    URL that answered (after redirects)."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    content: bytes
    url: str
    elapsed_seconds: float = 0.0

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case)."""
        lowered = name.lower()
        return next((value for key, value in self.headers if key.lower() == lowered), None)


@dataclass
class _Holder:
    done: threading.Event = field(default_factory=threading.Event)
    reply: Reply | None = None
    error: BaseException | None = None


def send(request: Outbound, cancelled: threading.Event | None = None) -> Reply:
    """Send ``request``; raises :class:`perch.errors.HttpTaskError` subclasses for every
    failure (refused address, network failure, oversized response) and :class:`Cancelled`
    as soon as ``cancelled`` is set (the exchange is abandoned; its timeouts end it)."""
    holder = _Holder()
    stop = cancelled or threading.Event()

    def exchange() -> None:
        try:
            holder.reply = _exchange(request, stop)
        except BaseException as exc:  # handed to the caller's thread
            holder.error = exc
        finally:
            holder.done.set()

    threading.Thread(target=exchange, name="perch-http", daemon=True).start()
    while not holder.done.wait(CANCEL_POLL_SECONDS):
        if stop.is_set():
            raise Cancelled("The task was cancelled while waiting for the HTTP response")
    if holder.error is not None:
        raise holder.error
    assert holder.reply is not None
    return holder.reply


def _exchange(request: Outbound, stop: threading.Event) -> Reply:
    limit = _state.policy.max_response_bytes
    if request.max_bytes is not None:
        limit = min(limit, request.max_bytes)
    client = _client(request.verify)
    timeout = httpx.Timeout(
        connect=request.connect_timeout,
        read=request.read_timeout,
        write=request.read_timeout,
        pool=request.connect_timeout,
    )
    try:
        built = client.build_request(
            request.method,
            request.url,
            headers=list(request.headers),
            content=request.content,
            data=request.data,
            files=list(request.files) if request.files else None,
            timeout=timeout,
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
        raise HttpTaskError(f"'{request.url}' is not a valid http(s) URL: {exc}") from exc
    if built.url.scheme not in ("http", "https"):
        raise HttpTaskError(f"'{request.url}' is not an http or https URL")
    try:
        response = client.send(built, stream=True, follow_redirects=False)
        hops = 0
        # httpx would read every redirect's body whole: follow them here, bodies unread.
        while request.follow_redirects and response.next_request is not None:
            hops += 1
            following = response.next_request
            response.close()
            if hops > MAX_REDIRECTS:
                raise httpx.TooManyRedirects("too many redirects", request=following)
            response = client.send(following, stream=True, follow_redirects=False)
        try:
            content = _read_limited(response, limit, stop)
        finally:
            response.close()
    except httpx.HTTPError as exc:
        raise _translated(exc, request) from exc
    return Reply(
        status=response.status_code,
        reason=response.reason_phrase,
        headers=tuple(
            (key.decode("latin-1"), value.decode("latin-1")) for key, value in response.headers.raw
        ),
        content=content,
        url=str(response.url),
        elapsed_seconds=response.elapsed.total_seconds(),
    )


def _too_large(size: str, limit: int, host: str) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"The response from {host} is {size}, over the limit of {limit} bytes "
        f"({MAX_RESPONSE_SETTING})"
    )


def _read_limited(response: httpx.Response, limit: int, stop: threading.Event) -> bytes:
    where = _port_of(response.url.host, response.url.port or _default_port(response.url))
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(f"{int(declared)} bytes", limit, where)
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    decoder: Any = None
    if encoding in ("gzip", "x-gzip"):
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decoder = zlib.decompressobj()
    elif encoding not in ("identity", ""):
        raise HttpTaskError(f"{where} answered with Content-Encoding '{encoding}', not supported")
    body = bytearray()
    for raw in response.iter_raw():
        if stop.is_set():
            raise Cancelled("The task was cancelled while reading the HTTP response")
        chunk = raw
        if decoder is not None:
            # Decompress at most one byte past the limit: a small bomb stays small.
            chunk = decoder.decompress(raw, limit - len(body) + 1)
            if decoder.unconsumed_tail:
                raise _too_large("larger once decompressed", limit, where)
        body += chunk
        if len(body) > limit:
            raise _too_large(f"more than {limit} bytes", limit, where)
    return bytes(body)


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


def _translated(exc: httpx.HTTPError, request: Outbound) -> HttpTaskError:
    try:
        url = exc.request.url
        where = _port_of(url.host, url.port or _default_port(url))
    except RuntimeError:  # no request attached
        where = request.url
    if isinstance(exc, httpx.ConnectTimeout):
        return NetworkFailure(
            f"Cannot connect to {where}: no answer within {request.connect_timeout:g} s"
        )
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        if not text.startswith("Cannot"):
            text = f"Cannot connect to {where}: {text}"
        return NetworkFailure(text)
    if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout | httpx.PoolTimeout):
        return NetworkFailure(
            f"{where} did not answer within {request.read_timeout:g} s (readTimeout)"
        )
    if isinstance(exc, httpx.TooManyRedirects):
        return NetworkFailure(f"More than {MAX_REDIRECTS} redirects, the last to {where}")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return NetworkFailure(f"The connection to {where} failed: {exc or type(exc).__name__}")
    return NetworkFailure(f"The request to {where} failed: {exc or type(exc).__name__}")
