"""SECRET values encrypted at rest: the server key, and sealed values in stored documents.

Every :class:`perch.templating.taint.Secret` the store writes (a SECRET input, an ``onResume``
secret, an output or a ForEach value rendered from one, a task's error made of one) is written as
``{"$perch.sealed": "<token>"}``: Fernet (AES-128-CBC with an HMAC-SHA256 tag, a fresh IV each
time), so the database file and its rows never hold the text, and a token edited or moved from
another server is refused. Reading turns the token back into a marked ``Secret``.

The key is ``PERCH_ENCRYPTION_KEY`` (or its older name ``PERCH_SECRET_KEY``) when set: 32 random
bytes in base64, e.g. ``openssl rand -base64 32``; else the file ``secret.key`` of the data
folder, created 0600 at the first start with a warning in the log. Losing it loses the secrets
of stored executions (they read back as the sealed form, never as text) and the namespace secret
store (:mod:`perch.store.secretrepo`, AES-GCM under a key derived from this one); nothing else.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from perch.errors import PerchError
from perch.templating.taint import Secret, holds_secret

SEALED: Final = "$perch.sealed"
"""The key of the one-key object that stands for a sealed secret in a stored document."""
KEY_FILE: Final = "secret.key"
KEY_ENV: Final = "PERCH_ENCRYPTION_KEY"
OLD_KEY_ENV: Final = "PERCH_SECRET_KEY"

log = logging.getLogger(__name__)


class Sealer:
    """Encrypts and decrypts secret texts with one key."""

    __slots__ = ("_fernet", "_key")

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)
        self._key = base64.urlsafe_b64decode(key)

    def derived_key(self, purpose: bytes) -> bytes:
        """32 bytes for ``purpose``, derived from the server key (HKDF-SHA256): each use of
        the key (Fernet here, AES-GCM for the secret store) gets its own."""
        derive = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose)
        return derive.derive(self._key)

    def seal(self, text: str) -> str:
        return self._fernet.encrypt(text.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str | None:
        """The text sealed in ``token``; None when it was not sealed with this key."""
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError, ValueError):
            return None


def new_key() -> str:
    """A fresh key, as ``PERCH_SECRET_KEY`` and the key file hold it."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def _parse_key(text: str, where: str) -> bytes:
    raw = text.strip().encode("ascii", "replace")
    try:
        # Standard (openssl rand -base64 32) and URL-safe base64 are both accepted.
        decoded = base64.urlsafe_b64decode(raw)
        if len(decoded) == 32:
            return base64.urlsafe_b64encode(decoded)
    except (binascii.Error, ValueError):
        pass
    raise PerchError(f"{where} is not a secret key: it must be 32 random bytes in base64")


def load_sealer(data_dir: Path | None, environ: Mapping[str, str] | None = None) -> Sealer:
    """The server's sealer: ``PERCH_ENCRYPTION_KEY`` (or ``PERCH_SECRET_KEY``), else
    ``<data_dir>/secret.key`` (created 0600 when missing), else — no data folder, a test store
    on PostgreSQL — a key for this process."""
    env = os.environ if environ is None else environ
    for name in (KEY_ENV, OLD_KEY_ENV):
        configured = env.get(name)
        if configured:
            return Sealer(_parse_key(configured, name))
    if data_dir is None:
        return Sealer(new_key().encode("ascii"))
    return Sealer(_key_file(data_dir))


def _key_file(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written aside, then linked into place: a process starting at the same moment either
        # links first or finds the whole key, never half of one.
        temp = data_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(new_key() + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(temp, path)
                log.warning(
                    "%s is not set: generated an encryption key in %s; keep it with the "
                    "database (without it, stored secrets cannot be read)",
                    KEY_ENV,
                    path,
                )
        finally:
            temp.unlink(missing_ok=True)
    return _parse_key(path.read_text(encoding="ascii"), str(path))


# --- sealed values in documents ------------------------------------------------------------


def seal_tree(value: Any, sealer: Sealer | None) -> Any:
    """``value`` with every ``Secret`` in it sealed; the same object when it holds none."""
    if not holds_secret(value):
        return value
    if sealer is None:
        raise PerchError("a SECRET value cannot be stored without the server key")
    return _seal(value, sealer)


def _seal(value: Any, sealer: Sealer) -> Any:
    if isinstance(value, Secret):
        return {SEALED: sealer.seal(value)}
    if isinstance(value, Mapping):
        # A key made of a secret cannot be sealed in place: it is masked instead.
        return {
            ("******" if isinstance(k, Secret) else k): _seal(v, sealer) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_seal(v, sealer) for v in value]
    return value


def opener(sealer: Sealer | None) -> Any:
    """A ``json.loads`` object hook turning sealed objects back into ``Secret`` values (a token
    this key did not seal stays as it is)."""

    def hook(obj: dict[str, Any]) -> Any:
        if len(obj) == 1 and sealer is not None:
            token = obj.get(SEALED)
            if isinstance(token, str):
                text = sealer.open(token)
                if text is not None:
                    return Secret(text)
        return obj

    return hook
