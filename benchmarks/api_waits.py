"""/health while many ``wait=true`` creates wait at once (issue 8, "Requests").

Run with ``python benchmarks/api_waits.py [--count N] [--sleep PT3S]``: a live
``perch server local`` gets ``N`` concurrent ``wait=true`` creates of a flow that sleeps, while a
client polls ``/health`` every 20 ms; prints the final states and the /health latencies
(target: all < 50 ms). One shared HTTP client sends the creates, so the figures are not those of
45 clients building their own connections in the measuring process.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]

FLOW = """
id: sleepy
namespace: bench.waits
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: {sleep}
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: awake
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=45)
    parser.add_argument("--sleep", default="PT3S")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from tests.security.conftest import ADMIN, HealthWatch, start_live, stop_live

    with tempfile.TemporaryDirectory() as tmp:
        live = start_live(Path(tmp))
        try:
            live.deploy(FLOW.format(sleep=args.sleep))
            limits = httpx.Limits(max_connections=args.count + 5)
            with httpx.Client(base_url=live.url, auth=ADMIN, timeout=300, limits=limits) as client:

                def create(_: int) -> str:
                    response = client.post(
                        "/api/v1/main/executions/bench.waits/sleepy", params={"wait": "true"}
                    )
                    response.raise_for_status()
                    state: str = response.json()["state"]["current"]
                    return state

                with HealthWatch(live.url) as watch, ThreadPoolExecutor(args.count) as pool:
                    states = list(pool.map(create, range(args.count)))
        finally:
            stop_live(live)
    latencies = sorted(watch.latencies)
    print(f"{args.count} wait=true creates, final states: {sorted(set(states))}")
    print(
        f"/health: {len(latencies)} calls, median {statistics.median(latencies) * 1000:.1f} ms, "
        f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms (target < 50 ms)"
    )


if __name__ == "__main__":
    main()
