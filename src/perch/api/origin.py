"""Where a request comes from, for the audit trail: the channel, the caller's address and
user agent, set once per request so every record it writes carries them.

The channel is ``API``, ``UI`` for the web UI's pages (under ``/ui/``), or ``CLI`` for Perch's
own command line (which says so in its ``User-Agent``). It says how the call arrived, not who
made it: the principal is what was authenticated.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from perch.engine.auditlog import AuditOrigin, Channel, audit_origin

CLI_AGENT = "perch-cli/"
"""The start of the ``User-Agent`` the CLI sends with ``--server``."""

_MAX_AGENT = 512


class AuditOrigins:
    """ASGI middleware: the request's :class:`AuditOrigin` for what it records."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        agent = next(
            (v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"user-agent"), None
        )
        agent = agent[:_MAX_AGENT] if agent else None
        client = scope.get("client")
        if str(scope.get("path", "")).startswith("/ui/"):
            channel = Channel.UI  # the web UI's pages share this application
        elif agent and agent.startswith(CLI_AGENT):
            channel = Channel.CLI
        else:
            channel = Channel.API
        origin = AuditOrigin(channel.value, client[0] if client else None, agent)
        with audit_origin(origin):
            await self.app(scope, receive, send)
