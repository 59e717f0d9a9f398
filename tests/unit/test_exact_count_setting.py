"""``PERCH_SEARCH_EXACT_COUNT``: up to how many matches a search counts its total exactly."""

from __future__ import annotations

import pytest

from perch.api.settings import exact_count_limit
from perch.errors import PerchError


def test_the_limit_comes_from_the_environment() -> None:
    assert exact_count_limit({}) == 10_000
    assert exact_count_limit({"PERCH_SEARCH_EXACT_COUNT": " 250 "}) == 250
    assert exact_count_limit({"PERCH_SEARCH_EXACT_COUNT": "0"}) == 0


@pytest.mark.parametrize("bad", ["lots", "-1", "10000001", "2.5"])
def test_a_bad_limit_is_refused_naming_the_variable(bad: str) -> None:
    with pytest.raises(PerchError, match=r"PERCH_SEARCH_EXACT_COUNT must be a whole number .*"):
        exact_count_limit({"PERCH_SEARCH_EXACT_COUNT": bad})
