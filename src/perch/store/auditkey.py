"""What keeps the audit trail honest from outside the database: the chain's HMAC key and the
checkpoint of each tenant's chain head.

The key is ``PERCH_AUDIT_KEY`` when set (at least 32 characters), else the file ``audit.key`` of
the data folder, created 0600 with 32 random bytes at the first start. Someone who can edit the
database but not read this file cannot compute a record's hash, so an edited, inserted or
re-hashed record is detected. Every process writing to one database (on PostgreSQL, several
machines) needs the same key.

The checkpoint ``audit-head.json`` (0600, replaced atomically) holds the last known head of each
tenant's chain (its position and hash). Cutting off the newest records leaves a chain that is
valid in itself; it no longer reaches the checkpointed head, and that is what is detected.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from perch.errors import PerchError

KEY_FILE: Final = "audit.key"
KEY_ENV: Final = "PERCH_AUDIT_KEY"
CHECKPOINT_FILE: Final = "audit-head.json"
_MIN_ENV_KEY = 32

_process_key: bytes | None = None
_process_key_lock = threading.Lock()


def load_audit_key(data_dir: Path | None, environ: Mapping[str, str] | None = None) -> bytes:
    """The chain key: ``PERCH_AUDIT_KEY``, else ``<data_dir>/audit.key`` (created when missing),
    else — no data folder, a test store on PostgreSQL — one key for this whole process."""
    env = os.environ if environ is None else environ
    configured = env.get(KEY_ENV)
    if configured:
        if len(configured) < _MIN_ENV_KEY:
            raise PerchError(f"{KEY_ENV} must be at least {_MIN_ENV_KEY} characters long")
        return configured.encode("utf-8")
    if data_dir is None:
        return _key_of_process()
    return _key_file(data_dir)


def _key_of_process() -> bytes:
    global _process_key  # noqa: PLW0603 - one key shared by every store of the process
    with _process_key_lock:
        if _process_key is None:
            _process_key = secrets.token_bytes(32)
        return _process_key


def _key_file(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Written aside, then linked into place: of two processes starting together, one links
        # first and the other reads the whole key, never half of one.
        temp = data_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32) + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(temp, path)
        finally:
            temp.unlink(missing_ok=True)
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < 16:
        raise PerchError(f"{path} is not an audit key: it must hold at least 16 bytes in hex")
    return key


@dataclass(frozen=True, slots=True)
class Head:
    """The newest record of one tenant's chain: its position (from 1) and hash."""

    position: int
    hash: str


def read_checkpoint(data_dir: Path | None) -> dict[str, Head]:
    """The checkpointed head of each tenant (empty when there is no checkpoint)."""
    if data_dir is None:
        return {}
    path = data_dir / CHECKPOINT_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise PerchError(f"cannot read the audit checkpoint {path}: {exc}") from exc
    heads = raw.get("tenants", {}) if isinstance(raw, dict) else {}
    return {
        str(tenant): Head(int(head["position"]), str(head["hash"]))
        for tenant, head in heads.items()
    }


def write_checkpoint(data_dir: Path, heads: Mapping[str, Head], *, replace: bool = False) -> None:
    """Record ``heads``: merged with the checkpoint on disk (the further head of each tenant
    wins, as other processes write it too) unless ``replace``; atomically, 0600."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = data_dir / CHECKPOINT_FILE
    with (data_dir / f"{CHECKPOINT_FILE}.lock").open("a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        merged = {} if replace else read_checkpoint(data_dir)
        for tenant, head in heads.items():
            known = merged.get(tenant)
            if known is None or head.position >= known.position:
                merged[tenant] = head
        body = {
            "tenants": {
                tenant: {"position": head.position, "hash": head.hash}
                for tenant, head in sorted(merged.items())
            }
        }
        temp = data_dir / f".{CHECKPOINT_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(body, out, indent=2, sort_keys=True)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)


class Checkpointer:
    """Writes the heads a process committed to the checkpoint, at most once per ``interval``
    seconds (and at :meth:`flush`): a commit never waits for the file."""

    def __init__(self, data_dir: Path, interval: float = 1.0) -> None:
        self.data_dir = data_dir
        self.interval = interval
        self._pending: dict[str, Head] = {}
        self._lock = threading.Lock()
        self._written_at = 0.0

    def advance(self, heads: Mapping[str, Head]) -> None:
        """Note heads just committed; write them when the last write is old enough."""
        with self._lock:
            for tenant, head in heads.items():
                known = self._pending.get(tenant)
                if known is None or head.position > known.position:
                    self._pending[tenant] = head
            if time.monotonic() - self._written_at < self.interval:
                return
            self._write_locked()

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._write_locked()

    def _write_locked(self) -> None:
        pending, self._pending = self._pending, {}
        self._written_at = time.monotonic()
        try:
            write_checkpoint(self.data_dir, pending)
        except OSError:
            # A full disk must not fail commits that already happened; retried next time.
            for tenant, head in pending.items():
                self._pending.setdefault(tenant, head)
