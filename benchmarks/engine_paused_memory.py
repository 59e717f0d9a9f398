"""Benchmark 5: 100,000 paused executions -> server RSS and database bytes per paused execution.

Run with ``python benchmarks/engine_paused_memory.py [COUNT]``. Target RSS < 300 MB, floor
< 1 GB. The executions are created in batches in this process (each started, so each is PAUSED
at its Pause with its task run and state history), then a real ``perch server local`` is started
on the data folder as a subprocess: its resident memory is read from ``/proc`` once it is ready
and has recovered, and again after a few seconds idle. A waiting execution should cost nothing
but its rows, so the server's RSS should not depend on COUNT; the same server on an empty
folder is measured for comparison.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine_harness import count_in, create_many, deploy, verdict

from perch.engine.states import StateType
from perch.store import open_store

FLOW = """\
id: signoff
namespace: bench
inputs:
  - id: requester
    type: STRING
    defaults: someone@example.com
tasks:
  - id: review
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
      - id: reason
        type: STRING
        required: false
  - id: done
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.review.onResume.approved }}"
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def server_rss(data_dir: Path, settle: float = 5.0) -> tuple[float, float]:
    """Start ``perch server local`` on ``data_dir``: RSS when ready, and after ``settle`` s."""
    process = subprocess.Popen(
        # Port 0: the system picks a free one (a taken 8080 must not fail the benchmark).
        [
            *(sys.executable, "-m", "perch", "server", "local"),
            *("--data-dir", str(data_dir), "--port", "0"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PERCH_DATABASE_URL": ""},
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if json.loads((data_dir / "server.json").read_text())["pid"] == process.pid:
                    break
            except (OSError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        ready = rss_mb(process.pid)
        time.sleep(settle)
        return ready, rss_mb(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def database_bytes(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.glob("perch.db*"))


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory(prefix="perch-bench-") as folder:
        empty_dir = Path(folder) / "empty"
        open_store(None, data_dir=empty_dir).close()
        empty_ready, empty_idle = server_rss(empty_dir, settle=2.0)

        data_dir = Path(folder) / "data"
        store = open_store(None, data_dir=data_dir)
        deploy(store, FLOW)
        empty_bytes = database_bytes(data_dir)
        start = time.perf_counter()
        create_many(store, "bench", "signoff", count, batch=1000)
        created = time.perf_counter() - start
        paused = count_in(store, StateType.PAUSED)
        store.close()  # the last connection to close checkpoints the WAL into the file
        size = database_bytes(data_dir) - empty_bytes

        ready, idle = server_rss(data_dir)
    print(f"{paused} paused executions created in {created:.1f} s")
    print(f"server RSS on an empty folder: {empty_ready:.0f} MB ready, {empty_idle:.0f} MB idle")
    print(f"server RSS with {paused} paused: {ready:.0f} MB ready, {idle:.0f} MB after 5 s idle")
    print(f"database: {size / 1e6:.0f} MB, {size / max(paused, 1):.0f} bytes per paused execution")
    print(verdict("server RSS", max(ready, idle), 300.0, 1024.0, lower_is_better=True))


if __name__ == "__main__":
    main()
