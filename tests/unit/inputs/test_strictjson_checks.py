"""What strictjson refuses is refused in long texts too, where the walk over every value is
skipped unless the text shows a constant, deep brackets or a surrogate (escaped or not)."""

from __future__ import annotations

import json

import pytest

from perch.inputs import strictjson

FILLER = [{"k": "v" * 40, "n": n} for n in range(8_000)]


def _long(extra: object) -> str:
    text = json.dumps({"filler": FILLER, "extra": extra})
    assert len(text) > strictjson.YIELDING_PARSE
    return text


@pytest.mark.parametrize(
    ("extra_text", "reason"),
    [
        ("[1, NaN]", "NaN is not a JSON number"),
        ('{"x": -Infinity}', "-Infinity is not a JSON number"),
        ('"a\\ud800b"', "lone surrogate"),
        ('{"\\uDFFF": 1}', "lone surrogate"),
        ("[" * 70 + "]" * 70, "nested more than 64 levels deep"),
    ],
)
def test_a_long_text_is_still_checked(extra_text: str, reason: str) -> None:
    text = _long(None).replace('"extra": null', f'"extra": {extra_text}')
    with pytest.raises(strictjson.InvalidJson, match=reason) as caught:
        strictjson.loads(text)
    assert caught.value.path.startswith("$.extra")


def test_a_raw_surrogate_in_a_string_given_as_text_is_refused() -> None:
    with pytest.raises(strictjson.InvalidJson, match="lone surrogate"):
        strictjson.loads(_long(None).replace("null", '"\ud800"'))


def test_valid_escapes_and_many_shallow_brackets_pass() -> None:
    value = {"filler": FILLER, "extra": ["\U0001f600", "é", [[1]] * 600]}
    text = json.dumps(value)  # ensure_ascii: a surrogate pair escaped, é escaped
    assert "\\ud83d" in text
    assert strictjson.loads(text) == value


def test_nesting_is_measured_across_the_scanned_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(strictjson, "_SCAN_PIECE", 7)  # every bracket run split across pieces
    deep = "[" * 600 + "]" * 600
    assert strictjson._bracket_depth(deep) > 512  # the scan stops past the ceiling
    assert strictjson._bracket_depth('["[[[[", {"a": [1]}] ' * 200) > 2  # brackets in strings count
    with pytest.raises(strictjson.InvalidJson, match="nested too deeply"):
        strictjson.loads(deep)
    shallow = json.dumps([[n] for n in range(1_000)])
    assert strictjson._bracket_depth(shallow) == 2
    assert strictjson.loads(shallow) == [[n] for n in range(1_000)]


@pytest.mark.parametrize("number", ["1e400", "-1e999", "1" * 400 + ".5"])
@pytest.mark.parametrize("long", [False, True])
def test_a_number_too_big_for_a_float_is_refused(number: str, long: bool) -> None:
    text = f'{{"x": [{number}]}}'
    if long:
        text = _long(None).replace('"extra": null', f'"extra": {number}')
    with pytest.raises(strictjson.InvalidJson, match="Infinity is not a JSON number"):
        strictjson.loads(text)


def test_brackets_inside_strings_do_not_hide_deep_nesting() -> None:
    closers = '"' + "]" * 200 + '"'
    openers = '"' + "[" * 200 + '"'
    deep = "[" * 70 + "1" + "]" * 70
    text = f"[{'[],' * 600}{closers}, {deep}, {openers}]"
    with pytest.raises(strictjson.InvalidJson, match="nested more than 64 levels deep"):
        strictjson.loads(text)
    shallow = "[" * 60 + "1" + "]" * 60
    assert strictjson.loads(f"[{'[],' * 600}{closers}, {shallow}, {openers}]")[-1] == "[" * 200
