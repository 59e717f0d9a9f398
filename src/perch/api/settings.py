"""How the API presents itself and what it accepts (a module of its own so that the
application, the authenticator and the request context all read it without importing each
other)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from perch.api.bodies import DEFAULT_LIMIT
from perch.engine.ports import DEFAULT_COUNT_LIMIT
from perch.errors import PerchError


@dataclass(frozen=True, slots=True)
class ApiSettings:
    """How the API presents itself.

    ``public_url`` is the address people reach Perch at (it goes into the ``url`` of created
    executions and into setup links); ``None`` means the address the server is bound to,
    never the ``Host`` header of a request.
    ``setup_token`` is the one-time token of the setup page, set while no admin exists.
    ``max_body_size`` is the most bytes of request body an authenticated caller may send.
    ``exact_count_limit``: an execution search counts its total exactly up to this many
    matches; beyond, the total is an estimate and the answer says so (``totalEstimated``).
    """

    public_url: str | None = None
    setup_token: str | None = None
    version: str = "0.1.0"
    max_body_size: int = DEFAULT_LIMIT
    exact_count_limit: int = DEFAULT_COUNT_LIMIT


EXACT_COUNT_VARIABLE = "PERCH_SEARCH_EXACT_COUNT"
"""The environment variable setting :attr:`ApiSettings.exact_count_limit`."""
_MAX_EXACT_COUNT = 10_000_000


def exact_count_limit(environ: Mapping[str, str]) -> int:
    """``PERCH_SEARCH_EXACT_COUNT`` (a whole number from 0 to 10,000,000), or the default."""
    text = environ.get(EXACT_COUNT_VARIABLE, "").strip()
    if not text:
        return DEFAULT_COUNT_LIMIT
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= _MAX_EXACT_COUNT:
        raise PerchError(
            f"{EXACT_COUNT_VARIABLE} must be a whole number from 0 to {_MAX_EXACT_COUNT:,},"
            f" got {text!r}"
        )
    return value
