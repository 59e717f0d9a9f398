"""Protective headers on every HTML answer (the docs page, the setup page, any text/html)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The docs page runs Swagger UI from Perch's own assets with one inline start-up script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HTML_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


class HtmlHeaders:
    """ASGI middleware: an answer whose type is ``text/html`` gets :data:`HTML_HEADERS`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", []))
                kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                if kind.lower().startswith(b"text/html"):
                    present = {k.lower() for k, _ in headers}
                    headers.extend(h for h in HTML_HEADERS if h[0] not in present)
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
