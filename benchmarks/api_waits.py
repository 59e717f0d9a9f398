"""/health while many ``wait=true`` creates wait at once (issue 8, "Requests").

Run with ``python benchmarks/api_waits.py [--count N] [--sleep PT3S]``: a live
``perch server local`` gets ``N`` concurrent ``wait=true`` creates of a flow that sleeps, while a
client polls ``/health`` every 20 ms from a process of its own (``benchmarks/healthpoll.py``);
prints the final states and the /health latencies (target: all < 50 ms). One shared HTTP client
sends the creates, so the figures are not those of 45 clients building their own connections.
"""

from __future__ import annotations

import argparse
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
    from healthpoll import HealthPoller
    from tests.security.conftest import ADMIN, start_live, stop_live

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

                with HealthPoller(live.url) as health, ThreadPoolExecutor(args.count) as pool:
                    states = list(pool.map(create, range(args.count)))
        finally:
            stop_live(live)
    print(f"{args.count} wait=true creates, final states: {sorted(set(states))}")
    print(f"  {health.summary()}")


if __name__ == "__main__":
    main()
