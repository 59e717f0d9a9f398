"""The HTTP/1.1 client of the HTTP tasks, on the standard library's ``http.client``.

:func:`send` opens every connection itself, to an address :func:`resolve_checked` allowed (never
to a name resolved again later), keeps connections alive between requests to the same origin,
follows redirects only when asked (each hop through the same check), never reads more than the
response size limit, and gives up at once when the task is cancelled: a connect waits in short
slices that look at the cancel flag, and a blocked read ends when a watcher thread shuts the
socket of a cancelled exchange. Every failure is a :class:`perch.errors.HttpTaskError` naming
the host, the port and why.

This is the hot path of notification tasks: one request costs a few hundred microseconds of
CPU here (a general-purpose client library spent about four times that).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import http.client
import os
import secrets
import select
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlencode, urljoin, urlsplit

from perch.errors import HttpTaskError, NetworkFailure, ResponseTooLarge
from perch.tasks.httpbody import has_header, multipart_body, without_headers
from perch.tasks.network import (
    MAX_RESPONSE_SETTING,
    NetworkPolicy,
    current_policy,
    port_of,
    resolve_checked,
)

MAX_REDIRECTS = 10
CANCEL_POLL_SECONDS = 0.05
KEEPALIVE_SECONDS = 5.0
MAX_IDLE_PER_ORIGIN = 20
CHUNK_BYTES = 64 * 1024
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


class Cancelled(HttpTaskError):
    """The task was cancelled while its request ran."""


@dataclass(frozen=True)
class Outbound:
    """One request to send: what :func:`send` needs besides the cancel flag.

    The body is ``content`` as it is, else ``data`` URL-encoded, else — when ``files`` is not
    ``None`` (an empty list included) — a multipart form of ``data``'s fields and ``files``."""

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


# --- URLs and bodies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str
    port: int
    path: str
    userinfo: tuple[str, str] | None

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port

    @property
    def where(self) -> str:
        return port_of(self.host, self.port)


def _target(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise HttpTaskError(f"'{url}' is not a valid http(s) URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise HttpTaskError(f"'{url}' is not an http or https URL")
    host = parts.hostname or ""
    if not host:
        raise HttpTaskError(f"'{url}' is not a valid http(s) URL: it names no host")
    if ":" not in host:
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise HttpTaskError(f"'{url}' is not a valid http(s) URL: bad host name") from exc
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_QUERY_SAFE)
    userinfo = None
    if parts.username is not None:
        userinfo = (unquote(parts.username), unquote(parts.password or ""))
    default = 443 if scheme == "https" else 80
    return _Target(url, scheme, host, port or default, path, userinfo)


def _encoded(request: Outbound) -> tuple[bytes | None, list[tuple[str, str]]]:
    headers = list(request.headers)
    if request.content is not None:
        return request.content, headers
    if request.files is not None:
        boundary = secrets.token_hex(16)
        headers = without_headers(headers, "content-type")
        headers.append(("Content-Type", f"multipart/form-data; boundary={boundary}"))
        return multipart_body(request.data or {}, request.files, boundary), headers
    if request.data is not None:
        if not has_header(headers, "content-type"):
            headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        return urlencode(request.data).encode(), headers
    return None, headers


# --- connections -------------------------------------------------------------------------------


class _Connection(http.client.HTTPConnection):
    """A connection over a socket opened (and checked) beforehand; it never reconnects."""

    def __init__(self, target: _Target, sock: socket.socket, policy: NetworkPolicy) -> None:
        super().__init__(target.host, target.port)
        self.default_port = 443 if target.scheme == "https" else 80
        self.auto_open = 0  # a closed connection raises instead of connecting unchecked
        self.sock = sock
        self.policy = policy
        self.idle_since = 0.0

    def connect(self) -> None:  # pragma: no cover - auto_open is off
        raise http.client.NotConnected("a closed task connection is never reopened")


def _dropped(sock: socket.socket | None) -> bool:
    """Whether an idle connection's peer closed it (or sent something unasked)."""
    if sock is None:
        return True
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


class _Pool:
    """Idle keep-alive connections by origin; a connection made under another network policy
    than the current one is never reused."""

    def __init__(self) -> None:
        self._idle: dict[tuple[str, str, int, bool], list[_Connection]] = {}
        self._lock = threading.Lock()

    def take(self, key: tuple[str, str, int, bool], policy: NetworkPolicy) -> _Connection | None:
        stale: list[_Connection] = []
        found: _Connection | None = None
        now = time.monotonic()
        with self._lock:
            idle = self._idle.get(key)
            while idle:
                candidate = idle.pop()
                fresh = now - candidate.idle_since < KEEPALIVE_SECONDS
                if candidate.policy is policy and fresh and not _dropped(candidate.sock):
                    found = candidate
                    break
                stale.append(candidate)
        for connection in stale:
            connection.close()
        return found

    def give(self, key: tuple[str, str, int, bool], connection: _Connection) -> None:
        connection.idle_since = time.monotonic()
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < MAX_IDLE_PER_ORIGIN:
                idle.append(connection)
                return
        connection.close()


_pool = _Pool()


class _Watch:
    """Shuts the socket of an exchange whose task was cancelled: a blocked read ends at once.
    One thread for the process, looking every :data:`CANCEL_POLL_SECONDS` while exchanges run."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[threading.Event, socket.socket]] = {}
        self._next = 0
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, stop: threading.Event, sock: socket.socket) -> int:
        with self._wake:
            self._next += 1
            self._entries[self._next] = (stop, sock)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="perch-http-cancel")
                self._thread.daemon = True
                self._thread.start()
            self._wake.notify()
            return self._next

    def remove(self, token: int) -> None:
        with self._wake:
            self._entries.pop(token, None)

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._entries:
                    self._wake.wait()
                watched = list(self._entries.values())
            for stop, sock in watched:
                if stop.is_set():
                    with contextlib.suppress(OSError):  # the plain socket's, under any TLS
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)
            time.sleep(CANCEL_POLL_SECONDS)


_watch = _Watch()


def _tls_context(verify: bool) -> ssl.SSLContext:
    if not verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        import certifi

        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:  # pragma: no cover - certifi comes with the dependencies
        return ssl.create_default_context()


_contexts: dict[bool, ssl.SSLContext] = {}


class _ConnectTimeout(Exception):
    pass


def _connect_one(address: str, port: int, timeout: float, stop: threading.Event) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        code = sock.connect_ex((address, port))
        deadline = time.monotonic() + timeout
        poller = select.poll()
        poller.register(sock, select.POLLOUT | select.POLLERR | select.POLLHUP)
        while code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            if stop.is_set():
                raise Cancelled("The task was cancelled while connecting")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _ConnectTimeout
            if poller.poll(min(remaining, CANCEL_POLL_SECONDS) * 1000):
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            raise OSError(code, os.strerror(code))
        sock.setblocking(True)
        return sock
    except BaseException:
        sock.close()
        raise


def _open(target: _Target, request: Outbound, stop: threading.Event) -> socket.socket:
    failures: list[str] = []
    timeout = request.connect_timeout
    for address in resolve_checked(target.host, target.port):
        try:
            sock = _connect_one(address, target.port, timeout, stop)
            break
        except _ConnectTimeout:
            failures.append(f"{address}: no answer within {timeout:g} s")
        except OSError as exc:
            failures.append(f"{address}: {os.strerror(exc.errno) if exc.errno else exc}")
    else:
        raise NetworkFailure(f"Cannot connect to {target.where}: {'; '.join(failures)}")
    if target.scheme == "http":
        return sock
    context = _contexts.get(request.verify)
    if context is None:
        context = _contexts[request.verify] = _tls_context(request.verify)
    token = _watch.add(stop, sock)
    try:
        sock.settimeout(timeout)
        return context.wrap_socket(sock, server_hostname=target.host)
    except ssl.SSLCertVerificationError as exc:
        sock.close()
        why = exc.verify_message or exc.reason or "certificate verify failed"
        raise NetworkFailure(f"Cannot connect to {target.where}: TLS: {why}") from exc
    except (OSError, ssl.SSLError) as exc:
        sock.close()
        if stop.is_set():
            raise Cancelled("The task was cancelled while connecting") from exc
        if isinstance(exc, TimeoutError):
            raise NetworkFailure(
                f"Cannot connect to {target.where}: no TLS handshake within {timeout:g} s"
            ) from exc
        raise NetworkFailure(f"Cannot connect to {target.where}: TLS: {exc}") from exc
    finally:
        _watch.remove(token)


# --- one exchange ------------------------------------------------------------------------------


@dataclass
class _Open:
    """A response whose headers arrived, on its connection, with its cancel watch."""

    response: http.client.HTTPResponse
    connection: _Connection
    key: tuple[str, str, int, bool]
    token: int
    elapsed: float

    def release(self, reusable: bool) -> None:
        _watch.remove(self.token)
        if reusable and not self.response.will_close and self.connection.sock is not None:
            _pool.give(self.key, self.connection)
        else:
            self.response.close()  # its reader holds the socket open too
            self.connection.close()


def _failure(exc: BaseException, target: _Target, request: Outbound) -> HttpTaskError:
    if isinstance(exc, TimeoutError):
        return NetworkFailure(
            f"{target.where} did not answer within {request.read_timeout:g} s (readTimeout)"
        )
    text = str(exc) or type(exc).__name__
    return NetworkFailure(f"The connection to {target.where} failed: {text}")


def _head_lines(
    target: _Target, method: str, headers: list[tuple[str, str]], body: bytes | None
) -> list[tuple[str, str]]:
    lines = list(headers)
    if target.userinfo is not None and not has_header(lines, "authorization"):
        user, password = target.userinfo
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        lines.append(("Authorization", f"Basic {token}"))
    if not has_header(lines, "accept"):
        lines.append(("Accept", "*/*"))
    if not has_header(lines, "accept-encoding"):
        lines.append(("Accept-Encoding", "gzip, deflate"))
    if not has_header(lines, "user-agent"):
        lines.append(("User-Agent", "Perch"))
    lines = without_headers(lines, "content-length", "transfer-encoding", "connection")
    if body is not None:
        lines.append(("Content-Length", str(len(body))))
    elif method in ("POST", "PUT", "PATCH"):
        lines.append(("Content-Length", "0"))
    return lines


def _round_trip(
    target: _Target,
    method: str,
    headers: list[tuple[str, str]],
    body: bytes | None,
    *,
    request: Outbound,
    stop: threading.Event,
) -> _Open:
    key = (target.scheme, target.host, target.port, request.verify)
    policy = current_policy()
    lines = _head_lines(target, method, headers, body)
    for fresh in (False, True):
        connection = None if fresh else _pool.take(key, policy)
        reused = connection is not None
        if connection is None:
            connection = _Connection(target, _open(target, request, stop), policy)
        sock = connection.sock
        assert sock is not None
        token = _watch.add(stop, sock)
        began = time.perf_counter()
        try:
            sock.settimeout(request.read_timeout)
            connection.putrequest(
                method, target.path, skip_host=has_header(lines, "host"), skip_accept_encoding=True
            )
            for name, value in lines:
                connection.putheader(name, value)
            connection.endheaders(body)
            response = connection.getresponse()
        except ValueError as exc:  # a header name or value http.client refuses
            _watch.remove(token)
            connection.close()
            raise HttpTaskError(f"The request to {target.where} is not valid: {exc}") from exc
        except (OSError, http.client.HTTPException) as exc:
            _watch.remove(token)
            connection.close()
            if stop.is_set():
                raise Cancelled(
                    "The task was cancelled while waiting for the HTTP response"
                ) from exc
            nothing_came = isinstance(
                exc, http.client.RemoteDisconnected | BrokenPipeError | ConnectionResetError
            )
            if reused and nothing_came:
                continue  # the peer closed an idle connection just now: once more, on a new one
            raise _failure(exc, target, request) from exc
        return _Open(response, connection, key, token, time.perf_counter() - began)
    raise AssertionError("unreachable")  # pragma: no cover


def _too_large(size: str, limit: int, where: str) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"The response from {where} is {size}, over the limit of {limit} bytes "
        f"({MAX_RESPONSE_SETTING})"
    )


def _read_limited(
    opened: _Open, target: _Target, request: Outbound, limit: int, stop: threading.Event
) -> bytes:
    response = opened.response
    where = target.where
    declared = (response.getheader("content-length") or "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(f"{int(declared)} bytes", limit, where)
    encoding = (response.getheader("content-encoding") or "identity").strip().lower()
    decoder: Any = None
    if encoding in ("gzip", "x-gzip"):
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        decoder = zlib.decompressobj()
    elif encoding not in ("identity", ""):
        raise HttpTaskError(f"{where} answered with Content-Encoding '{encoding}', not supported")
    body = bytearray()
    while True:
        try:
            raw = response.read1(CHUNK_BYTES)
        except (OSError, http.client.HTTPException) as exc:
            if stop.is_set():
                raise Cancelled("The task was cancelled while reading the HTTP response") from exc
            raise _failure(exc, target, request) from exc
        if stop.is_set():
            raise Cancelled("The task was cancelled while reading the HTTP response")
        if not raw:
            if not response.isclosed():
                response.read()  # the end of a sized body: marks the connection free again
            break
        chunk = raw
        if decoder is not None:
            try:
                # Decompress at most one byte past the limit: a small bomb stays small.
                chunk = decoder.decompress(raw, limit - len(body) + 1)
            except zlib.error as exc:
                raise HttpTaskError(f"The {encoding} body from {where} is corrupt: {exc}") from exc
            if decoder.unconsumed_tail:
                raise _too_large("larger once decompressed", limit, where)
        body += chunk
        if len(body) > limit:
            raise _too_large(f"more than {limit} bytes", limit, where)
    return bytes(body)


def _redirected(
    target: _Target,
    status: int,
    location: str,
    *,
    method: str,
    body: bytes | None,
    headers: list[tuple[str, str]],
) -> tuple[_Target, str, bytes | None, list[tuple[str, str]]]:
    following = _target(urljoin(target.url, location.strip()))
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, body = "GET", None
        headers = without_headers(headers, "content-type")
    if following.origin != target.origin:
        headers = without_headers(headers, "authorization", "cookie")
    return following, method, body, headers


def _exchange(request: Outbound, stop: threading.Event) -> Reply:
    limit = current_policy().max_response_bytes
    if request.max_bytes is not None:
        limit = min(limit, request.max_bytes)
    target = _target(request.url)
    method = request.method
    body, headers = _encoded(request)
    hops = 0
    elapsed = 0.0
    while True:
        opened = _round_trip(target, method, headers, body, request=request, stop=stop)
        elapsed += opened.elapsed
        response = opened.response
        location = response.getheader("location")
        if request.follow_redirects and response.status in REDIRECT_CODES and location:
            opened.release(reusable=False)  # the redirect's body is never read
            target, method, body, headers = _redirected(
                target, response.status, location, method=method, body=body, headers=headers
            )
            hops += 1
            if hops > MAX_REDIRECTS:
                raise NetworkFailure(
                    f"More than {MAX_REDIRECTS} redirects, the last to {target.where}"
                )
            continue
        reusable = False
        try:
            content = _read_limited(opened, target, request, limit, stop)
            reusable = True
        finally:
            opened.release(reusable)
        return Reply(
            status=response.status,
            reason=response.reason or "",
            headers=tuple(response.getheaders()),
            content=content,
            url=target.url,
            elapsed_seconds=elapsed,
        )


def send(request: Outbound, cancelled: threading.Event | None = None) -> Reply:
    """Send ``request``; raises :class:`perch.errors.HttpTaskError` subclasses for every
    failure (refused address, network failure, oversized response) and :class:`Cancelled`
    as soon as ``cancelled`` is set."""
    stop = cancelled or threading.Event()
    if stop.is_set():
        raise Cancelled("The task was cancelled before its HTTP request was sent")
    return _exchange(request, stop)
