"""Turning a raw input value into the typed value of its declared type.

Values reach Perch in two shapes: as text (multipart form fields, where everything is a string:
``"true"``, ``"42"``, ``'["a","b"]'``) and as JSON or YAML values (``true``, ``42``, a list, a
``datetime.date`` read from a flow's ``defaults``). :func:`parse_value` accepts both and returns
one Python type per input type. It never evaluates anything: a value is data.

Where Kestra is laxer than is safe for decisions, Perch is stricter, on purpose:

* BOOL/BOOLEAN accept only ``true``/``false`` (any case) or a JSON boolean. Kestra's
  ``Boolean.valueOf`` reads every other word, ``"yes"`` or a typo included, as ``false``.
* DATETIME must carry a zone (``Z`` or ``+02:00``), as Java's ``Instant`` requires; the result
  is an aware ``datetime`` in UTC.
* FLOAT rejects NaN and infinities, which JSON cannot carry.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from perch.durations import parse_duration
from perch.errors import InvalidDuration
from perch.inputs import strictjson
from perch.templating import taint

__all__ = ["MASK", "InputType", "ValueProblem", "describe_value", "parse_value"]

MASK = taint.MASK
"""What is shown instead of a SECRET value, in messages and masked output."""


class InputType(StrEnum):
    """Every input ``type`` Kestra's flow language knows."""

    STRING = "STRING"
    ENUM = "ENUM"
    SELECT = "SELECT"
    INT = "INT"
    FLOAT = "FLOAT"
    BOOLEAN = "BOOLEAN"
    BOOL = "BOOL"
    DATETIME = "DATETIME"
    DATE = "DATE"
    TIME = "TIME"
    DURATION = "DURATION"
    FILE = "FILE"
    JSON = "JSON"
    URI = "URI"
    SECRET = "SECRET"
    ARRAY = "ARRAY"
    MULTISELECT = "MULTISELECT"
    YAML = "YAML"
    EMAIL = "EMAIL"


TEXT_TYPES = frozenset(
    {
        InputType.STRING,
        InputType.ENUM,
        InputType.SELECT,
        InputType.URI,
        InputType.EMAIL,
        InputType.SECRET,
        InputType.FILE,
    }
)
"""Types whose value is a string; for every other type an empty form field means no value."""


class ValueProblem(ValueError):
    """A value that cannot be read as its declared type; ``str()`` is the reason."""


_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIME = r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
_TIME_ONLY = re.compile(_TIME)
_DATETIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt](?P<time>"
    + _TIME
    + r")(?P<zone>[Zz]|[-+][0-9]{2}:?[0-9]{2})?"
)
_URI_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*")
_WHITESPACE = re.compile(r"\s")


def describe_value(raw: Any, *, secret: bool = False, limit: int = 80) -> str:
    """How a received value is quoted in a message: short, and never a secret."""
    if secret:
        return MASK
    if isinstance(raw, str):
        text = raw
    elif isinstance(raw, bool):
        text = "true" if raw else "false"
    elif isinstance(raw, (list, dict)):
        text = json.dumps(raw, default=str, ensure_ascii=False)
    else:
        text = str(raw)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_value(input_type: InputType, raw: Any, *, item_type: InputType | None = None) -> Any:
    """Read ``raw`` as a value of ``input_type``; raise :class:`ValueProblem` when it is not one.

    ``item_type`` is the element type of ARRAY and MULTISELECT values. ``raw`` must not be
    ``None``: a missing value is the caller's business (required, defaults).
    """
    secret = input_type is InputType.SECRET
    try:
        return _PARSERS[input_type](raw, item_type)
    except ValueProblem:
        raise
    except RecursionError:
        # json.loads recurses once per `[`; a value nested that deep is no one's real input.
        raise ValueProblem(f"the {input_type.value} value is nested too deeply") from None
    except (ValueError, TypeError, OverflowError, InvalidDuration):
        raise ValueProblem(
            f"expected {input_type.value} but received `{describe_value(raw, secret=secret)}`"
        ) from None


def _text(raw: Any, _: InputType | None = None) -> str:
    # A number or a date written unquoted in YAML is still meant as text.
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, (int, float, date, time)):
        return raw.isoformat() if isinstance(raw, (date, time)) else str(raw)
    raise TypeError(raw)


def _int(raw: Any, _: InputType | None = None) -> int:
    if isinstance(raw, bool):
        raise TypeError(raw)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if isinstance(raw, str) and _INT.fullmatch(raw.strip()):
        return int(raw.strip())
    raise ValueError(raw)


def _float(raw: Any, _: InputType | None = None) -> float:
    if isinstance(raw, bool):
        raise TypeError(raw)
    if isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, str) and _FLOAT.fullmatch(raw.strip()):
        value = float(raw.strip())
    else:
        raise ValueError(raw)
    if not math.isfinite(value):
        raise ValueError(raw)
    return value


def _bool(raw: Any, _: InputType | None = None) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise ValueError(raw)


def _date(raw: Any, _: InputType | None = None) -> date:
    if isinstance(raw, datetime):
        raise TypeError(raw)
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str) and _DATE.fullmatch(raw.strip()):
        return date.fromisoformat(raw.strip())
    raise ValueError(raw)


def _datetime(raw: Any, _: InputType | None = None) -> datetime:
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, str) and (match := _DATETIME.fullmatch(raw.strip())):
        clock = _micro_precision(match["time"])
        zone = (match["zone"] or "").upper().replace("Z", "+00:00")
        value = datetime.fromisoformat(f"{match['date']}T{clock}{zone}")
    else:
        raise ValueError(raw)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueProblem(
            f"expected DATETIME with a time zone (such as `2042-04-02T04:20:42Z`) "
            f"but received `{describe_value(raw)}`"
        )
    utc = value.astimezone(UTC)
    # A plain datetime, even when YAML gave a subclass (ruamel's TimeStamp).
    return datetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=UTC
    )


def _time(raw: Any, _: InputType | None = None) -> time:
    if isinstance(raw, time):
        return raw
    if isinstance(raw, str) and _TIME_ONLY.fullmatch(raw.strip()):
        return time.fromisoformat(_micro_precision(raw.strip()))
    raise ValueError(raw)


def _micro_precision(clock: str) -> str:
    """Cut a fraction of a second to the microseconds Python keeps."""
    whole, dot, fraction = clock.partition(".")
    return f"{whole}.{fraction[:6].ljust(6, '0')}" if dot else whole


def _duration(raw: Any, _: InputType | None = None) -> timedelta:
    if isinstance(raw, timedelta):
        return raw
    if isinstance(raw, str):
        return parse_duration(raw.strip())
    raise TypeError(raw)


def _json(raw: Any, _: InputType | None = None) -> Any:
    try:
        if isinstance(raw, str):
            value = strictjson.loads(raw)
        else:
            strictjson.check(raw)
            value = raw
    except strictjson.InvalidJson as error:
        if error.too_deep:
            raise ValueProblem(str(error).replace("the value", "the JSON value", 1)) from None
        raise ValueProblem(f"expected JSON but received `{describe_value(raw)}`: {error}") from None
    if (problem := _size_problem(value)) is not None:
        del value  # freed here (see _size_problem)
        raise ValueProblem(problem)
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


MAX_VALUE_ITEMS = 100_000
"""The most values (items and keys, counted each time an alias repeats them) a YAML value may
hold: a few lines of nested aliases ("billion laughs") otherwise expand to more than memory
holds as soon as the value is stored or shown."""
MAX_VALUE_DEPTH = strictjson.MAX_DEPTH
"""The deepest nesting of lists and mappings in a JSON or YAML value."""


def _size_problem(value: Any) -> str | None:
    """Why ``value`` is refused: it refers to itself, nests too deeply or expands beyond
    :data:`MAX_VALUE_ITEMS` (None if it is not). Walks without recursion; stops at the limit.

    Callers raise outside this call and drop the value first: a refused value of 100,000 items
    kept alive by the error's traceback would be freed by whichever thread handles the error
    (the event loop, for a request), holding the interpreter meanwhile."""
    count = 0
    pending: list[tuple[Any, tuple[int, ...]]] = [(value, ())]
    while pending:
        item, parents = pending.pop()
        count += 1
        if count > MAX_VALUE_ITEMS:
            return f"the value holds more than {MAX_VALUE_ITEMS} items"
        if not isinstance(item, (list, dict)):
            continue
        if id(item) in parents:
            return "the value contains itself (through an alias)"
        if len(parents) >= MAX_VALUE_DEPTH:
            return f"the value is nested more than {MAX_VALUE_DEPTH} levels deep"
        inner = (*parents, id(item))
        children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
        pending.extend((child, inner) for child in children)
    return None


def _yaml(raw: Any, _: InputType | None = None) -> Any:
    if not isinstance(raw, str):
        return raw
    import warnings

    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = YAML(typ="safe", pure=True)
    yaml.max_depth = MAX_VALUE_DEPTH
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a repeated anchor is valid YAML; ruamel warns
            value = yaml.load(raw)
    except (YAMLError, RecursionError) as error:
        if isinstance(error, RecursionError) or "maximum depth" in str(error):
            raise ValueProblem(
                f"the value is nested more than {MAX_VALUE_DEPTH} levels deep"
            ) from None
        raise ValueError(str(error)) from None
    if (problem := _size_problem(value)) is not None:
        del value  # freed here (see _size_problem)
        raise ValueProblem(problem)
    return value


def _uri(raw: Any, _: InputType | None = None) -> str:
    text = _text(raw)
    parts = urlsplit(text)
    if not (_URI_SCHEME.fullmatch(parts.scheme) and parts.netloc) or _WHITESPACE.search(text):
        raise ValueError(raw)
    return text


def _file(raw: Any, _: InputType | None = None) -> str:
    # Storage comes later: the value stays the URI it was given (kestra://…, nsfile://…).
    if not isinstance(raw, str) or not raw.strip():
        raise TypeError(raw)
    return raw


def _list(raw: Any, item_type: InputType | None) -> list[Any]:
    items = json.loads(raw, parse_constant=_reject_constant) if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise TypeError(raw)
    element_type = item_type or InputType.STRING
    parsed = []
    for item in items:
        try:
            parsed.append(parse_value(element_type, item))
        except ValueProblem:
            raise ValueProblem(
                f"unable to parse array element as `{element_type.value}` on "
                f"`{describe_value(item)}`"
            ) from None
    return parsed


_PARSERS: dict[InputType, Any] = {
    InputType.STRING: _text,
    InputType.ENUM: _text,
    InputType.SELECT: _text,
    InputType.EMAIL: _text,
    InputType.SECRET: _text,
    InputType.INT: _int,
    InputType.FLOAT: _float,
    InputType.BOOLEAN: _bool,
    InputType.BOOL: _bool,
    InputType.DATETIME: _datetime,
    InputType.DATE: _date,
    InputType.TIME: _time,
    InputType.DURATION: _duration,
    InputType.FILE: _file,
    InputType.JSON: _json,
    InputType.YAML: _yaml,
    InputType.URI: _uri,
    InputType.ARRAY: _list,
    InputType.MULTISELECT: _list,
}
