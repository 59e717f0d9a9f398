"""Memory and /health while a live server is flooded by unauthenticated callers.

Run with ``python benchmarks/requests_flood.py``. Two floods against a fresh
``perch server local`` (the review's: 4 x 100 MB bodies took it from 97 MB to 3.6 GB, and 48
bad logins took 2.5 GB):

1. 4 concurrent 100 MB chunked JSON bodies without credentials (refused with 413 at 64 KB);
2. 2 concurrent 8 MB JSON bodies from the administrator (an execution's inputs; refused with
   422 for holding too many items, after being parsed and checked);
3. 48 concurrent bad Basic logins, each from its own loopback address (so only the bound on
   concurrent argon2 checks, not the per-address throttle, is at work).

For each: the answers, the server's peak RSS growth (VmHWM) and /health latencies polled every
20 ms from a process of its own (``benchmarks/healthpoll.py``; target: all < 50 ms).
"""

from __future__ import annotations

import collections
import json
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MB = 1024 * 1024

JSON_FLOW = """
id: typed
namespace: bench.flood
inputs:
  - id: j
    type: JSON
    required: false
tasks:
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.j | length }}"
"""


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _flood(name: str, url: str, pid: int, count: int, attempt: Callable[[int], int]) -> None:
    from healthpoll import HealthPoller

    before = _peak_mb(pid)
    with HealthPoller(url) as health:  # polling before the flood starts
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=count) as pool:
            answers = collections.Counter(pool.map(attempt, range(count)))
        took = time.perf_counter() - began
        time.sleep(0.1)  # and a few polls after it
    print(
        f"  {name:<22} {dict(answers)} in {took:5.2f} s; peak RSS +{_peak_mb(pid) - before:.0f} MB;"
        f" {health.summary()}"
    )


def main() -> None:
    sys.path.insert(0, str(ROOT))
    import httpx
    from tests.security.conftest import start_live, stop_live
    from tests.security.test_requests import _chunked_post

    with tempfile.TemporaryDirectory() as tmp:
        live = start_live(Path(tmp))
        pid = live.process.pid
        try:

            def body(_: int) -> int:
                return _chunked_post(live.url, "/api/v1/main/flows", 100 * MB)[0]

            def login(i: int) -> int:
                # Plain HTTP: no TLS context to build (22 ms of CPU each, beside the server).
                transport = httpx.HTTPTransport(local_address=f"127.0.0.{i + 2}", verify=False)
                with httpx.Client(transport=transport, timeout=60) as client:
                    return client.get(
                        f"{live.url}/api/v1/main/flows/search", auth=(f"crowd-{i}", "wrong-pass")
                    ).status_code

            live.deploy(JSON_FLOW)
            # A JSON input is JSON text; the body around it is JSON too: both are parsed.
            values = [{f"k{i}": "v" * 50, "n": i} for i in range(100_000)]
            document = json.dumps({"j": json.dumps(values)}).encode()

            def big_json(_: int) -> int:
                return live.client.post(
                    "/api/v1/main/executions/bench.flood/typed",
                    content=document,
                    headers={"Content-Type": "application/json"},
                ).status_code

            print(f"server {live.url} (pid {pid}), start peak RSS {_peak_mb(pid):.0f} MB")
            _flood("4 x 100 MB bodies", live.url, pid, 4, body)
            _flood(f"2 x {len(document) / MB:.0f} MB JSON, admin", live.url, pid, 2, big_json)
            _flood("48 bad logins", live.url, pid, 48, login)
        finally:
            stop_live(live)


if __name__ == "__main__":
    main()
