"""A long JSON text is parsed with Python-level hooks, so the parser lets other threads run
(the /health figures are in benchmarks/requests_flood.py); the value is the same."""

from __future__ import annotations

import json

import pytest

from perch.inputs import strictjson


def test_a_long_text_is_parsed_through_the_yielding_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counting(value: dict[str, object]) -> dict[str, object]:
        calls.append(1)
        return value

    monkeypatch.setattr(strictjson, "_yield", counting)
    document = {"items": [{"n": n, "f": n / 2, "big": 10**30 + n} for n in range(20_000)]}
    text = json.dumps(document)
    assert len(text) > strictjson.YIELDING_PARSE
    assert strictjson.loads(text) == document  # ints stay exact ints, floats stay floats
    assert len(calls) == 20_001
    calls.clear()
    assert strictjson.loads('{"small": 1}') == {"small": 1}
    assert calls == []


def test_a_long_text_is_still_checked() -> None:
    text = '{"pad": "' + "x" * strictjson.YIELDING_PARSE + '", "j": NaN}'
    with pytest.raises(strictjson.InvalidJson, match=r"at \$\.j"):
        strictjson.loads(text)
