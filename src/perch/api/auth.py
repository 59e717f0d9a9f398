"""Who is calling: HTTP Basic (username or email, and password) or ``Authorization: Bearer``
with an API token. Every route but ``/health`` and ``/api/v1/configs`` depends on
:func:`authenticated`; until an administrator exists, nothing but the setup page answers.

Checking a password costs tens of milliseconds by design (argon2), so a successful Basic check
is remembered for a short while, keyed by a digest of the header, never by the password.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)

from perch.engine.ports import Store
from perch.engine.principal import Principal
from perch.errors import SetupRequired, Unauthenticated

if TYPE_CHECKING:
    from perch.api.app import ApiSettings

_basic = HTTPBasic(
    auto_error=False, realm="Perch", description="A user's username (or e-mail) and password"
)
_bearer = HTTPBearer(auto_error=False, description="An API token of a service account")


class Authenticator:
    """Turns credentials into a :class:`Principal` (implemented with :mod:`perch.identity`)."""

    def __init__(self, store: Store, settings: ApiSettings) -> None:
        self.store = store
        self.settings = settings

    def from_basic(self, login: str, password: str) -> Principal:
        raise NotImplementedError  # filled in by the identity work

    def from_token(self, token: str) -> Principal:
        raise NotImplementedError

    def ready(self) -> bool:
        """Whether an administrator exists (before that, only the setup page answers)."""
        raise NotImplementedError


def authenticated(
    request: Request,
    basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The principal of this request; :class:`Unauthenticated` (401) without valid credentials."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    authenticator: Authenticator = request.app.state.perch.authenticator
    if not authenticator.ready():
        raise SetupRequired()
    if bearer is not None:
        principal = authenticator.from_token(bearer.credentials)
    elif basic is not None:
        principal = authenticator.from_basic(basic.username, basic.password)
    else:
        raise Unauthenticated()
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticated)]
