"""``io.kestra.plugin.core.http.Request``: call an HTTP endpoint."""

from __future__ import annotations

from typing import Any, ClassVar

from perch.flows.properties import DynBool, Text
from perch.flows.tasks.base import Task


class Request(Task):
    """Send an HTTP request to ``uri``; the response code, headers and body become outputs.

    ``options`` (timeouts, proxy, auth, ssl, followRedirects, allowFailed, …) is read as a
    mapping and interpreted by the task at run time.
    """

    type_names: ClassVar[tuple[str, ...]] = (
        "io.kestra.plugin.core.http.Request",
        "io.kestra.plugin.fs.http.Request",
    )

    uri: Text
    method: Text = "GET"
    body: Text | None = None
    formData: dict[str, Any] | None = None
    contentType: Text | None = None
    headers: dict[str, Text] | None = None
    options: dict[str, Any] | None = None
    sslOptions: dict[str, Any] | None = None
    allowFailed: DynBool | None = None
    encryptBody: DynBool = False


MODELS: tuple[type[Task], ...] = (Request,)
