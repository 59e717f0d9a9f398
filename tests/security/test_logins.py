"""Probes of sign-in: failed logins throttled per account and per address, password checks
bounded (issue 8, "Requests"). The per-address probe runs last: it throttles this module's
server for every Basic caller from 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from tests.security.conftest import ADMIN, HealthWatch, Live

VICTIM = ("victim", "victim-password-1")
OTHER = ("bystander", "bystander-password-1")


def _create_user(live: Live, username: str, password: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "perch",
            "user",
            "create",
            username,
            "--password-stdin",
            "--data-dir",
            str(live.log_path.parent / "data"),
        ],
        input=f"{password}\n".encode(),
        check=True,
        capture_output=True,
    )
    data_dir = str(live.log_path.parent / "data")
    subprocess.run(
        [
            *(sys.executable, "-m", "perch", "binding", "create", "--user", username),
            *("--role", "Viewer", "--data-dir", data_dir),
        ],
        check=True,
        capture_output=True,
    )


def _get(live: Live, auth: tuple[str, str]) -> httpx.Response:
    return httpx.get(f"{live.url}/api/v1/main/flows/search", auth=auth, timeout=30)


@pytest.fixture(scope="module")
def users(live: Live) -> None:
    _create_user(live, *VICTIM)
    _create_user(live, *OTHER)


@pytest.mark.usefixtures("users")
def test_failures_for_one_account_are_answered_429_even_with_the_right_password(
    live: Live,
) -> None:
    assert _get(live, VICTIM).status_code == 200
    answers = [_get(live, (VICTIM[0], f"wrong-{i}")).status_code for i in range(6)]
    assert answers == [401] * 5 + [429]
    refused = _get(live, VICTIM)
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["retry-after"]) > 0
    assert "too many failed sign-ins" in refused.json()["message"]
    # Another account is unaffected, and so is the account's token-less twin in case.
    assert _get(live, OTHER).status_code == 200
    assert _get(live, ADMIN).status_code == 200


@pytest.mark.usefixtures("users")
def test_a_success_resets_the_account_count(live: Live) -> None:
    for i in range(4):
        assert _get(live, (OTHER[0], f"wrong-{i}")).status_code == 401
    assert _get(live, OTHER).status_code == 200
    for i in range(4):
        assert _get(live, (OTHER[0], f"again-{i}")).status_code == 401
    assert _get(live, OTHER).status_code == 200


def _peak_rss_mb(live: Live) -> float:
    for line in Path(f"/proc/{live.process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def test_concurrent_password_checks_from_many_addresses_are_bounded(
    live: Live, health: HealthWatch
) -> None:
    """48 bad logins from 48 loopback addresses (no per-address count trips): at most a few
    argon2 checks run at once, so memory stays far from the gigabytes they would take."""
    before = _peak_rss_mb(live)

    def attempt(i: int) -> int:
        transport = httpx.HTTPTransport(local_address=f"127.0.0.{i + 2}")
        with httpx.Client(transport=transport, timeout=60) as client:
            return client.get(
                f"{live.url}/api/v1/main/flows/search", auth=(f"crowd-{i}", "not-a-password")
            ).status_code

    with ThreadPoolExecutor(max_workers=48) as pool:
        answers = list(pool.map(attempt, range(48)))
    assert set(answers) <= {401, 429}, answers
    grown = _peak_rss_mb(live) - before
    assert grown < 600, f"peak memory grew by {grown:.0f} MB"


def test_concurrent_bad_passwords_from_one_address_are_throttled(
    live: Live, health: HealthWatch
) -> None:
    def attempt(i: int) -> int:
        return _get(live, (f"nobody-{i}", "not-a-password")).status_code

    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(attempt, range(40)))
    assert set(answers) <= {401, 429}, answers
    assert answers.count(401) <= 20  # 20 failures from one address at most, then throttled
    # Whatever this burst managed to count, the address is throttled after 20 failures.
    for i in range(21):
        if _get(live, (f"later-{i}", "not-a-password")).status_code == 429:
            break
    else:
        raise AssertionError("21 more failures from one address were not throttled")
    throttled = _get(live, ADMIN)
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0
