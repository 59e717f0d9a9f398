"""Template functions, called directly through the FUNCTIONS table."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from perch.errors import TemplateRenderError
from perch.templating.calls import CallContext
from perch.templating.functions import FUNCTIONS

CTX = CallContext(variables={"flow": {"id": "f", "namespace": "company.team"}})


def call(name: str, *args: Any, ctx: CallContext = CTX, **kwargs: Any) -> Any:
    return FUNCTIONS[name](ctx, *args, **kwargs)


def test_now_is_an_aware_datetime_in_utc_by_default() -> None:
    before = datetime.now(UTC)
    value = call("now")
    assert isinstance(value, datetime)
    assert value.utcoffset() == timedelta(0)
    assert before <= value <= datetime.now(UTC)


def test_now_with_zone_and_format() -> None:
    paris = call("now", timeZone="Europe/Paris")
    assert str(paris.tzinfo) == "Europe/Paris"
    assert re.fullmatch(r"\d{4}", call("now", "yyyy"))
    assert call("now", format="VV", timeZone="Asia/Tokyo") == "Asia/Tokyo"
    with pytest.raises(TemplateRenderError, match="Unknown time zone"):
        call("now", timeZone="Nowhere")


@pytest.mark.parametrize("name", ["fromJson", "json"])
def test_from_json(name: str) -> None:
    assert call(name, '{"a": [1, 2.5, null, true]}') == {"a": [1, 2.5, None, True]}
    assert call(name, "[1, 2, 3]")[0] == 1
    assert call(name, None) is None
    assert call(name, json='"x"') == "x"
    with pytest.raises(TemplateRenderError, match="invalid JSON"):
        call(name, "{nope")
    with pytest.raises(TemplateRenderError, match="string"):
        call(name, 12)


def test_yaml_function_parses_and_keeps_dates_as_text() -> None:
    assert call("yaml", "foo: [666, 1, 2]")["foo"][0] == 666
    assert call("yaml", "d: 2024-01-01\nb: true\nn: ~") == {"d": "2024-01-01", "b": True, "n": None}
    with pytest.raises(TemplateRenderError, match="invalid YAML"):
        call("yaml", "a: [1")
    with pytest.raises(TemplateRenderError, match="string"):
        call("yaml", None)


def test_uuid_and_id_are_random_and_well_formed() -> None:
    first, second = call("uuid"), call("uuid")
    assert first != second
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", first)
    ident = call("id")
    assert re.fullmatch(r"[0-9A-Za-z]{10,22}", ident)
    assert ident != call("id")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((0, 3), [0, 1, 2, 3]),
        ((1, 10, 3), [1, 4, 7, 10]),
        ((5, 1, -2), [5, 3, 1]),
        ((3, 1), []),
        (("a", "e", 2), ["a", "c", "e"]),
    ],
)
def test_range_is_inclusive(args: tuple[Any, ...], expected: list[Any]) -> None:
    assert call("range", *args) == expected


def test_range_errors() -> None:
    with pytest.raises(TemplateRenderError, match="must not be 0"):
        call("range", 1, 3, 0)
    with pytest.raises(TemplateRenderError, match="both be numbers"):
        call("range", 1, "b")
    with pytest.raises(TemplateRenderError, match="integer increment"):
        call("range", 1, 3, "x")


def test_max_and_min() -> None:
    assert call("max", 1, 5.5, 3) == 5.5
    assert call("min", 4, -2, 3) == -2
    assert call("max", "apple", "pear") == "pear"
    assert call("max") is None
    with pytest.raises(TemplateRenderError, match="Cannot compare"):
        call("min", 1, "a")


def test_random_int() -> None:
    seen = {call("randomInt", 1, 4) for _ in range(200)}
    assert seen <= {1, 2, 3}
    assert len(seen) > 1
    assert call("randomInt", 5, 5) == 5
    with pytest.raises(TemplateRenderError, match="upper is less than lower"):
        call("randomInt", 5, 1)
    with pytest.raises(TemplateRenderError, match="integer lower"):
        call("randomInt", "a", 2)


def test_print_context_returns_only_template_data() -> None:
    ctx = CallContext(
        variables={"flow": {"id": "f"}, "when": datetime(2024, 1, 2, tzinfo=UTC), "obj": object()},
        hooks={"secret": lambda key: "s3cr3t"},
    )
    assert call("printContext", ctx=ctx) == {"flow": {"id": "f"}, "when": "2024-01-02T00:00:00Z"}
    assert call("fetchContext", ctx=ctx) == call("printContext", ctx=ctx)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("secret", ("KEY",)),
        ("kv", ("KEY",)),
        ("read", ("a.txt",)),
        ("appLink", ()),
        ("errorLogs", ()),
    ],
)
def test_hook_functions_without_hooks_are_not_available(name: str, args: tuple[Any, ...]) -> None:
    with pytest.raises(TemplateRenderError, match=re.escape(f"{name}() is not available here")):
        call(name, *args)


def _recording_hooks(log: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> CallContext:
    def hook(name: str, answer: Any) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            log.append((name, args, kwargs))
            return answer

        return run

    hooks = {
        "secret": hook("secret", "s3cr3t"),
        "kv": hook("kv", {"url": "https://hr"}),
        "read": hook("read", "file text"),
        "appLink": hook("appLink", "https://perch/app/x"),
        "errorLogs": hook("errorLogs", [{"taskId": "t", "message": "boom"}]),
    }
    return CallContext(variables={}, hooks=hooks)


def test_hook_functions_pass_their_arguments() -> None:
    log: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
    ctx = _recording_hooks(log)
    assert call("secret", "SLACK", ctx=ctx) == "s3cr3t"
    assert call("kv", "HR_API", ctx=ctx) == {"url": "https://hr"}
    call("kv", "K", "other.ns", errorOnMissing=False, ctx=ctx)
    assert call("read", "data/a.txt", ctx=ctx) == "file text"
    assert call("appLink", "appId", ctx=ctx) == "https://perch/app/x"
    call("appLink", baseUrl=False, ctx=ctx)
    assert call("errorLogs", ctx=ctx) == [{"taskId": "t", "message": "boom"}]
    assert log == [
        ("secret", ("SLACK",), {}),
        ("kv", ("HR_API", None), {"error_on_missing": True}),
        ("kv", ("K", "other.ns"), {"error_on_missing": False}),
        ("read", ("data/a.txt",), {}),
        ("appLink", (), {"app_id": "appId", "base_url": None}),
        ("appLink", (), {"app_id": None, "base_url": False}),
        ("errorLogs", (), {}),
    ]


def test_hook_failures_become_render_errors() -> None:
    def missing(key: str) -> str:
        raise KeyError(key)

    ctx = CallContext(variables={}, hooks={"secret": missing})
    with pytest.raises(TemplateRenderError, match=r"secret\(\) failed") as info:
        call("secret", "NOPE", ctx=ctx)
    assert isinstance(info.value.__cause__, KeyError)


def test_hook_perch_errors_pass_through() -> None:
    def refuse(key: str, namespace: str | None, error_on_missing: bool = True) -> str:
        raise TemplateRenderError("The key 'X' does not exist in the namespace 'n'.")

    ctx = CallContext(variables={}, hooks={"kv": refuse})
    with pytest.raises(TemplateRenderError, match="does not exist in the namespace"):
        call("kv", "X", ctx=ctx)


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "message"),
    [
        ("secret", (12,), {}, "string key"),
        ("kv", (), {}, "string key"),
        ("kv", ("k",), {"errorOnMissing": "no"}, "true or false"),
        ("kv", ("k", 5), {}, "string namespace"),
        ("appLink", (), {"baseUrl": "yes"}, "true or false"),
        ("secret", ("k", "extra"), {}, "too many positional"),
        ("uuid", (), {"x": 1}, "unexpected keyword"),
    ],
)
def test_function_argument_errors(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    ctx = _recording_hooks([])
    with pytest.raises(TemplateRenderError, match=message):
        FUNCTIONS[name](ctx, *args, **kwargs)


def test_engine_functions_are_left_to_the_engine() -> None:
    assert "render" not in FUNCTIONS
    assert "renderOnce" not in FUNCTIONS


def test_range_is_capped() -> None:
    with pytest.raises(TemplateRenderError, match="more than the limit"):
        call("range", 0, 10**9)
