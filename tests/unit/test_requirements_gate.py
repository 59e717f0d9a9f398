"""The skip-locally / fail-in-CI rule for tests that need PostgreSQL or Chromium."""

from __future__ import annotations

import pytest
from tests.conftest import missing_requirement, must_run_everything


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, False),
        ({"CI": "true"}, True),
        ({"CI": "false"}, False),
        ({"PERCH_REQUIRE_ALL": "1"}, True),
    ],
)
def test_must_run_everything_reads_ci_flags(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: bool
) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PERCH_REQUIRE_ALL", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert must_run_everything() is expected


def test_postgres_requirement_follows_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERCH_TEST_POSTGRES_URL", raising=False)
    assert "PERCH_TEST_POSTGRES_URL" in (missing_requirement("postgres") or "")
    monkeypatch.setenv("PERCH_TEST_POSTGRES_URL", "postgresql://perch:perch@127.0.0.1/perch_test")
    assert missing_requirement("postgres") is None


def test_gate_fails_in_ci_and_skips_locally(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeconftest("from tests.conftest import pytest_runtest_setup  # noqa: F401\n")
    pytester.makeini(
        "[pytest]\nmarkers =\n    postgres: needs PostgreSQL\n    browser: needs Chromium\n"
    )
    pytester.makepyfile("import pytest\n\n@pytest.mark.postgres\ndef test_db():\n    assert True\n")
    monkeypatch.delenv("PERCH_TEST_POSTGRES_URL", raising=False)
    monkeypatch.delenv("PERCH_REQUIRE_ALL", raising=False)
    monkeypatch.setenv("CI", "false")
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(skipped=1)
    monkeypatch.setenv("CI", "true")
    in_ci = pytester.runpytest("-p", "no:cacheprovider")
    # A failure during setup is reported as an error: the run is red either way.
    in_ci.assert_outcomes(errors=1)
    assert in_ci.ret != 0
    in_ci.stdout.fnmatch_lines(["*required in CI but unavailable*PERCH_TEST_POSTGRES_URL*"])
