"""The Pebble and Kestra functions Perch provides, by name.

Each function is called as ``fn(ctx, *positional, **named)`` where ``ctx`` is the
:class:`~perch.templating.calls.CallContext`. Functions whose answer lives outside the template
engine (``secret``, ``kv``, ``read``, ``appLink``, ``errorLogs``) call the hook of the same name
in ``ctx.hooks``; these are the hook signatures::

    secret(key: str) -> str
    kv(key: str, namespace: str | None, error_on_missing: bool) -> Any
    read(path: str) -> str
    appLink(app_id: str | None, base_url: bool | None) -> str
    errorLogs() -> list[dict]

``render`` and ``renderOnce`` belong to the engine and are not listed here.
"""

from __future__ import annotations

import json as jsonlib
import random
import uuid as uuidlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from perch.errors import PerchError, TemplateRenderError
from perch.templating import budget, values
from perch.templating.calls import CallContext
from perch.templating.lib_collections import compare
from perch.templating.lib_dates import format_in_zone, now_in
from perch.templating.lib_registry import (
    LibraryFn,
    is_number,
    library_call,
    plain,
    require_int,
    require_str,
    type_name,
)


def now(
    ctx: CallContext,
    format: str | None = None,
    timeZone: str | None = None,
    existingFormat: str | None = None,
    locale: str | None = None,
) -> datetime | str:
    """``now(format?, timeZone?)``: the current time.

    Without ``format`` it is an aware datetime (in ``timeZone``, default UTC) that prints in
    ISO form and can be piped to ``date``/``dateAdd``; with ``format`` it is already printed.
    ``existingFormat`` is accepted for Kestra compatibility and has no effect.
    """
    moment = now_in(timeZone)
    if format is None:
        return moment
    return format_in_zone(moment, format, locale)


def from_json(ctx: CallContext, json: Any = None) -> Any:
    """``fromJson(json)`` (and the deprecated ``json(json)``): parse a JSON string. A map or a
    list is returned as it is: an HTTP task's JSON ``body`` is decoded already, and Kestra's
    idiom ``fromJson(outputs.call.body)`` must keep working on it."""
    if json is None:
        return None
    if isinstance(json, (dict, list)):
        return json
    text = require_str("fromJson()", json, "argument 'json'")
    try:
        return jsonlib.loads(text)
    except jsonlib.JSONDecodeError as exc:
        raise TemplateRenderError(f"fromJson(): invalid JSON: {exc}") from None


def _yaml_reader() -> YAML:
    reader = YAML(typ="safe", pure=True)
    # Kestra's YAML reader keeps dates as text; so does Perch (no implicit timestamps)
    reader.constructor.add_constructor(
        "tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node)
    )
    return reader


def yaml_(ctx: CallContext, yaml: Any = None) -> Any:
    """``yaml(yaml)``: parse a YAML string into maps, lists and scalars."""
    text = require_str("yaml()", yaml, "argument 'yaml'")
    try:
        return _yaml_reader().load(text)
    except YAMLError as exc:
        raise TemplateRenderError(f"yaml(): invalid YAML: {exc}") from None


def uuid(ctx: CallContext) -> str:
    """``uuid()``: a random UUID, e.g. ``0f8fad5b-d9cb-469f-a165-70867728950e``."""
    return str(uuidlib.uuid4())


_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def id_(ctx: CallContext) -> str:
    """``id()``: a random short id (a UUID in base 62, as Kestra's execution ids), always 22
    characters: a UUID whose leading digits are small is padded with zeros, as execution ids are."""
    number = uuidlib.uuid4().int
    digits: list[str] = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(_BASE62[rest])
    return "".join(reversed(digits)).rjust(22, "0")


MAX_RANGE = values.MAX_RANGE


def range_(ctx: CallContext, start: Any = None, end: Any = None, increment: Any = 1) -> list[Any]:
    """``range(start, end, increment=1)``: numbers (or single letters) from start to end,
    both included."""
    budget.current().check_time()
    step = require_int("range()", increment, "increment")
    if step == 0:
        raise TemplateRenderError("range(): the increment must not be 0")
    if is_number(start) and is_number(end):
        first, last = int(start), int(end)
        stop = last + (1 if step > 0 else -1)
        numbers = range(first, stop, step)
        if len(numbers) > MAX_RANGE:
            # a template must not be able to exhaust the server's memory
            raise TemplateRenderError(
                f"range(): {len(numbers)} items is more than the limit of {MAX_RANGE}"
            )
        return list(numbers)
    if isinstance(start, str) and isinstance(end, str) and len(start) == len(end) == 1:
        stop = ord(end) + (1 if step > 0 else -1)
        return [chr(code) for code in range(ord(start), stop, step)]
    raise TemplateRenderError(
        "range(): start and end must both be numbers or both be single characters"
    )


def _extreme(args: tuple[Any, ...], sign: int) -> Any:
    best: Any = None
    for candidate in args:
        if best is None or compare(candidate, best) * sign > 0:
            best = candidate
    return best


def max_(ctx: CallContext, *args: Any) -> Any:
    """``max(a, b, ...)``: the largest argument."""
    return _extreme(args, 1)


def min_(ctx: CallContext, *args: Any) -> Any:
    """``min(a, b, ...)``: the smallest argument."""
    return _extreme(args, -1)


def random_int(ctx: CallContext, lower: Any = None, upper: Any = None) -> int:
    """``randomInt(lower, upper)``: a random integer with ``lower <= n < upper``
    (``lower`` when both are equal)."""
    low = require_int("randomInt()", lower, "lower")
    high = require_int("randomInt()", upper, "upper")
    if high < low:
        raise TemplateRenderError("randomInt(): upper is less than lower")
    return low if high == low else random.randrange(low, high)


def print_context(ctx: CallContext) -> dict[str, Any]:
    """``printContext()`` (alias ``fetchContext()``): every variable, as a map.

    Only template data is included: hooks and any host object are left out.
    """
    out: dict[str, Any] = {}
    for key, value in ctx.variables.items():
        try:
            out[key] = plain(value)
        except PerchError:
            continue
    return out


def current_each_output(ctx: CallContext, outputs: Any = None) -> Any:
    """``currentEachOutput(outputs.task)``: a task's output for the current ForEach iteration.

    Outputs of a task inside a ForEach are keyed by iteration value, nested once per enclosing
    ForEach: the value of each of ``parents`` (outermost first), then this task run's, picks
    the entry."""
    if not isinstance(outputs, dict):
        raise TemplateRenderError(
            "currentEachOutput() expects an argument 'outputs' with type map, "
            f"got {type_name(outputs)}"
        )
    found: Any = outputs
    parents = ctx.variables.get("parents")
    for parent in reversed(parents if isinstance(parents, list) else []):
        taskrun = parent.get("taskrun") if isinstance(parent, dict) else None
        value = taskrun.get("value") if isinstance(taskrun, dict) else None
        if value is not None and isinstance(found, dict):
            found = found.get(str(value))
    taskrun = ctx.variables.get("taskrun")
    value = taskrun.get("value") if isinstance(taskrun, dict) else None
    if not isinstance(found, dict):
        return None
    if value is not None and str(value) in found:
        return found[str(value)]
    # A task deeper inside the iteration (in a Sequential, an If) carries the iteration's
    # value without a level of its own: the parents already led to its entry.
    return found if found is not outputs else None


# --- hooks -----------------------------------------------------------------------------------


def _call_hook(ctx: CallContext, name: str, *args: Any, **kwargs: Any) -> Any:
    hook: Callable[..., Any] | None = ctx.hooks.get(name)
    if hook is None:
        raise TemplateRenderError(f"{name}() is not available here")
    try:
        return hook(*args, **kwargs)
    except PerchError:
        raise
    except Exception as exc:
        # a hook failure (store down, missing key) is reported against the expression
        raise TemplateRenderError(f"{name}() failed: {exc}") from exc


def secret(ctx: CallContext, key: Any = None) -> Any:
    """``secret(key)``: the secret ``key`` of the flow's namespace (via the ``secret`` hook)."""
    return _call_hook(ctx, "secret", require_str("secret()", key, "key"))


def kv(ctx: CallContext, key: Any = None, namespace: Any = None, errorOnMissing: Any = True) -> Any:
    """``kv(key, namespace?, errorOnMissing=true)``: a KV store value (via the ``kv`` hook)."""
    if namespace is not None:
        require_str("kv()", namespace, "namespace")
    if not isinstance(errorOnMissing, bool):
        raise TemplateRenderError("kv(): errorOnMissing must be true or false")
    return _call_hook(
        ctx, "kv", require_str("kv()", key, "key"), namespace, error_on_missing=errorOnMissing
    )


def read(ctx: CallContext, path: Any = None) -> Any:
    """``read(path)``: the text of a namespace file or a ``kestra://`` file (``read`` hook)."""
    return _call_hook(ctx, "read", require_str("read()", path, "path"))


def app_link(ctx: CallContext, appId: Any = None, baseUrl: Any = None) -> Any:
    """``appLink(appId?, baseUrl?)``: the link to an app (default: the current one)."""
    if appId is not None:
        require_str("appLink()", appId, "appId")
    if baseUrl is not None and not isinstance(baseUrl, bool):
        raise TemplateRenderError(
            f"appLink(): baseUrl must be true or false, not {type_name(baseUrl)}"
        )
    return _call_hook(ctx, "appLink", app_id=appId, base_url=baseUrl)


def error_logs(ctx: CallContext) -> Any:
    """``errorLogs()``: the error log entries of the current execution (``errorLogs`` hook)."""
    return _call_hook(ctx, "errorLogs")


_RAW: dict[str, LibraryFn] = {
    "now": now,
    "fromJson": from_json,
    "json": from_json,  # deprecated name of fromJson (removed in Kestra 2.0)
    "yaml": yaml_,
    "uuid": uuid,
    "id": id_,
    "range": range_,
    "max": max_,
    "min": min_,
    "randomInt": random_int,
    "printContext": print_context,
    "fetchContext": print_context,
    "secret": secret,
    "kv": kv,
    "read": read,
    "appLink": app_link,
    "errorLogs": error_logs,
    "currentEachOutput": current_each_output,
}

FUNCTIONS: dict[str, LibraryFn] = {name: library_call(f"{name}()", fn) for name, fn in _RAW.items()}
