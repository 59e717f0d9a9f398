"""Test-wide rules.

Tests that need something this machine may lack (a PostgreSQL server, headless Chromium) carry a
marker. Locally they skip with the reason; in CI (``CI=true``) or with ``PERCH_REQUIRE_ALL=1`` a
missing dependency is a failure, so nothing is silently skipped where it must run.
"""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KESTRAPY_VERSIONS = ("1.3.1", "2.0.3")
"""The versions of Kestra's Python SDK the conformance tests drive Perch with (as the Makefile)."""


def sdk_dir(version: str) -> str:
    """Where ``make sdks`` installs kestrapy ``version`` (``PERCH_SDKS`` overrides the folder)."""
    return os.path.join(
        os.environ.get("PERCH_SDKS", os.path.join(REPO, ".sdks")), f"kestrapy-{version}"
    )


def must_run_everything() -> bool:
    """True where a missing test dependency must fail rather than skip."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"} or os.environ.get(
        "PERCH_REQUIRE_ALL", ""
    ) in {"1", "true", "yes"}


def missing_requirement(marker_name: str) -> str | None:
    """Why a test with this marker cannot run here, or None when it can."""
    if marker_name == "postgres" and not os.environ.get("PERCH_TEST_POSTGRES_URL"):
        return "PERCH_TEST_POSTGRES_URL is not set (run .ci/prepare-postgres.sh)"
    if marker_name == "browser" and not (
        os.environ.get("PERCH_CHROMIUM") or any(shutil.which(c) for c in CHROMIUM_CANDIDATES)
    ):
        return "Chromium is not installed (run .ci/prepare-chromium.sh)"
    if marker_name == "kestrapy":
        missing = [
            v for v in KESTRAPY_VERSIONS if not os.path.isdir(os.path.join(sdk_dir(v), "kestrapy"))
        ]
        if missing:
            return f"kestrapy {', '.join(missing)} not installed (run `make sdks`)"
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    for name in ("postgres", "browser", "kestrapy"):
        if item.get_closest_marker(name) is None:
            continue
        reason = missing_requirement(name)
        if reason is None:
            continue
        if must_run_everything():
            pytest.fail(f"required in CI but unavailable: {reason}", pytrace=False)
        pytest.skip(reason)


LONG_FIRST = ("tests/scaleout/test_torture.py", "tests/scaleout/test_multiprocess.py")
"""The longest tests (a minute or more each): started first, so that with ``pytest -n 4`` the
other workers run the short tests beside them instead of the run ending on them alone."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return 0 if path in LONG_FIRST else 1

    items.sort(key=rank)  # stable: every other test keeps its order
