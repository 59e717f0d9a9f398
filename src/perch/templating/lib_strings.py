"""String filters (Pebble core and Kestra): case, trimming, substrings, escaping, encodings.

Filters return ``None`` for a ``None`` input, as Pebble's do, so that ``??`` and ``default``
can supply a fallback afterwards.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from perch.errors import TemplateRenderError
from perch.patterns import Pattern, PatternError, compile_pattern
from perch.templating.budget import SMALL, check_made, limits
from perch.templating.lib_registry import require_int, require_str, to_text, type_name

# Java's String.trim() removes every code point up to and including the space.
_JAVA_TRIM = "".join(chr(i) for i in range(33))


def upper(value: Any) -> str | None:
    """``upper``: the text in upper case."""
    return None if value is None else to_text(value).upper()


def lower(value: Any) -> str | None:
    """``lower``: the text in lower case."""
    return None if value is None else to_text(value).lower()


def capitalize(value: Any) -> str | None:
    """``capitalize``: upper-case the first non-blank character, leave the rest alone."""
    if value is None:
        return None
    text = require_str("The 'capitalize' filter", value)
    for index, char in enumerate(text):
        if not char.isspace():
            return text[:index] + char.title() + text[index + 1 :]
    return text


def title(value: Any) -> str | None:
    """``title``: upper-case the first character of every word (words split on blanks)."""
    if value is None:
        return None
    text = require_str("The 'title' filter", value)
    out: list[str] = []
    start = True
    for char in text:
        if char.isspace():
            start = True
            out.append(char)
        elif start:
            out.append(char.title())
            start = False
        else:
            out.append(char)
    return "".join(out)


def trim(value: Any) -> str | None:
    """``trim``: remove leading and trailing blanks and control characters."""
    if value is None:
        return None
    return require_str("The 'trim' filter", value).strip(_JAVA_TRIM)


def abbreviate(value: Any, length: Any) -> str | None:
    """``abbreviate(length)``: cut to ``length`` characters, the last three being ``...``."""
    if value is None:
        return None
    label = "The 'abbreviate' filter"
    text = require_str(label, value)
    width = require_int(label, length, "length")
    if width < 0:
        raise TemplateRenderError(f"{label} expects a length of 0 or more, got {width}")
    if len(text) < width or len(text) <= 3:
        return text
    if width <= 3:
        return text[:width]
    return text[: width - 3] + "..."


def _java_replacement(replacement: str) -> str:
    """Translate a Java regex replacement (``$1``, ``${name}``, ``\\$``) to Python's syntax."""
    out: list[str] = []
    i = 0
    while i < len(replacement):
        char = replacement[i]
        if char == "\\" and i + 1 < len(replacement):
            out.append(replacement[i + 1].replace("\\", "\\\\"))
            i += 2
        elif char == "$":
            named = re.match(r"\$\{(\w+)\}", replacement[i:])
            numbered = re.match(r"\$(\d)", replacement[i:])
            if named:
                out.append(f"\\g<{named.group(1)}>")
                i += named.end()
            elif numbered:
                out.append(f"\\g<{numbered.group(1)}>")
                i += 2
            else:
                raise TemplateRenderError(f"Illegal group reference in replacement '{replacement}'")
        else:
            out.append("\\\\" if char == "\\" else char)
            i += 1
    return "".join(out)


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """Apply ``fn`` to every leaf of a map/list tree; non-string leaves are printed first."""
    if isinstance(value, Mapping):
        return {k: _map_strings(v, fn) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_map_strings(v, fn) for v in value]
    return fn(to_text(value))


def replace(value: Any, replace_pairs: Any = None, regexp: Any = False) -> Any:
    """``replace({'old': 'new', ...}, regexp=false)``: replace every key by its value.

    With ``regexp=true`` the keys are regular expressions and the values may use ``$1``.
    Maps and lists are processed leaf by leaf.
    """
    if value is None:
        return None
    if not isinstance(replace_pairs, Mapping):
        raise TemplateRenderError(
            "The 'replace' filter expects a map of replacements such as {'old': 'new'}"
        )
    pairs = [(to_text(k), to_text(v)) for k, v in replace_pairs.items()]
    if regexp is True:
        compiled = [(_compile_regex(k), _java_replacement(v)) for k, v in pairs]

        def substitute(text: str) -> str:
            for pattern, repl in compiled:
                _check_regex_growth(pattern, repl, text)
                text = pattern.sub(repl, text)
            return text

    else:

        def substitute(text: str) -> str:
            for old, new in pairs:
                text = _java_literal_replace(text, old, new)
            return text

    return _map_strings(value, substitute)


def _java_literal_replace(text: str, old: str, new: str) -> str:
    if old == "":  # Java inserts the replacement around every character
        check_made(len(text) + len(new) * (len(text) + 1))
        return new + new.join(text) + new if text else new
    if len(new) > len(old):
        check_made(len(text) + text.count(old) * (len(new) - len(old)))
    return text.replace(old, new)


def _check_regex_growth(pattern: Pattern, repl: str, text: str) -> None:
    """Refuse a regex replacement whose result would pass the output limit, counting match by
    match (and stopping at the limit) before anything is built."""
    limit = limits().output
    if "\\" not in repl and (len(text) + 1) * (len(repl) + 1) <= limit:
        return  # even a match at every position could not pass the limit
    size = len(text)
    for match in pattern.finditer(text):
        size += len(match.expand(repl)) - (match.end() - match.start())
        if size > SMALL:
            check_made(size)


def _compile_regex(pattern: str) -> Pattern:
    try:
        return compile_pattern(pattern)
    except PatternError as error:
        raise TemplateRenderError(
            f"Invalid regular expression '{pattern}': {error.reason}"
        ) from None


def split(value: Any, delimiter: Any = None, limit: Any = None) -> list[str] | None:
    """``split(delimiter, limit?)``: Java ``String.split``; the delimiter is a regex.

    Without a limit, trailing empty strings are dropped; a positive limit caps the number of
    parts; a negative limit keeps every part.
    """
    if value is None:
        return None
    label = "The 'split' filter"
    if delimiter is None:
        raise TemplateRenderError(f"{label} needs a delimiter")
    text = require_str(label, value)
    pattern = _compile_regex(require_str(label, delimiter, "delimiter"))
    count = 0 if limit is None else require_int(label, limit, "limit")
    parts: list[str] = []
    index = 0
    matched = False
    for match in pattern.finditer(text):
        if count > 0 and len(parts) >= count - 1:
            break
        if index == 0 and match.start() == match.end() == 0:
            continue  # a zero-width match at the start never yields a leading ""
        parts.append(text[index : match.start()])
        index = match.end()
        matched = True
    if not matched:
        return [text]
    parts.append(text[index:])
    if count == 0:
        while parts and parts[-1] == "":
            parts.pop()
    return parts


def _substring(name: str, value: Any, separator: Any) -> tuple[str, str] | None:
    if value is None:
        return None
    label = f"The '{name}' filter"
    if separator is None:
        raise TemplateRenderError(f"{label} expects an argument 'separator'")
    return to_text(value), require_str(label, separator, "separator")


def substring_before(value: Any, separator: Any = None) -> str | None:
    """``substringBefore(sep)``: text before the first ``sep`` (all of it if absent)."""
    args = _substring("substringBefore", value, separator)
    if args is None:
        return None
    text, sep = args
    if text == "" or sep == "":
        return "" if sep == "" else text
    index = text.find(sep)
    return text if index < 0 else text[:index]


def substring_before_last(value: Any, separator: Any = None) -> str | None:
    """``substringBeforeLast(sep)``: text before the last ``sep`` (all of it if absent)."""
    args = _substring("substringBeforeLast", value, separator)
    if args is None:
        return None
    text, sep = args
    index = text.rfind(sep) if sep else -1
    return text if index < 0 else text[:index]


def substring_after(value: Any, separator: Any = None) -> str | None:
    """``substringAfter(sep)``: text after the first ``sep`` (empty if absent)."""
    args = _substring("substringAfter", value, separator)
    if args is None:
        return None
    text, sep = args
    index = text.find(sep)
    return "" if index < 0 else text[index + len(sep) :]


def substring_after_last(value: Any, separator: Any = None) -> str | None:
    """``substringAfterLast(sep)``: text after the last ``sep`` (empty if absent)."""
    args = _substring("substringAfterLast", value, separator)
    if args is None:
        return None
    text, sep = args
    if sep == "":
        return ""
    index = text.rfind(sep)
    return "" if index < 0 else text[index + len(sep) :]


def starts_with(subject: Any, /, value: Any = None) -> bool:
    """``startsWith(value)``: whether the text starts with ``value``."""
    if subject is None or value is None:
        raise TemplateRenderError("The 'startsWith' filter needs an input and a prefix")
    return to_text(subject).startswith(to_text(value))


def ends_with(subject: Any, /, value: Any = None) -> bool:
    """``endsWith(value)``: whether the text ends with ``value``."""
    if subject is None or value is None:
        raise TemplateRenderError("The 'endsWith' filter needs an input and a suffix")
    return to_text(subject).endswith(to_text(value))


_ESCAPES = {"single": ("'", "\\'"), "double": ('"', '\\"'), "shell": ("'", "'\\''")}


def escape_char(value: Any, type: Any = None) -> Any:
    """``escapeChar('single'|'double'|'shell')``: escape quotes in text, maps and lists."""
    if value is None:
        return None
    if type is None:
        raise TemplateRenderError("The 'escapeChar' filter expects an argument 'type'")
    kind = str(type).lower()
    if kind not in _ESCAPES:
        raise TemplateRenderError(
            "The 'escapeChar' filter expects the type to be 'single', 'double' or 'shell'"
        )
    old, new = _ESCAPES[kind]
    return _map_strings(value, lambda text: text.replace(old, new))


def slugify(value: Any) -> str | None:
    """``slugify``: lower-case ASCII words joined by ``-`` (accents removed)."""
    if value is None:
        return None
    text = re.sub(r"[ \t\n\x0b\f\r]", "-", to_text(value))
    text = unicodedata.normalize("NFD", text)
    text = re.sub(r"[^A-Za-z0-9_-]", "", text).replace("_", "-")
    text = re.sub(r"-{2,}", "-", text)
    text = text.removeprefix("-").removesuffix("-")
    return text.lower()


def urlencode(value: Any) -> str | None:
    """``urlencode``: form encoding as Java's ``URLEncoder`` (space becomes ``+``)."""
    if value is None:
        return None
    return quote_plus(to_text(value), safe="*").replace("~", "%7E")


def urldecode(value: Any) -> str | None:
    """``urldecode``: reverse of ``urlencode``."""
    if value is None:
        return None
    return unquote_plus(require_str("The 'urldecode' filter", value), errors="strict")


def base64encode(value: Any) -> str | None:
    """``base64encode``: Base64 of the UTF-8 text."""
    if value is None:
        return None
    return base64.b64encode(to_text(value).encode("utf-8")).decode("ascii")


def base64decode(value: Any) -> str | None:
    """``base64decode``: decode Base64 to UTF-8 text (invalid input is an error)."""
    if value is None:
        return None
    text = require_str("The 'base64decode' filter", value)
    padded = text.rstrip("=")
    padded += "=" * (-len(padded) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise TemplateRenderError(
            "The 'base64decode' filter needs a correctly Base64-encoded string"
        ) from None
    return raw.decode("utf-8", errors="replace")


def _hasher(name: str, algorithm: str) -> Callable[[Any], str | None]:
    def digest(value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise TemplateRenderError(
                f"The '{name}' filter needs a string to hash, got {type_name(value)}"
            )
        return hashlib.new(algorithm, value.encode("utf-8")).hexdigest()

    digest.__doc__ = f"``{name}``: hexadecimal {algorithm.upper()} digest of the UTF-8 text."
    return digest


sha1 = _hasher("sha1", "sha1")
sha256 = _hasher("sha256", "sha256")
sha512 = _hasher("sha512", "sha512")
md5 = _hasher("md5", "md5")


MAX_INDENT = 1000  # guards memory: the prefix is repeated on every line


def _indent(name: str, value: Any, amount: Any, prefix: Any, leading: bool) -> str | None:
    if value is None:
        return None
    text = to_text(value)
    if text == "":
        return text
    label = f"The '{name}' filter"
    if amount is None:
        raise TemplateRenderError(f"{label} expects an integer as argument 'amount'")
    count = require_int(label, amount, "amount")
    if count < 0:
        raise TemplateRenderError(f"{label} expects an amount of 0 or more")
    if count > MAX_INDENT:
        raise TemplateRenderError(f"{label} accepts an amount of at most {MAX_INDENT}")
    pad = require_str(label, prefix, "prefix") * count
    newline = next((nl for nl in ("\r\n", "\n\r", "\n", "\r") if nl in text), "\n")
    check_made(len(text) + (text.count(newline) + int(leading)) * (len(pad) + len(newline)))
    if leading:
        text = newline + text
    return text.replace(newline, newline + pad)


def indent(value: Any, amount: Any = None, prefix: Any = " ") -> str | None:
    """``indent(amount, prefix=' ')``: indent every line but the first."""
    return _indent("indent", value, amount, prefix, leading=False)


def nindent(value: Any, amount: Any = None, prefix: Any = " ") -> str | None:
    """``nindent(amount, prefix=' ')``: start with a new line, then indent every line."""
    return _indent("nindent", value, amount, prefix, leading=True)
