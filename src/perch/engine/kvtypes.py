"""Typed KV values: Kestra's seven KV types, how a value gets one, and the key rule.

A value is kept as JSON text with its type beside it. DATETIME, DATE and DURATION values are
ISO-8601 strings in that text (``2024-05-01T08:00:00Z``, ``2024-05-01``, ``PT5M``); the other
types are the JSON value itself. What a KV read gives is that JSON value, typed as stored.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from perch.durations import format_duration, parse_duration
from perch.errors import InvalidDuration, KvError
from perch.inputs import strictjson

KEY_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
"""A key: a letter or digit, then letters, digits, ``.``, ``_`` and ``-``; 255 at most."""

STATE_KEY_PREFIX: Final = "_state."
STATE_KEY_PATTERN: Final = re.compile(r"^_state\.[A-Za-z0-9][A-Za-z0-9._-]{0,246}$")
"""The keys of the state tasks' pairs (:mod:`perch.engine.statehooks`). They start with ``_``,
which no key that a person, the API or a kv task writes may: a state never overwrites a pair
someone wrote, nor the other way round. They can be read, listed and deleted like any key."""

MAX_VALUE_BYTES: Final = 1_000_000
"""Bytes of JSON text one value may take."""

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$")
_DURATION = re.compile(r"^-?P(?=.)(\d+(\.\d+)?[DWHMS]|T|\d)*$", re.IGNORECASE)


class KvType(StrEnum):
    """Kestra's KV types."""

    STRING = "STRING"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    DATETIME = "DATETIME"
    DATE = "DATE"
    DURATION = "DURATION"
    JSON = "JSON"


def check_key(key: object, *, state: bool = False) -> str:
    """``key`` when it follows the key rule (or, with ``state``, is a state key);
    :class:`~perch.errors.KvError` (422) otherwise."""
    if state and isinstance(key, str) and STATE_KEY_PATTERN.match(key):
        return key
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        shown = key if isinstance(key, str) and len(key) <= 300 else "…"
        raise KvError(
            f"Invalid key '{shown}': a key starts with a letter or a digit and holds only "
            "letters, digits, '.', '_' and '-' (at most 255 characters)"
        )
    return key


def parse_ttl(text: str | None) -> timedelta | None:
    """The ``ttl`` of a write (an ISO-8601 duration, positive), or None for no expiry."""
    if text is None or text == "":
        return None
    try:
        ttl = parse_duration(text.strip())
    except (InvalidDuration, ValueError) as exc:
        raise KvError(f"Invalid ttl '{text[:64]}': use an ISO-8601 duration such as PT1H") from exc
    if ttl <= timedelta(0):
        raise KvError(f"Invalid ttl '{text[:64]}': it must be positive")
    return ttl


def _datetime_text(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_datetime(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise KvError(f"'{text[:64]}' is not an ISO-8601 date-time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def infer(value: Any) -> tuple[KvType, Any]:
    """The type a value has by itself and its JSON form (a datetime is DATETIME, a dict JSON)."""
    if isinstance(value, bool):
        return KvType.BOOLEAN, value
    if isinstance(value, int | float):
        return KvType.NUMBER, value
    if isinstance(value, datetime):
        return KvType.DATETIME, _datetime_text(value)
    if isinstance(value, date):
        return KvType.DATE, value.isoformat()
    if isinstance(value, timedelta):
        return KvType.DURATION, format_duration(value)
    if isinstance(value, str) or value is None:
        return KvType.STRING, value
    return KvType.JSON, value


def infer_text(text: str) -> tuple[KvType, Any]:
    """The typed value of a text written bare (an API text body, the CLI): JSON when it
    parses as JSON (``42``, ``true``, ``{"a": 1}``, ``"quoted"``), else a date-time, a date
    or a duration when it reads as one, else the text itself."""
    stripped = text.strip()
    try:
        return infer(strictjson.loads(stripped))
    except ValueError:
        pass
    if _DATETIME.match(stripped):
        return KvType.DATETIME, _datetime_text(_parse_datetime(stripped))
    if _DATE.match(stripped):
        return coerce(stripped, KvType.DATE)
    if _DURATION.match(stripped):
        try:
            return KvType.DURATION, format_duration(parse_duration(stripped))
        except (InvalidDuration, ValueError):
            pass
    return KvType.STRING, text


def coerce(value: Any, kv_type: KvType | str) -> tuple[KvType, Any]:
    """``value`` as ``kv_type`` (Kestra's ``kvType``): a text is read as that type, a value
    already of it is kept; :class:`~perch.errors.KvError` when it cannot be."""
    try:
        wanted = KvType(str(kv_type).upper())
    except ValueError:
        raise KvError(f"Unknown KV type '{kv_type}': use one of {', '.join(KvType)}") from None
    if wanted is KvType.STRING:
        if isinstance(value, str):
            return wanted, value
        return wanted, json.dumps(infer(value)[1], ensure_ascii=False)
    if wanted is KvType.JSON:
        if isinstance(value, str):
            try:
                return wanted, strictjson.loads(value)
            except ValueError as exc:
                raise KvError("The value is not valid JSON") from exc
        return wanted, infer(value)[1]
    if isinstance(value, str):
        text = value.strip()
        if wanted is KvType.NUMBER:
            try:
                number = strictjson.loads(text)
            except ValueError:
                number = None
            if isinstance(number, bool) or not isinstance(number, int | float):
                raise KvError(f"'{text[:64]}' is not a number")
            return wanted, number
        if wanted is KvType.BOOLEAN:
            if text.lower() not in ("true", "false"):
                raise KvError(f"'{text[:64]}' is not a boolean (true or false)")
            return wanted, text.lower() == "true"
        if wanted is KvType.DATETIME:
            return wanted, _datetime_text(_parse_datetime(text))
        if wanted is KvType.DATE:
            try:
                day = date.fromisoformat(text) if _DATE.match(text) else None
            except ValueError:
                day = None
            if day is None:
                day = _parse_datetime(text).astimezone(UTC).date()
            return wanted, day.isoformat()
        try:
            return wanted, format_duration(parse_duration(text))
        except (InvalidDuration, ValueError) as exc:
            raise KvError(f"'{text[:64]}' is not an ISO-8601 duration") from exc
    found, shown = infer(value)
    if found is wanted:
        return found, shown
    if wanted is KvType.DATE and found is KvType.DATETIME:
        return wanted, _parse_datetime(shown).date().isoformat()
    raise KvError(f"A {found.value} value cannot be stored as {wanted.value}")


def encode(value: Any) -> str:
    """The JSON text kept for a value; :class:`~perch.errors.KvError` when it is too big or
    holds what JSON cannot (NaN, an infinity)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise KvError("A KV value cannot be NaN or infinite")
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise KvError(f"The value cannot be stored as JSON: {exc}") from exc
    if len(text.encode("utf-8")) > MAX_VALUE_BYTES:
        raise KvError(f"The value is larger than {MAX_VALUE_BYTES} bytes")
    return text


def decode(text: str) -> Any:
    """The JSON value kept as ``text``."""
    return json.loads(text)
