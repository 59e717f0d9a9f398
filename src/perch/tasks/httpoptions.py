"""The ``options`` of the HTTP tasks, rendered into what one request needs.

``http.Request`` takes Kestra's ``HttpConfiguration`` (:class:`perch.flows.tasks.http.HttpOptions`),
the Slack and Teams tasks its smaller ``RequestOptions``; both end up as a
:class:`ClientSettings`. Durations are ISO-8601 (``PT5S``); a setting that cannot be honoured
(a proxy, Digest auth) fails the task rather than being ignored.
"""

from __future__ import annotations

import base64
import codecs
from dataclasses import dataclass
from typing import Any

from perch.durations import parse_duration
from perch.errors import HttpTaskError, InvalidDuration
from perch.flows.tasks.http import BasicAuth, BearerAuth, HttpOptions, SslOptions
from perch.flows.tasks.notifications import RequestOptions
from perch.tasks.context import RunContext
from perch.templating.values import truthy

DEFAULT_CONNECT_SECONDS = 10.0
REQUEST_READ_SECONDS = 300.0
"""Kestra's default ``readIdleTimeout`` (PT5M)."""
WEBHOOK_READ_SECONDS = 10.0
"""Kestra's default ``readTimeout`` of the notification tasks (PT10S)."""


@dataclass(frozen=True)
class ClientSettings:
    """One request's client settings, rendered."""

    connect_timeout: float = DEFAULT_CONNECT_SECONDS
    read_timeout: float = REQUEST_READ_SECONDS
    follow_redirects: bool = True
    verify: bool = True
    allow_failed: bool = False
    allowed_codes: tuple[int, ...] = ()
    max_bytes: int | None = None
    charset: str = "utf-8"
    authorization: str | None = None
    headers: tuple[tuple[str, str], ...] = ()

    def accepts(self, status: int) -> bool:
        """Whether ``status`` counts as success (Kestra's rule: ``allowedResponseCodes`` when
        given, else any code with ``allowFailed``, else below 400)."""
        if self.allowed_codes:
            return status in self.allowed_codes
        return self.allow_failed or status < 400


def _text(context: RunContext, value: Any) -> str | None:
    return None if value is None else context.render_text(value)


def _seconds(context: RunContext, value: Any, name: str) -> float | None:
    text = _text(context, value)
    if text is None or not text.strip():
        return None
    try:
        seconds = parse_duration(text.strip()).total_seconds()
    except InvalidDuration as exc:
        raise HttpTaskError(f"options.{name}: {exc}") from exc
    if seconds <= 0:
        raise HttpTaskError(f"options.{name} must be a positive duration, not {text}")
    return seconds


def _flag(context: RunContext, value: Any) -> bool | None:
    return None if value is None else truthy(context.render(value))


def _number(context: RunContext, value: Any, name: str) -> int | None:
    if value is None:
        return None
    rendered = context.render(value)
    try:
        number = int(str(rendered).strip())
    except ValueError:
        raise HttpTaskError(f"{name} must be a whole number, not '{rendered}'") from None
    return number


def _charset(context: RunContext, value: Any) -> str:
    name = _text(context, value)
    if not name:
        return "utf-8"
    try:
        return codecs.lookup(name.strip()).name
    except LookupError:
        raise HttpTaskError(f"options.defaultCharset: unknown charset '{name}'") from None


def _codes(context: RunContext, value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    rendered = context.render(value)
    items = rendered if isinstance(rendered, list) else [rendered]
    codes: list[int] = []
    for item in items:
        code = _number(context, item, "options.allowedResponseCodes")
        if code is not None:
            codes.append(code)
    return tuple(codes)


def _basic(user: str | None, password: str | None) -> str:
    token = base64.b64encode(f"{user or ''}:{password or ''}".encode()).decode("ascii")
    return f"Basic {token}"


def _authorization(context: RunContext, options: HttpOptions) -> str | None:
    auth = options.auth
    if isinstance(auth, BasicAuth):
        return _basic(_text(context, auth.username), _text(context, auth.password))
    if isinstance(auth, BearerAuth):
        token = _text(context, auth.token)
        if not token:
            raise HttpTaskError("options.auth: a BEARER auth needs a token")
        return f"Bearer {token}"
    if auth is not None:
        raise HttpTaskError("options.auth: DIGEST authentication is not supported by Perch")
    if options.basicAuthUser is not None or options.basicAuthPassword is not None:
        return _basic(
            _text(context, options.basicAuthUser), _text(context, options.basicAuthPassword)
        )
    return None


def _first(*values: float | None, default: float) -> float:
    return next((value for value in values if value is not None), default)


def request_settings(
    context: RunContext,
    options: HttpOptions | None,
    ssl_options: SslOptions | None = None,
    allow_failed: Any = None,
) -> ClientSettings:
    """The settings of ``http.Request`` from its ``options`` (and the deprecated top-level
    ``sslOptions`` and ``allowFailed``)."""
    options = options or HttpOptions()
    if options.proxy is not None or options.proxyAddress is not None:
        raise HttpTaskError(
            "options.proxy is not supported by Perch: requests go straight to their server"
        )
    timeout = options.timeout
    connect = _first(
        _seconds(context, timeout.connectTimeout if timeout else None, "timeout.connectTimeout"),
        _seconds(context, options.connectTimeout, "connectTimeout"),
        default=DEFAULT_CONNECT_SECONDS,
    )
    read = _first(
        _seconds(context, timeout.readIdleTimeout if timeout else None, "timeout.readIdleTimeout"),
        _seconds(context, options.readTimeout, "readTimeout"),
        _seconds(context, options.readIdleTimeout, "readIdleTimeout"),
        default=REQUEST_READ_SECONDS,
    )
    ssl = options.ssl or ssl_options
    insecure = _flag(context, ssl.insecureTrustAllCertificates) if ssl else None
    failed = _flag(context, options.allowFailed)
    if failed is None:
        failed = _flag(context, allow_failed)
    follow = _flag(context, options.followRedirects)
    return ClientSettings(
        connect_timeout=connect,
        read_timeout=read,
        follow_redirects=True if follow is None else follow,
        verify=not insecure,
        allow_failed=bool(failed),
        allowed_codes=_codes(context, options.allowedResponseCodes),
        max_bytes=_number(context, options.maxContentLength, "options.maxContentLength"),
        charset=_charset(context, options.defaultCharset),
        authorization=_authorization(context, options),
    )


def webhook_settings(context: RunContext, options: RequestOptions | None) -> ClientSettings:
    """The settings of the Slack and Teams tasks from their ``options``."""
    options = options or RequestOptions()
    connect = _first(
        _seconds(context, options.connectTimeout, "connectTimeout"),
        default=DEFAULT_CONNECT_SECONDS,
    )
    read = _first(
        _seconds(context, options.readTimeout, "readTimeout"), default=WEBHOOK_READ_SECONDS
    )
    headers = tuple(
        (str(name), context.render_text(value)) for name, value in (options.headers or {}).items()
    )
    return ClientSettings(
        connect_timeout=connect,
        read_timeout=read,
        max_bytes=_number(context, options.maxContentLength, "options.maxContentLength"),
        charset=_charset(context, options.defaultCharset),
        headers=headers,
    )
