"""The Pebble and Kestra filters Perch provides, by name.

Each filter is called as ``fn(value, *positional, **named)`` with Pebble's argument names as
keyword names, e.g. ``FILTERS["date"](value, "yyyy-MM-dd", timeZone="UTC")``. Wrong arguments or
inputs raise :class:`perch.errors.TemplateRenderError` naming the filter. The ``default`` filter
is the engine's own (it must see undefined variables) and is not listed here.

Deliberately absent: ``className`` (it would reveal host types), ``toIon`` (no Ion support).
Added beyond Pebble: ``round``.
"""

from __future__ import annotations

from typing import Any

from perch.templating import lib_collections as col
from perch.templating import lib_data as data
from perch.templating import lib_dates as dates
from perch.templating import lib_strings as text
from perch.templating.lib_registry import LibraryFn, library_call

_RAW: dict[str, LibraryFn] = {
    # strings
    "upper": text.upper,
    "lower": text.lower,
    "title": text.title,
    "capitalize": text.capitalize,
    "trim": text.trim,
    "abbreviate": text.abbreviate,
    "replace": text.replace,
    "split": text.split,
    "startsWith": text.starts_with,
    "endsWith": text.ends_with,
    "substringBefore": text.substring_before,
    "substringBeforeLast": text.substring_before_last,
    "substringAfter": text.substring_after,
    "substringAfterLast": text.substring_after_last,
    "escapeChar": text.escape_char,
    "slugify": text.slugify,
    "urlencode": text.urlencode,
    "urldecode": text.urldecode,
    "base64encode": text.base64encode,
    "base64decode": text.base64decode,
    "sha1": text.sha1,
    "sha256": text.sha256,
    "sha512": text.sha512,
    "md5": text.md5,
    "indent": text.indent,
    "nindent": text.nindent,
    # collections and numbers
    "length": col.length,
    "join": col.join,
    "first": col.first,
    "last": col.last,
    "keys": col.keys,
    "values": col.values,
    "reverse": col.reverse,
    "sort": col.sort,
    "rsort": col.rsort,
    "slice": col.slice_,
    "merge": col.merge,
    "distinct": col.distinct,
    "chunk": col.chunk,
    "flatten": col.flatten,
    "abs": col.abs_,
    "round": col.round_,
    # data
    "toJson": data.to_json_filter,
    "json": data.to_json_filter,  # deprecated name of toJson (removed in Kestra 2.0)
    "jsonEncode": data.to_json_filter,
    "yaml": data.yaml_filter,
    "jq": data.jq,
    "number": data.number,
    "numberformat": data.numberformat,
    "numberFormat": data.numberformat,
    "string": data.string,
    # dates
    "date": dates.date_filter,
    "dateAdd": dates.date_add_filter,
    "timestamp": dates.timestamp_filter,
    "timestampMilli": dates.timestamp_milli_filter,
    "timestampMicro": dates.timestamp_micro_filter,
    "timestampNano": dates.timestamp_nano_filter,
}

FILTERS: dict[str, LibraryFn] = {
    name: library_call(f"The '{name}' filter", fn) for name, fn in _RAW.items()
}


def apply_filter(name: str, value: Any, *args: Any, **kwargs: Any) -> Any:
    """Call filter ``name``; a convenience for tests and callers outside the engine."""
    from perch.errors import TemplateRenderError

    fn = FILTERS.get(name)
    if fn is None:
        raise TemplateRenderError(f"Unknown filter '{name}'")
    return fn(value, *args, **kwargs)
