"""How the API presents itself and what it accepts (a module of its own so that the
application, the authenticator and the request context all read it without importing each
other)."""

from __future__ import annotations

from dataclasses import dataclass

from perch.api.bodies import DEFAULT_LIMIT


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """How the API presents itself.

    ``public_url`` is the address people reach Perch at (it goes into the ``url`` of created
    executions and into setup links); ``None`` means the address the server is bound to,
    never the ``Host`` header of a request.
    ``setup_token`` is the one-time token of the setup page, set while no admin exists.
    ``max_body_size`` is the most bytes of request body an authenticated caller may send.
    """

    public_url: str | None = None
    setup_token: str | None = None
    version: str = "0.1.0"
    max_body_size: int = DEFAULT_LIMIT
