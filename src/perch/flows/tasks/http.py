"""``io.kestra.plugin.core.http.Request``: call an HTTP endpoint, and the ``options`` shared by
the tasks that speak HTTP (Kestra's ``HttpConfiguration``).

Every option is a Kestra ``Property``: a literal checked when the flow is saved, or an
expression rendered when the task runs. Unknown option keys are errors with their path, like
any other property.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from perch.flows.properties import Choice, Duration, DynBool, DynInt, Text
from perch.flows.tasks.base import Task
from perch.modelbase import StrictModel


class TimeoutOptions(StrictModel):
    """How long to wait for a connection, and for the server between bytes."""

    connectTimeout: Duration | None = None
    readIdleTimeout: Duration | None = None


class BasicAuth(StrictModel):
    """HTTP Basic authentication."""

    type: Literal["BASIC"]
    username: Text | None = None
    password: Text | None = None


class BearerAuth(StrictModel):
    """An ``Authorization: Bearer <token>`` header."""

    type: Literal["BEARER"]
    token: Text | None = None


class DigestAuth(StrictModel):
    """HTTP Digest authentication (read, refused at run time: Perch does not speak it)."""

    type: Literal["DIGEST"]
    username: Text | None = None
    password: Text | None = None


Auth = Annotated[BasicAuth | BearerAuth | DigestAuth, Field(discriminator="type")]


class ProxyOptions(StrictModel):
    """A proxy (read, refused at run time: requests go straight to the checked address)."""

    type: Annotated[str, Choice("DIRECT", "HTTP", "SOCKS")] | None = None
    address: Text | None = None
    port: DynInt | None = None
    username: Text | None = None
    password: Text | None = None


class SslOptions(StrictModel):
    """TLS settings."""

    insecureTrustAllCertificates: DynBool | None = None


_LogType = Annotated[
    str, Choice("REQUEST_HEADERS", "REQUEST_BODY", "RESPONSE_HEADERS", "RESPONSE_BODY")
]


class HttpOptions(StrictModel):
    """Kestra's ``HttpConfiguration``: timeouts, auth, TLS, redirects and which response codes
    count as success; the flat fields at the end are its deprecated spellings."""

    timeout: TimeoutOptions | None = None
    proxy: ProxyOptions | None = None
    auth: Auth | None = None
    ssl: SslOptions | None = None
    followRedirects: DynBool | None = None
    allowFailed: DynBool | None = None
    allowedResponseCodes: list[DynInt] | Text | None = None
    defaultCharset: Text | None = None
    logs: list[_LogType] | None = None
    # deprecated spellings
    connectTimeout: Duration | None = None
    readTimeout: Duration | None = None
    readIdleTimeout: Duration | None = None
    connectionPoolIdleTimeout: Duration | None = None
    maxContentLength: DynInt | None = None
    basicAuthUser: Text | None = None
    basicAuthPassword: Text | None = None
    proxyType: Text | None = None
    proxyAddress: Text | None = None
    proxyPort: DynInt | None = None
    proxyUsername: Text | None = None
    proxyPassword: Text | None = None
    logLevel: Text | None = None


class Request(Task):
    """Send an HTTP request to ``uri``; the response code, headers and body become outputs."""

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.http.Request",
        "io.kestra.plugin.fs.http.Request",
    )

    uri: Text
    method: Text = "GET"
    body: Text | None = None
    formData: dict[str, object] | Text | None = None
    contentType: Text | None = None
    headers: dict[str, Text] | Text | None = None
    options: HttpOptions | None = None
    sslOptions: SslOptions | None = None
    allowFailed: DynBool | None = None
    encryptBody: DynBool = False


MODELS: tuple[type[Task], ...] = (Request,)
