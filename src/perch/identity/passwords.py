"""Password hashing with argon2id (argon2-cffi's recommended parameters).

A wrong login must cost as much as a right one: when no user matches, the password is still
checked against a fixed hash, so response times do not tell which usernames exist.
"""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from perch.errors import WeakPassword

MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()


def check_strength(password: str) -> None:
    """:class:`WeakPassword` unless the password has at least :data:`MIN_PASSWORD_LENGTH`
    characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters"
        )


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted; includes its own parameters)."""
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (argon2 compares in constant time)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _decoy_hash() -> str:
    return _hasher.hash("a password nobody has: only its verification time matters")


def spend_a_verification(password: str) -> None:
    """Verify ``password`` against a decoy hash: the cost of a real check, for no user."""
    password_matches(_decoy_hash(), password)
