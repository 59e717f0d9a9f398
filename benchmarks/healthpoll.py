"""A /health poller in a process of its own, for the benchmarks that load a live server.

A poller thread beside the load generator measures the generator too: 48 ``httpx.Client``
constructions (22 ms each holding the GIL, for their TLS context) made the 48-bad-logins flood
show 1.1 s "latencies" that the server never had. This process does nothing but poll, on one
keep-alive connection, and prints each latency in milliseconds.

Use :class:`HealthPoller` as a context manager; ``python benchmarks/healthpoll.py URL`` runs
the child side.
"""

from __future__ import annotations

import http.client
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

INTERVAL = 0.02
"""Seconds between the end of one /health call and the start of the next."""


class HealthPoller:
    """Polls ``{url}/health`` every :data:`INTERVAL` from a child process while in use."""

    def __init__(self, url: str, interval: float = INTERVAL) -> None:
        self.url = url
        self.interval = interval
        self.latencies: list[float] = []
        """Milliseconds, in the order measured."""
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._first = threading.Event()

    def __enter__(self) -> HealthPoller:
        self._process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), self.url, str(self.interval)],
            stdout=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._first.wait(30):
            raise RuntimeError(f"{self.url}/health did not answer")
        return self

    def _read(self) -> None:
        assert self._process is not None
        assert self._process.stdout is not None
        for line in self._process.stdout:
            try:
                self.latencies.append(float(line))
            except ValueError:
                continue  # cut short by the end of the poller
            self._first.set()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        assert self._process is not None
        assert self._reader is not None
        self._process.terminate()
        self._process.wait(timeout=10)
        self._reader.join(timeout=10)

    def summary(self) -> str:
        """``n=…, median …, p99 …, max … ms``, and whether every call stayed under 50 ms."""
        ms = sorted(self.latencies)
        if not ms:
            return "/health never polled"
        p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
        verdict = "OK" if ms[-1] < 50 else "over 50 ms"
        return (
            f"/health n={len(ms)} median {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, "
            f"max {ms[-1]:.1f} ms {verdict}"
        )


def _poll(url: str, interval: float) -> None:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    while True:
        began = time.perf_counter()
        connection.request("GET", "/health")
        connection.getresponse().read()
        print(f"{(time.perf_counter() - began) * 1000:.3f}", flush=True)
        time.sleep(interval)


if __name__ == "__main__":
    _poll(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else INTERVAL)
