"""Who is calling: HTTP Basic (username or email, and password) or ``Authorization: Bearer``
with an API token. Every route but ``/health`` and ``/api/v1/configs`` depends on
:func:`authenticated`; until an administrator exists, nothing but the setup page answers.

Checking a password costs tens of milliseconds by design (argon2), so a successful Basic check
is remembered for a short while, keyed by a SHA-256 digest of login and password (the password
itself is never kept). A remembered check is only used after reading the user again by id: a
user disabled, deleted, renamed or given a new password (by this process or another) is refused
with the next request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import anyio.to_thread
from fastapi import Depends, HTTPException, Request
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)

from perch import identity
from perch.engine.ports import Store
from perch.engine.principal import Principal, PrincipalKind
from perch.errors import AccessError, AlreadyExists, Forbidden, SetupRequired, Unauthenticated
from perch.identity import User
from perch.identity.throttle import LoginThrottle

if TYPE_CHECKING:
    from perch.api.settings import ApiSettings


class _LenientBasic(HTTPBasic):
    """HTTP Basic whose malformed headers (bad base64, no colon) are one more wrong credential:
    the same 401 body and challenge as a wrong password, not FastAPI's own answer."""

    async def __call__(self, request: Request) -> HTTPBasicCredentials | None:  # type: ignore[override]
        try:
            return await super().__call__(request)
        except HTTPException as exc:
            raise Unauthenticated("Malformed Basic credentials") from exc


_basic = _LenientBasic(
    auto_error=False, realm="Perch", description="A user's username (or e-mail) and password"
)
_bearer = HTTPBearer(auto_error=False, description="An API token of a service account")


class Authenticator:
    """Turns credentials into a :class:`Principal` with :mod:`perch.identity`.

    Remembers what is safe to remember: that an administrator exists (once true, always true),
    and successful Basic checks for :data:`BASIC_TTL` seconds, keyed by a digest of the login
    and password. Failures are never remembered, and tokens are looked up on every request so
    a revocation takes effect at once (one indexed read; cheap next to argon2).
    """

    BASIC_TTL = 60.0
    TOUCH_EVERY = timedelta(minutes=1)
    LOGIN_EVERY = 3600.0
    """A user signing in again from the same address within this many seconds (Basic auth is
    checked on every request) is not recorded again as a ``LOGIN``."""
    _MAX_CACHED = 10_000

    def __init__(self, store: Store, settings: ApiSettings) -> None:
        self.store = store
        self.settings = settings
        self._ready = False
        self._lock = threading.Lock()
        # Serializes setup attempts, so two forms sent at once create one administrator.
        self._setup_lock = threading.Lock()
        self._basic: dict[bytes, tuple[float, User]] = {}
        # Password checks under way on the event loop, by credentials digest: requests with the
        # same credentials wait for that one check instead of each making (and being throttled
        # for) their own, as a burst would when its remembered check has just expired.
        self._checking: dict[bytes, anyio.Event] = {}
        self._touched: dict[str, datetime] = {}
        self._logins: dict[tuple[str, str | None], float] = {}
        self._setup_token = settings.setup_token
        self.throttle = LoginThrottle()

    def from_basic(self, login: str, password: str, address: str | None = None) -> Principal:
        """The user with this username (or e-mail) and password; :class:`Unauthenticated`
        otherwise, and :class:`~perch.errors.TooManyAttempts` (before any check) while the
        login or the client ``address`` has failed too often."""
        self.throttle.check(login, address)
        key, remembered = self._remembered(login, password)
        if remembered is not None and identity.still_signs_in(self.store, remembered):
            return self._known(login, remembered)
        user = self.throttle.run_check(self._verify, login, password, address)
        self._remember(key, user)
        return _principal(user)

    async def from_basic_async(
        self, login: str, password: str, address: str | None = None
    ) -> Principal:
        """:meth:`from_basic` for the event loop: only the password check leaves it, for one
        of the throttle's password-check threads, and no thread is held while it waits."""
        self.throttle.check(login, address)
        key, remembered = self._remembered(login, password)
        under_way = self._checking.get(key)
        if remembered is None and under_way is not None:
            await under_way.wait()
            key, remembered = self._remembered(login, password)
        if remembered is not None and await anyio.to_thread.run_sync(
            identity.still_signs_in, self.store, remembered
        ):
            return self._known(login, remembered)
        done = self._checking.setdefault(key, anyio.Event())
        try:
            user = await self.throttle.run_check_async(self._verify, login, password, address)
            self._remember(key, user)
        finally:
            if self._checking.get(key) is done:
                del self._checking[key]
                done.set()
        return _principal(user)

    def _remembered(self, login: str, password: str) -> tuple[bytes, User | None]:
        key = hashlib.sha256(f"{len(login)}:{login}:{password}".encode()).digest()
        cached = self._basic.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return key, cached[1]
        return key, None

    def _known(self, login: str, user: User) -> Principal:
        self.throttle.succeeded(login)
        return _principal(user)

    def _verify(self, login: str, password: str, address: str | None) -> User:
        # On a password-check thread. Checked again: failures counted while this caller
        # waited for its turn count too.
        self.throttle.check(login, address)
        try:
            user = identity.check_password(self.store, login, password, address=address)
        except Unauthenticated:
            self.throttle.failed(login, address)
            raise
        self.throttle.succeeded(login)
        self._signed_in(user, address)
        return user

    def _signed_in(self, user: User, address: str | None) -> None:
        now = time.monotonic()
        key = (user.id, address)
        with self._lock:
            last = self._logins.get(key)
            if last is not None and now - last < self.LOGIN_EVERY:
                return
            if len(self._logins) >= self._MAX_CACHED:
                self._logins = {k: t for k, t in self._logins.items() if now - t < self.LOGIN_EVERY}
            self._logins[key] = now
        identity.record_login(self.store, user, address)

    def _remember(self, key: bytes, user: User) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._basic) >= self._MAX_CACHED:
                self._basic = {k: v for k, v in self._basic.items() if v[0] > now}
                if len(self._basic) >= self._MAX_CACHED:
                    self._basic.clear()
            self._basic[key] = (now + self.BASIC_TTL, user)

    def from_token(self, token: str) -> Principal:
        """The service account owning this API token; :class:`Unauthenticated` when the token
        is unknown, expired or revoked."""
        now = datetime.now(UTC)
        principal, stored = identity.verify_token(self.store, token, now)
        last = self._touched.get(stored.id) or stored.last_used
        # Writing last_used on every request would turn each read into a write.
        if last is None or now - last >= self.TOUCH_EVERY:
            self._touched[stored.id] = now
            identity.record_token_use(self.store, stored.id, now)
        return principal

    def known_ready(self) -> bool:
        """Whether an administrator is known to exist, without asking the database."""
        return self._ready

    def ready(self) -> bool:
        """Whether an administrator exists (before that, only the setup page answers)."""
        if not self._ready:
            self._ready = identity.has_superadmin(self.store)
        return self._ready

    def create_admin(
        self, token: str, username: str, password: str, email: str | None = None
    ) -> Principal:
        """Create the first administrator with the one-time setup token, which then stops
        working. :class:`Forbidden` for a wrong token, :class:`AlreadyExists` once set up."""
        with self._setup_lock:
            if self.ready():
                raise AlreadyExists("Perch already has an administrator: sign in instead")
            expected = self._setup_token
            if expected is None or not secrets.compare_digest(token.encode(), expected.encode()):
                raise Forbidden("the setup token is not valid (see the server's output)")
            user = identity.create_user(
                store=self.store, username=username, password=password, email=email, superadmin=True
            )
            self._setup_token = None
            self._ready = True
        return Principal(user.username, PrincipalKind.USER)

    def from_header(self, authorization: str, address: str | None = None) -> Principal | None:
        """The principal of an ``Authorization`` header's value (Basic or Bearer), or ``None``
        when it is missing, malformed or refused (as a route would refuse it)."""
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        try:
            if not self.ready() or not value:
                return None
            if scheme.lower() == "bearer":
                return self.from_token(value)
            if scheme.lower() == "basic":
                decoded = base64.b64decode(value, validate=True).decode()
                login, colon, password = decoded.partition(":")
                return self.from_basic(login, password, address) if colon else None
        except (AccessError, binascii.Error, UnicodeDecodeError):
            return None
        return None

    def forget(self) -> None:
        """Drop remembered Basic checks (after a password change or a user is disabled)."""
        with self._lock:
            self._basic.clear()


async def authenticated(
    request: Request,
    basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The principal of this request; :class:`Unauthenticated` (401) without valid credentials.

    A coroutine, so that a request refused here never takes one of the shared request threads
    (a burst of bad sign-ins would otherwise make the event loop start dozens of them); what
    reads the database runs on one, and password checks on the throttle's own threads."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    authenticator: Authenticator = request.app.state.perch.authenticator
    if not authenticator.known_ready() and not await anyio.to_thread.run_sync(authenticator.ready):
        raise SetupRequired()
    if bearer is not None:
        principal = await anyio.to_thread.run_sync(authenticator.from_token, bearer.credentials)
    elif basic is not None:
        address = request.client.host if request.client else None
        principal = await authenticator.from_basic_async(basic.username, basic.password, address)
    else:
        raise Unauthenticated()
    request.state.principal = principal
    return principal


def _principal(user: User) -> Principal:
    return Principal(user.username, PrincipalKind.USER)


async def authorized(
    request: Request, principal: Annotated[Principal, Depends(authenticated)]
) -> Principal:
    """The principal with its grants in the request's tenant, as
    :func:`perch.api.authorize.authorize` (a dependency of every mounted route) left it."""
    found: Principal = getattr(request.state, "principal", principal)
    return found


PrincipalDep = Annotated[Principal, Depends(authorized)]
