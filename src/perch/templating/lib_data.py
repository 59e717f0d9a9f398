"""Data filters: ``toJson``, ``yaml``, ``jq``, ``number``, ``numberformat`` and ``string``."""

from __future__ import annotations

import io
import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import LiteralScalarString

from perch.errors import TemplateRenderError
from perch.templating import budget
from perch.templating.jqpool import POOL, JqError
from perch.templating.lib_registry import is_number, plain, to_json, to_text, type_name


def to_json_filter(value: Any) -> str:
    """``toJson`` (and its old names ``json``, ``jsonEncode``): compact JSON text."""
    return to_json(value)


def string(value: Any) -> str:
    """``string``: the value as text (maps and lists as JSON)."""
    return to_text(value)


# --- yaml ------------------------------------------------------------------------------------


def _yaml_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _yaml_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_yaml_ready(v) for v in value]
    if isinstance(value, str) and "\n" in value:
        return LiteralScalarString(value)  # multi-line text as a literal block, like Jackson
    if isinstance(value, Decimal):
        return float(value)
    return value


def yaml_filter(value: Any) -> str:
    """``yaml``: the value written as a YAML document (no ``---`` marker, lists indented)."""
    if value is None:
        return "null"
    writer = YAML(typ="rt", pure=True)
    writer.default_flow_style = False
    writer.indent(mapping=2, sequence=4, offset=2)
    writer.width = 2**31 - 1  # never fold long lines
    writer.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    buffer = io.StringIO()
    data = _yaml_ready(plain(value))
    writer.dump(data, buffer)
    text = buffer.getvalue()
    if not isinstance(data, dict | list):
        text = text.removesuffix("...\n")  # a bare scalar document ends with '...'
    return text


# --- jq --------------------------------------------------------------------------------------


def jq(value: Any, expression: Any = None) -> list[Any] | None:
    """``jq(expression)``: run a jq program on the value; the result is always a list.

    A string input is parsed as JSON first, as Kestra does. The program runs in a worker
    process (:mod:`perch.templating.jqpool`) for at most the time the rendering has left.
    """
    if value is None:
        return None
    if not isinstance(expression, str):
        raise TemplateRenderError("The 'jq' filter expects a string argument 'expression'")
    spending = budget.current()
    text = value if isinstance(value, str) else to_json(value)
    try:
        return POOL.run(
            expression, text, timeout=spending.remaining(), limit=spending.limits.output
        )
    except JqError as exc:
        if exc.invalid:
            raise TemplateRenderError(f"Invalid jq expression '{expression}': {exc}") from None
        raise TemplateRenderError(f"The jq expression '{expression}' failed: {exc}") from None


# --- number ----------------------------------------------------------------------------------

_INT_RANGE = {"INT": 2**31, "LONG": 2**63}
_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _decode_int(text: str) -> int:
    """Java ``Integer.decode``: ``0x1F``/``#1F`` hex, a leading ``0`` means octal."""
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if text[:1] in "+-" else text
    if body[:2].lower() == "0x":
        return sign * int(body[2:], 16)
    if body.startswith("#"):
        return sign * int(body[1:], 16)
    if len(body) > 1 and body.startswith("0"):
        return sign * int(body[1:], 8)
    if not body.isdigit():
        raise ValueError(f"'{text}' is not an integer")
    return sign * int(body)


def _guess(text: str) -> int | float:
    """Commons-lang ``NumberUtils.createNumber``: an integer if it looks like one, else a float."""
    body = text[:-1] if text[-1:] in "lL" and text[:-1].lstrip("+-").isdigit() else text
    try:
        return _decode_int(body)
    except ValueError:
        pass
    if text[-1:] in "fFdD":
        text = text[:-1]
    if not _DECIMAL.fullmatch(text):
        raise ValueError(f"'{text}' is not a valid number")
    return float(text)


def number(value: Any, type: Any = None) -> Any:
    """``number(type?)``: parse text as INT, LONG, FLOAT, DOUBLE, BIGDECIMAL or BIGINTEGER.

    Without a type the kind is guessed (integer or decimal). Integers follow Java's decoding:
    ``0x1F`` is hexadecimal and a leading zero means octal.
    """
    if value is None:
        return None
    if is_number(value):
        value = str(value)
    if not isinstance(value, str):
        raise TemplateRenderError(
            f"The 'number' filter can only be applied to a string, got {type_name(value)}"
        )
    text = value.strip()
    kind = "" if type is None else str(type)
    try:
        if kind in _INT_RANGE:
            result = _decode_int(text)
            if not -_INT_RANGE[kind] <= result < _INT_RANGE[kind]:
                raise ValueError(f"'{text}' is out of range for {kind}")
            return result
        if kind == "BIGINTEGER":
            return _decode_int(text)
        if kind in ("FLOAT", "DOUBLE"):
            return float(text[:-1] if text[-1:] in "fFdD" else text)
        if kind == "BIGDECIMAL":
            if not _DECIMAL.fullmatch(text):
                raise ValueError(f"'{text}' is not a valid decimal")
            return Decimal(text)
        return _guess(text)
    except (ValueError, IndexError, InvalidOperation):
        raise TemplateRenderError(
            f"The 'number' filter cannot read '{value}' as {kind or 'a number'}"
        ) from None


# --- numberformat ----------------------------------------------------------------------------


def _unquote(text: str) -> str:
    return re.sub(r"'([^']*)'", lambda m: m.group(1) or "'", text)


@lru_cache(maxsize=128)
def _decimal_pattern(pattern: str) -> tuple[str, str, str, str, int, int, int, int, int]:
    """Split a DecimalFormat pattern into (prefix, suffix, neg prefix, neg suffix,
    min integer digits, grouping size, min fraction, max fraction, multiplier)."""
    positive, _, negative = pattern.partition(";")
    match = re.fullmatch(
        r"((?:'[^']*'|[^0#,.'])*)([0#,]*)(?:\.([0#]*))?((?:'[^']*'|[^'])*)", positive
    )
    if match is None or not (match.group(2) or match.group(3)):
        raise TemplateRenderError(f"Invalid number pattern '{pattern}'")
    prefix, integer, fraction, suffix = (
        match.group(1),
        match.group(2),
        match.group(3) or "",
        match.group(4),
    )
    if "E" in suffix:
        raise TemplateRenderError(f"Scientific notation is not supported: '{pattern}'")
    grouping = len(integer) - integer.rfind(",") - 1 if "," in integer else 0
    multiplier = 100 if "%" in prefix + suffix else (1000 if "\u2030" in prefix + suffix else 1)
    neg_prefix, neg_suffix = "-" + _unquote(prefix), _unquote(suffix)
    if negative:
        neg = re.fullmatch(r"((?:'[^']*'|[^0#,.'])*)[0#,.]*((?:'[^']*'|[^'])*)", negative)
        if neg is not None:
            neg_prefix, neg_suffix = _unquote(neg.group(1)), _unquote(neg.group(2))
    return (
        _unquote(prefix),
        _unquote(suffix),
        neg_prefix,
        neg_suffix,
        integer.count("0"),
        grouping,
        fraction.count("0"),
        len(fraction),
        multiplier,
    )


def numberformat(value: Any, format: Any = None) -> str | None:
    """``numberformat(pattern?)``: print a number with a Java DecimalFormat pattern such as
    ``#,##0.00`` (rounding half to even); the default pattern is ``#,##0.###``."""
    if value is None:
        return None
    if not is_number(value):
        raise TemplateRenderError(
            f"The 'numberformat' filter needs a number, got {type_name(value)}"
        )
    pattern = "#,##0.###" if format is None else str(format)
    prefix, suffix, neg_prefix, neg_suffix, min_int, group, min_frac, max_frac, mult = (
        _decimal_pattern(pattern)
    )
    amount = Decimal(str(value)) * mult
    rounded = amount.quantize(Decimal(1).scaleb(-max_frac), rounding=ROUND_HALF_EVEN)
    negative = rounded < 0
    digits = f"{abs(rounded):f}"
    whole, _, frac = digits.partition(".")
    frac = frac.ljust(max_frac, "0")[:max_frac].rstrip("0").ljust(min_frac, "0")
    whole = whole.lstrip("0").rjust(min_int, "0")
    if group:
        chunks: list[str] = []
        while len(whole) > group:
            chunks.insert(0, whole[-group:])
            whole = whole[:-group]
        whole = ",".join([whole, *chunks]) if whole else ",".join(chunks)
    body = whole + ("." + frac if frac else "")
    if body == "":
        body = "0"
    return (neg_prefix + body + neg_suffix) if negative else (prefix + body + suffix)
