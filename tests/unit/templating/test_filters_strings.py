"""String filters, called directly through the FILTERS table."""

from __future__ import annotations

from typing import Any

import pytest

from perch.errors import TemplateRenderError
from perch.templating.filters import FILTERS, apply_filter


@pytest.mark.parametrize(
    ("name", "value", "args", "expected"),
    [
        ("upper", "quiet text", (), "QUIET TEXT"),
        ("upper", 12, (), "12"),
        ("lower", "LOUD TEXT", (), "loud text"),
        ("lower", True, (), "true"),
        ("title", "article title", (), "Article Title"),
        ("title", "hELLO  wORLD", (), "HELLO  WORLD"),
        ("capitalize", "hello world", (), "Hello world"),
        ("capitalize", "  hello", (), "  Hello"),
        ("capitalize", "", (), ""),
        ("trim", " \t padded \n", (), "padded"),
        ("abbreviate", "this is a long sentence.", (7,), "this..."),
        ("abbreviate", "short", (10,), "short"),
        ("abbreviate", "abcdef", (2,), "ab"),
        ("abbreviate", "abc", (1,), "abc"),
        ("substringBefore", "a.b.c", (".",), "a"),
        ("substringBefore", "abc", ("x",), "abc"),
        ("substringBefore", "abc", ("",), ""),
        ("substringBeforeLast", "a.b.c", (".",), "a.b"),
        ("substringBeforeLast", "abc", ("x",), "abc"),
        ("substringAfter", "a.b.c", (".",), "b.c"),
        ("substringAfter", "abc", ("x",), ""),
        ("substringAfter", "abc", ("",), "abc"),
        ("substringAfterLast", "a.b.c", (".",), "c"),
        ("substringAfterLast", "abc.", (".",), ""),
        ("substringAfterLast", "file.tar.gz", ("",), ""),
        ("slugify", "Hello World!", (), "hello-world"),
        ("slugify", "  Crème brûlée _ recipe ", (), "creme-brulee-recipe"),
        ("slugify", "--a--b--", (), "a-b"),
        ("urlencode", "a b&c=d/é~*", (), "a+b%26c%3Dd%2F%C3%A9%7E*"),
        ("urldecode", "a+b%26c%3Dd%2F%C3%A9", (), "a b&c=d/é"),
        ("base64encode", "test", (), "dGVzdA=="),
        ("base64decode", "dGVzdA==", (), "test"),
        ("base64decode", "dGVzdA", (), "test"),
        ("md5", "", (), "d41d8cd98f00b204e9800998ecf8427e"),
        ("sha1", "", (), "da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        (
            "sha256",
            "",
            (),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        ),
        ("startsWith", "kestra", ("kes",), True),
        ("startsWith", "kestra", ("tra",), False),
        ("endsWith", "kestra", ("tra",), True),
        ("endsWith", 1234, ("34",), True),
    ],
)
def test_string_filters(name: str, value: Any, args: tuple[Any, ...], expected: Any) -> None:
    assert FILTERS[name](value, *args) == expected


def test_sha512_is_hex_of_right_length() -> None:
    digest = FILTERS["sha512"]("abc")
    assert digest.startswith("ddaf35a193617aba")
    assert len(digest) == 128


@pytest.mark.parametrize(
    "name",
    [
        "upper",
        "lower",
        "title",
        "capitalize",
        "trim",
        "slugify",
        "urlencode",
        "urldecode",
        "base64encode",
        "base64decode",
        "sha1",
        "sha256",
        "sha512",
        "md5",
    ],
)
def test_null_passes_through(name: str) -> None:
    assert FILTERS[name](None) is None


def test_starts_with_takes_the_pebble_argument_name() -> None:
    assert FILTERS["startsWith"]("kestra", value="kes") is True
    assert FILTERS["endsWith"]("kestra", value="x") is False


def test_replace_with_a_map_of_pairs() -> None:
    result = FILTERS["replace"]("I like %this% and %that%.", {"%this%": "foo", "%that%": "bar"})
    assert result == "I like foo and bar."


def test_replace_with_regexp_and_group_references() -> None:
    assert FILTERS["replace"]("a1b22", {r"(\d+)": "<$1>"}, regexp=True) == "a<1>b<22>"
    assert FILTERS["replace"]("a.b", {".": "-"}, regexp=True) == "---"
    assert FILTERS["replace"]("a.b", {".": "-"}) == "a-b"


def test_replace_walks_maps_and_lists_and_prints_other_leaves() -> None:
    value = {"a": "x-1", "b": ["x-2", 3], "c": {"d": "x"}}
    assert FILTERS["replace"](value, {"x": "y"}) == {"a": "y-1", "b": ["y-2", "3"], "c": {"d": "y"}}


def test_replace_requires_a_map() -> None:
    with pytest.raises(TemplateRenderError, match="map of replacements"):
        FILTERS["replace"]("abc", "a")


def test_replace_rejects_a_bad_regex() -> None:
    with pytest.raises(TemplateRenderError, match="Invalid regular expression"):
        FILTERS["replace"]("abc", {"(": "x"}, regexp=True)


@pytest.mark.parametrize(
    ("value", "args", "expected"),
    [
        ("a,b,c", (",",), ["a", "b", "c"]),
        ("a,b,,c,,", (",",), ["a", "b", "", "c"]),
        ("a,b,c", (",", 2), ["a", "b,c"]),
        ("a,b,,", (",", -1), ["a", "b", "", ""]),
        ("a1b2c3", (r"\d",), ["a", "b", "c"]),
        ("a.b", (r"\.",), ["a", "b"]),
        ("", (",",), [""]),
        ("abc", (",",), ["abc"]),
        (",", (",",), []),
        ("abc", ("",), ["a", "b", "c"]),
    ],
)
def test_split_follows_java(value: str, args: tuple[Any, ...], expected: list[str]) -> None:
    assert FILTERS["split"](value, *args) == expected


def test_split_needs_a_delimiter() -> None:
    with pytest.raises(TemplateRenderError, match="delimiter"):
        FILTERS["split"]("a,b")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("single", 'it\\\'s "x"'), ("double", 'it\'s \\"x\\"'), ("shell", "it'\\''s \"x\"")],
)
def test_escape_char(kind: str, expected: str) -> None:
    assert FILTERS["escapeChar"]('it\'s "x"', kind) == expected


def test_escape_char_on_structures_and_bad_type() -> None:
    assert FILTERS["escapeChar"]({"a": ["'"], "n": 1}, "SINGLE") == {"a": ["\\'"], "n": "1"}
    with pytest.raises(TemplateRenderError, match="'single', 'double' or 'shell'"):
        FILTERS["escapeChar"]("x", "triple")
    with pytest.raises(TemplateRenderError, match="argument 'type'"):
        FILTERS["escapeChar"]("x")


def test_indent_and_nindent() -> None:
    assert FILTERS["indent"]("a\nb\nc", 2) == "a\n  b\n  c"
    assert FILTERS["indent"]("a\r\nb", 1, prefix="\t") == "a\r\n\tb"
    assert FILTERS["nindent"]("a\nb", 2) == "\n  a\n  b"
    assert FILTERS["nindent"]("", 2) == ""
    with pytest.raises(TemplateRenderError, match="amount"):
        FILTERS["indent"]("a\nb")
    with pytest.raises(TemplateRenderError, match="0 or more"):
        FILTERS["nindent"]("a", -1)


@pytest.mark.parametrize(
    ("name", "value", "args", "message"),
    [
        ("capitalize", 12, (), "expects a string"),
        ("abbreviate", "abc", (-1,), "0 or more"),
        ("abbreviate", "abc", ("x",), "integer length"),
        ("base64decode", "not base64!", (), "Base64"),
        ("base64decode", 12, (), "expects a string"),
        ("sha256", 12, (), "needs a string"),
        ("startsWith", None, ("a",), "startsWith"),
        ("substringAfter", "abc", (), "separator"),
    ],
)
def test_string_filter_errors(name: str, value: Any, args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(TemplateRenderError, match=message):
        FILTERS[name](value, *args)


def test_wrong_arguments_name_the_filter() -> None:
    with pytest.raises(TemplateRenderError, match=r"the 'trim' filter.*unexpected keyword"):
        FILTERS["trim"]("x", foo=1)
    with pytest.raises(TemplateRenderError, match=r"the 'abbreviate' filter.*missing"):
        FILTERS["abbreviate"]("x")


def test_apply_filter_rejects_unknown_names() -> None:
    assert apply_filter("upper", "x") == "X"
    with pytest.raises(TemplateRenderError, match="Unknown filter 'className'"):
        apply_filter("className", "x")


def test_indent_amount_is_capped() -> None:
    with pytest.raises(TemplateRenderError, match="at most"):
        FILTERS["indent"]("a\nb", 10**9)
