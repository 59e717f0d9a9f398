"""Headless Chromium (Debian's, driven by Playwright; never a downloaded browser) on a signed-in
page of a test server, with screenshots saved under ``test-artifacts/`` and axe-core checks."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import CHROMIUM_CANDIDATES

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    given = os.environ.get("PERCH_CHROMIUM")
    if given:
        return given
    return next((c for c in CHROMIUM_CANDIDATES if shutil.which(c)), None)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def snapshot(page: Any, name: str) -> None:
    """Save the page as it looks, on a desktop and at 375 px wide."""
    ARTIFACTS.mkdir(exist_ok=True)
    size = page.viewport_size
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
    if size:
        page.set_viewport_size(size)


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    found = []
    for violation in results.response.get("violations", []):
        if violation.get("impact") in ("serious", "critical"):
            targets = [str(n.get("target")) for n in violation.get("nodes", [])][:3]
            found.append(f"{violation['id']}: {violation['help']} {targets}")
    return found
