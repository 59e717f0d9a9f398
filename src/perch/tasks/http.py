"""``io.kestra.plugin.core.http.Request``: one HTTP request, its answer as outputs.

The body is ``body`` (sent with ``contentType``, JSON by default) or ``formData``: URL-encoded,
or with ``contentType: multipart/form-data`` a multipart form whose ``kestra://`` values (a FILE
input, a task's output file) are sent as file parts, ``{name, content}`` naming the file.
Outputs are Kestra's: ``uri``, ``code``, ``headers`` (each name to its list of values) and
``body`` (the text; a JSON answer decoded). A code of 400 or more fails the task unless
``options.allowFailed`` or ``options.allowedResponseCodes`` says otherwise; a network failure
fails the attempt, so the task's ``retry`` and ``timeout`` apply.
"""

from __future__ import annotations

import json
import mimetypes
import re
from typing import Any

from perch.engine.states import StateType
from perch.errors import HttpTaskError
from perch.flows.tasks.http import Request
from perch.tasks.context import RunContext, TaskOutcome
from perch.tasks.files import read_file
from perch.tasks.httpclient import Cancelled, Outbound, Reply, send
from perch.tasks.httpoptions import ClientSettings, request_settings

DEFAULT_CONTENT_TYPE = "application/json"
MULTIPART = "multipart/form-data"
FILE_SCHEME = "kestra://"
ERROR_BODY_CHARS = 200

_METHOD = re.compile(r"^[A-Z][A-Z0-9_-]{0,31}$")
_JSON_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json$", re.IGNORECASE)


def _field_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _file_part(context: RunContext, key: str, value: Any) -> tuple[str, tuple[str, bytes, str]]:
    if isinstance(value, dict):
        name, uri = str(value.get("name") or ""), str(value.get("content") or "")
    else:
        uri = str(value)
        name = uri.rstrip("/").rsplit("/", 1)[-1]
    if not uri.startswith(FILE_SCHEME):
        raise HttpTaskError(f"formData.{key}: 'content' must be a kestra:// file URI")
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return key, (name or key, read_file(context, uri), kind)


def _form(
    context: RunContext, task: Request, content_type: str | None
) -> tuple[dict[str, str], list[tuple[str, tuple[str, bytes, str]]]]:
    rendered = context.render(task.formData)
    if not isinstance(rendered, dict):
        raise HttpTaskError("formData must be a map of field names to values")
    fields: dict[str, str] = {}
    files: list[tuple[str, tuple[str, bytes, str]]] = []
    multipart = (content_type or "").split(";")[0].strip().lower() == MULTIPART
    for key, value in rendered.items():
        is_file = (isinstance(value, str) and value.startswith(FILE_SCHEME)) or (
            isinstance(value, dict) and "name" in value and "content" in value
        )
        if multipart and is_file:
            files.append(_file_part(context, str(key), value))
        else:
            fields[str(key)] = _field_text(value)
    return fields, files


def _headers(context: RunContext, task: Request) -> list[tuple[str, str]]:
    if task.headers is None:
        return []
    rendered = context.render(task.headers)
    if not isinstance(rendered, dict):
        raise HttpTaskError("headers must be a map of header names to values")
    return [(str(name), _field_text(value)) for name, value in rendered.items()]


def _has(headers: list[tuple[str, str]], name: str) -> bool:
    return any(key.lower() == name for key, _ in headers)


def _outbound(context: RunContext, task: Request, settings: ClientSettings) -> Outbound:
    uri = context.render_text(task.uri).strip().replace(" ", "%20")
    method = context.render_text(task.method).strip().upper()
    if not _METHOD.match(method):
        raise HttpTaskError(f"'{method}' is not an HTTP method")
    headers = _headers(context, task)
    if settings.authorization is not None and not _has(headers, "authorization"):
        headers.append(("Authorization", settings.authorization))
    content_type = None if task.contentType is None else context.render_text(task.contentType)
    content: bytes | None = None
    data: dict[str, str] | None = None
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    if task.formData is not None:
        data, found = _form(context, task, content_type)
        if found or (content_type or "").split(";")[0].strip().lower() == MULTIPART:
            files = found  # a multipart form, its Content-Type written with its boundary
    elif task.body is not None:
        content = context.render_text(task.body).encode(settings.charset)
        if not _has(headers, "content-type"):
            headers.append(("Content-Type", content_type or DEFAULT_CONTENT_TYPE))
    elif content_type is not None and not _has(headers, "content-type"):
        headers.append(("Content-Type", content_type))
    return Outbound(
        method=method,
        url=uri,
        headers=headers,
        content=content,
        data=data,
        files=files,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        follow_redirects=settings.follow_redirects,
        verify=settings.verify,
        max_bytes=settings.max_bytes,
    )


def response_text(reply: Reply, charset: str) -> str:
    """The response body as text, in the charset its Content-Type names (else ``charset``)."""
    content_type = reply.header("content-type") or ""
    match = re.search(r"charset=\"?([\w.:-]+)", content_type, re.IGNORECASE)
    name = match.group(1) if match else charset
    try:
        return reply.content.decode(name)
    except LookupError:
        return reply.content.decode(charset, errors="replace")
    except UnicodeDecodeError as exc:
        raise HttpTaskError(
            f"The response body is not valid {name} text (byte {exc.start}); "
            "the Request task keeps text bodies only"
        ) from exc


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def decoded_body(reply: Reply, text: str) -> Any:
    """``text`` decoded when the response says it is JSON (kept as text if it is not)."""
    content_type = (reply.header("content-type") or "").split(";")[0].strip()
    if not _JSON_TYPE.match(content_type):
        return text
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return text


def failure_message(method: str, uri: str, reply: Reply, text: str, why: str = "") -> str:
    """What a refused response code says: the code, and the start of the body."""
    snippet = " ".join(text.split())
    if len(snippet) > ERROR_BODY_CHARS:
        snippet = snippet[:ERROR_BODY_CHARS] + "…"
    reason = f" {reply.reason}" if reply.reason else ""
    shown = snippet or "(empty body)"
    return f"{method} {uri} failed with response code {reply.status}{reason}{why}: {shown}"


def run_request(task: Request, context: RunContext) -> TaskOutcome:
    """Send the request; its answer as the outputs ``uri``, ``code``, ``headers``, ``body``."""
    settings = request_settings(context, task.options, task.sslOptions, task.allowFailed)
    outbound = _outbound(context, task, settings)
    try:
        reply = send(outbound, context.cancelled)
    except Cancelled as exc:
        return TaskOutcome(StateType.KILLED, error=str(exc))
    text = response_text(reply, settings.charset) if reply.content else ""
    if not settings.accepts(reply.status):
        why = ""
        if settings.allowed_codes:
            allowed = ", ".join(str(code) for code in settings.allowed_codes)
            why = f" (allowedResponseCodes: {allowed})"
        return TaskOutcome(
            StateType.FAILED, error=failure_message(outbound.method, outbound.url, reply, text, why)
        )
    headers: dict[str, list[str]] = {}
    for name, value in reply.headers:
        headers.setdefault(name, []).append(value)
    return TaskOutcome(
        StateType.SUCCESS,
        outputs={
            "uri": outbound.url,
            "code": reply.status,
            "headers": headers,
            "body": decoded_body(reply, text) if reply.content else None,
        },
    )
