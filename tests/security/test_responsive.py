"""What keeps ``/health`` answering while sign-ins are hammered (issue 8, "Requests"), checked
on a live server's threads through ``/proc`` (Linux): password checks run on their own threads
at a lower OS priority, and a burst of refused sign-ins makes the server start no thread per
request (starting one waits for it to run, which the event loop must not spend)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from tests.security.conftest import Live

from perch.responsive import BACKGROUND_NICENESS

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _niceness(pid: int) -> dict[int, int]:
    """Thread id -> nice value, for every thread of ``pid``."""
    found = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        # Fields after the command name (which may hold spaces): nice is field 19 of stat.
        found[int(task.name)] = int(stat.rsplit(")", 1)[1].split()[16])
    return found


def test_password_checks_run_at_a_lower_priority_than_the_api(live: Live) -> None:
    assert live.client.get("/api/v1/main/flows/search").status_code == 200  # one real check
    niceness = _niceness(live.process.pid)
    assert niceness[live.process.pid] == 0  # the main thread, and whatever it did not lower
    lowered = [tid for tid, nice in niceness.items() if nice == BACKGROUND_NICENESS]
    assert len(lowered) >= 2, niceness  # the two password-check threads at least
    assert sum(1 for nice in niceness.values() if nice == 0) >= 2  # the API's thread among them


def test_a_burst_of_refused_sign_ins_starts_no_thread_per_request(live: Live) -> None:
    before = len(_niceness(live.process.pid))

    def attempt(i: int) -> int:
        # One address each: the per-address count never trips, every attempt wants a check.
        transport = httpx.HTTPTransport(local_address=f"127.0.1.{i + 2}")
        with httpx.Client(transport=transport, timeout=60) as client:
            return client.get(
                f"{live.url}/api/v1/main/flows/search", auth=(f"nobody-{i}", "not-a-password")
            ).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        answers = list(pool.map(attempt, range(30)))
    assert set(answers) <= {401, 429}, answers
    after = len(_niceness(live.process.pid))
    # argon2's own lanes come and go with each check; a thread per waiting request would be 30.
    assert after - before < 10, (before, after)


def _children(pid: int) -> dict[int, tuple[str, int]]:
    """Child pid -> (command line, nice value), for every child process of ``pid``."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found[int(entry.name)] = (command, int(fields[16]))
    return found


def test_jq_programs_run_in_processes_of_a_lower_priority(live: Live) -> None:
    source = (
        "id: jq_priority\nnamespace: security.responsive\ntasks:\n  - id: probe\n"
        "    type: io.kestra.plugin.core.log.Log\n    message: \"{{ 41 | jq('. + 1') }}\"\n"
    )
    assert live.run(source)["state"]["current"] == "SUCCESS"
    workers = [
        nice for command, nice in _children(live.process.pid).values() if "jq_worker" in command
    ]
    assert workers, _children(live.process.pid)
    assert all(nice == 10 for nice in workers), workers
