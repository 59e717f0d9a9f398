"""The CLI against a running server: ``--server URL`` (or ``PERCH_SERVER``) sends each command to
Perch's REST API instead of opening the local data folder.

Credentials come from ``--token`` / ``PERCH_TOKEN`` (an API token, sent as ``Bearer``) or from
``PERCH_USERNAME`` and ``PERCH_PASSWORD`` (HTTP Basic). They are never printed, not even in
errors. The paths are Kestra's (``/api/v1/{tenant}/…``), so the same client talks to Kestra.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from rich.text import Text

from perch import __version__
from perch.cli.local import console, fail

ServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="PERCH_SERVER",
        help="Talk to the Perch server at this URL (e.g. http://localhost:8080) instead of "
        "the local data folder.",
        show_default=False,
    ),
]
TenantOption = Annotated[
    str, typer.Option("--tenant", envvar="PERCH_TENANT", help="The tenant to act in.")
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="PERCH_TOKEN",
        help="API token for --server (or set PERCH_USERNAME and PERCH_PASSWORD).",
        show_default=False,
    ),
]

INSTANCE_PREFIX = "/api/v1"
AUTH_HINT = "authentication failed: set PERCH_TOKEN or PERCH_USERNAME/PERCH_PASSWORD"
AUTH_REFUSED = "authentication failed: the server refused the {what} (check {names})"
# Kestra-shaped error messages start with a category ("Illegal state: …"); the CLI prints the
# rest, as it prints the same error in local mode.
_PREFIX = re.compile(
    r"^(Not Found|Illegal state|Illegal argument|Invalid entity|Conflict|Forbidden|"
    r"Unauthorized|Bad Request): "
)
_ERRNO = re.compile(r"^\[Errno -?\d+\]\s*")


@dataclass
class RemoteError(Exception):
    """A response the command did not expect: its status, message and per-item errors."""

    status: int
    message: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    body: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


def _error_of(response: httpx.Response) -> RemoteError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip() or response.reason_phrase
        return RemoteError(response.status_code, f"HTTP {response.status_code}: {text}")
    message = _PREFIX.sub("", str(body.get("message") or f"HTTP {response.status_code}"))
    errors = (body.get("_embedded") or {}).get("errors") or []
    return RemoteError(response.status_code, message, list(errors), body)


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError) and "refused" in text.lower():
        return "connection refused"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return _ERRNO.sub("", text)


class Remote:
    """An HTTP client of one tenant of a Perch (or Kestra) server."""

    def __init__(self, server: str, tenant: str, token: str | None, timeout: float = 60.0) -> None:
        self.server = server.rstrip("/")
        self.prefix = f"/api/v1/{quote(tenant, safe='')}"
        auth: httpx.Auth | None = None
        # The server records the channel of what this client does as CLI.
        headers: dict[str, str] = {"User-Agent": f"perch-cli/{__version__}"}
        username = os.environ.get("PERCH_USERNAME")
        password = os.environ.get("PERCH_PASSWORD")
        self._refused = AUTH_HINT
        if token:
            headers["Authorization"] = f"Bearer {token}"
            self._refused = AUTH_REFUSED.format(what="token", names="--token / PERCH_TOKEN")
        elif username and password is not None:
            auth = httpx.BasicAuth(username, password)
            self._refused = AUTH_REFUSED.format(
                what="username and password", names="PERCH_USERNAME / PERCH_PASSWORD"
            )
        self.client = httpx.Client(
            base_url=self.server, auth=auth, headers=headers, timeout=timeout
        )

    def close(self) -> None:
        self.client.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        ok: Iterable[int] = (200,),
        instance: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send a request under the tenant's prefix (under ``/api/v1`` alone with ``instance``,
        for users and tenants); any status not in ``ok`` is a :class:`RemoteError`. An
        unreachable server or refused credentials end the command."""
        prefix = INSTANCE_PREFIX if instance else self.prefix
        try:
            response = self.client.request(method, prefix + path, **kwargs)
        except httpx.TransportError as exc:
            fail(f"cannot reach Perch at {self.server}: {_reason(exc)}")
            raise  # unreachable: fail exits
        if response.status_code == 401:
            fail(self._refused)
        if response.status_code not in set(ok):
            raise _error_of(response)
        return response

    # -- flows

    def create_flow(self, source: str) -> dict[str, Any]:
        """Create a flow from YAML; a flow that exists already gets a new revision instead."""
        headers = {"Content-Type": "application/x-yaml"}
        try:
            return _object(self.call("POST", "/flows", content=source, headers=headers))
        except RemoteError as exc:
            # Kestra answers 422 "Flow id already exists" (some versions 409): update it then.
            exists = exc.status == 409 or (exc.status == 422 and "already exists" in exc.message)
            if not exists:
                raise
        namespace, flow_id = _flow_key(source)
        path = f"/flows/{quote(namespace, safe='')}/{quote(flow_id, safe='')}"
        return _object(self.call("PUT", path, content=source, headers=headers))

    def search_flows(self, namespace: str | None) -> list[dict[str, Any]]:
        """Every flow (latest revision), page by page."""
        return self._all("/flows/search", {"namespace": namespace} if namespace else {})

    # -- executions

    def create_execution(
        self,
        namespace: str,
        flow_id: str,
        inputs: Mapping[str, Any],
        labels: Mapping[str, Any],
        *,
        wait: bool = False,
    ) -> dict[str, Any]:
        params: list[tuple[str, str]] = [("labels", f"{k}:{v}") for k, v in labels.items()]
        if wait:
            params.append(("wait", "true"))
        path = f"/executions/{quote(namespace, safe='')}/{quote(flow_id, safe='')}"
        return _object(self.call("POST", path, params=params, **_multipart(inputs)))

    def get_execution(self, execution_id: str) -> dict[str, Any]:
        return _object(self.call("GET", f"/executions/{quote(execution_id, safe='')}"))

    def wait_settled(self, execution_id: str, timeout: float = 3600.0) -> dict[str, Any]:
        """Poll until the execution pauses or ends (or ``timeout`` passes)."""
        from perch.cli.views import execution_view_of_json

        deadline = time.monotonic() + timeout
        while True:
            body = self.get_execution(execution_id)
            if execution_view_of_json(body).settled or time.monotonic() > deadline:
                return body
            time.sleep(0.1)

    def search_executions(
        self, states: Sequence[str], namespace: str | None, flow_id: str | None, size: int
    ) -> tuple[list[dict[str, Any]], int]:
        """The newest ``size`` matches, and how many match in all."""
        params: list[tuple[str, str | int]] = [
            ("page", 1),
            ("size", size),
            ("sort", "state.startDate:desc"),
        ]
        params += [("state", state) for state in states]
        if namespace:
            params.append(("namespace", namespace))
        if flow_id:
            params.append(("flowId", flow_id))
        body = _object(self.call("GET", "/executions/search", params=params))
        return list(body.get("results") or []), int(body.get("total") or 0)

    def logs(self, execution_id: str) -> list[dict[str, Any]]:
        response = self.call("GET", f"/logs/{quote(execution_id, safe='')}")
        body = response.json()
        return list(body.get("results", [])) if isinstance(body, dict) else list(body)

    def resume(self, execution_id: str, inputs: Mapping[str, Any]) -> None:
        path = f"/executions/{quote(execution_id, safe='')}/resume"
        self.call("POST", path, ok=(200, 204), **_multipart(inputs))

    def resume_by_query(
        self, states: Sequence[str], namespace: str | None, flow_id: str | None
    ) -> tuple[int, list[tuple[str, str]]]:
        """Resume every PAUSED match: how many were resumed, and each match left alone and why."""
        params: dict[str, Any] = {"state": list(states)}
        if namespace:
            params["namespace"] = namespace
        if flow_id:
            params["flowId"] = flow_id
        body = _object(self.call("POST", "/executions/resume/by-query", params=params))
        invalids = body.get("invalids") or []
        skipped = [(str(i.get("invalidValue")), str(i.get("message"))) for i in invalids]
        return int(body.get("count") or 0), skipped

    def kill(self, execution_id: str) -> None:
        path = f"/executions/{quote(execution_id, safe='')}/kill"
        self.call("DELETE", path, ok=(200, 202, 204))

    def _all(self, path: str, params: Mapping[str, Any], size: int = 200) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            body = _object(self.call("GET", path, params={**params, "page": page, "size": size}))
            results = list(body.get("results") or [])
            found += results
            if not results or len(found) >= int(body.get("total") or 0):
                return found
            page += 1


def _object(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    if not isinstance(body, dict):
        raise RemoteError(response.status_code, f"unexpected answer: {response.text[:200]}")
    return body


def _multipart(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Values as ``multipart/form-data`` fields, as ``curl -F key=value`` sends them."""
    if not inputs:
        return {}
    return {"files": [(key, (None, str(value))) for key, value in inputs.items()]}


def _flow_key(source: str) -> tuple[str, str]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        document = YAML(typ="safe", pure=True).load(source)
    except YAMLError:
        document = None
    if not isinstance(document, dict) or not document.get("namespace") or not document.get("id"):
        raise RemoteError(422, "the flow has no namespace or id")
    return str(document["namespace"]), str(document["id"])


@contextmanager
def connect(server: str, tenant: str, token: str | None) -> Iterator[Remote]:
    """A client of ``server``; a :class:`RemoteError` escaping the block is reported (exit 1)."""
    remote = Remote(server, tenant, token)
    try:
        yield remote
    except RemoteError as exc:
        report_remote(exc)
    finally:
        remote.close()


def report_remote(exc: RemoteError) -> None:
    """Print a server's refusal as the local mode prints the same error, and exit 1."""
    err = console(stderr=True)
    if exc.status == 422 and exc.errors and any("input" in e for e in exc.errors):
        err.print(Text("error: invalid inputs", style="bold red"))
        for problem in exc.errors:
            name = str(problem.get("input") or problem.get("path") or "")
            err.print(Text.assemble("  ", (name, "bold"), ": ", str(problem.get("message"))))
        raise typer.Exit(1)
    if exc.status == 403:
        fail(f"forbidden: {exc.message}")
    err.print(Text(f"error: {exc.message}", style="bold red"))
    for problem in exc.errors:
        err.print(Text(f"  {problem.get('path') or ''}: {problem.get('message')}"))
    raise typer.Exit(1)
