"""``SECRET_*`` environment variables as ``secret()`` reads them: base64, names compared in
upper case as Kestra does, and nothing read but the one name asked for."""

from __future__ import annotations

import base64

import pytest

from perch.engine.secretlookup import from_environment, lineage
from perch.errors import SecretUnavailable
from perch.templating.taint import Secret


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_the_value_is_base64_decoded_and_marked() -> None:
    found = from_environment("API_KEY", {"SECRET_API_KEY": _b64("v4lue ü")})
    assert found == "v4lue ü"
    assert isinstance(found, Secret)
    assert repr(found) == "Secret('******')"


def test_names_are_compared_in_upper_case() -> None:
    env = {"SECRET_Api_Key": _b64("mixed"), "SECRET_OTHER": _b64("other")}
    assert from_environment("API_KEY", env) == "mixed"
    assert from_environment("api_key", env) == "mixed"
    assert from_environment("other", env) == "other"


def test_only_secret_variables_are_read() -> None:
    env = {"API_KEY": _b64("plain"), "SECRETAPI_KEY": _b64("no underscore")}
    assert from_environment("API_KEY", env) is None


def test_a_value_that_is_not_base64_names_the_variable_only() -> None:
    with pytest.raises(SecretUnavailable) as caught:
        from_environment("BROKEN", {"SECRET_BROKEN": "not base64 at all!"})
    assert "SECRET_BROKEN" in str(caught.value)
    assert "not base64 at all" not in str(caught.value)


def test_lineage_of_a_namespace() -> None:
    assert lineage("a.b.c") == ["a.b.c", "a.b", "a"]
