"""The people and machines that may call Perch: users, service accounts and their API tokens.

Plain frozen values, like the engine's: the store converts its rows to these and back. Secrets
never appear in clear: a user keeps an argon2 hash of the password, a token the SHA-256 of its
value (which is shown once, when it is created).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from perch.errors import IdentityError


@dataclass(frozen=True, slots=True)
class User:
    """A person who signs in with a username (or e-mail) and a password."""

    id: str
    username: str
    password_hash: str
    created: datetime
    email: str | None = None
    superadmin: bool = False
    disabled: bool = False
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class Session:
    """A signed-in browser: the web UI's cookie names it. Only the SHA-256 of the cookie's value
    is stored (``id``); ``csrf`` is the token its forms must send back."""

    id: str
    user_id: str
    csrf: str
    created: datetime
    last_seen: datetime
    expires: datetime
    address: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class Group:
    """Users of one tenant known together by a name: a HumanTask may be assigned to them."""

    id: str
    tenant: str
    name: str
    created: datetime
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Tenant:
    """An isolated part of one Perch: its own flows, executions, groups and accounts."""

    id: str
    name: str
    created: datetime


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """A machine identity of one tenant; it calls the API with its tokens."""

    id: str
    tenant: str
    name: str
    created: datetime
    description: str | None = None


@dataclass(frozen=True, slots=True)
class ApiToken:
    """A bearer token of a service account.

    ``prefix`` is the start of the token, kept so people can tell their tokens apart; the rest
    of the value is known only by its SHA-256 ``token_hash``.
    """

    id: str
    service_account_id: str
    name: str
    prefix: str
    token_hash: str
    created: datetime
    expires: datetime | None = None
    revoked: datetime | None = None
    last_used: datetime | None = None
    description: str | None = None

    def usable_at(self, now: datetime) -> bool:
        """Neither revoked nor expired at ``now``."""
        return self.revoked is None and (self.expires is None or now < self.expires)


MAX_NAME = 255

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_name(value: str, what: str) -> str:
    """``value`` without surrounding spaces; :class:`IdentityError` when it is empty, longer
    than :data:`MAX_NAME` or holds control characters (PostgreSQL cannot even store NUL)."""
    value = value.strip()
    if not value or len(value) > MAX_NAME or _CONTROL.search(value):
        raise IdentityError(f"the {what} must be 1 to {MAX_NAME} characters, without controls")
    return value


def clean_text(value: str | None) -> str | None:
    """A free text such as a description: None when blank; NUL characters refused."""
    if value is None or not value.strip():
        return None
    if "\x00" in value:
        raise IdentityError("the text contains a NUL character")
    return value


def storable(value: str) -> bool:
    """Whether ``value`` can be looked up at all (no stored key holds a NUL character)."""
    return "\x00" not in value
