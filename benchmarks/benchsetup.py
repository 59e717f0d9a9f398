"""What several benchmarks set up alike: a ``perch server local`` subprocess waited for until it
answers, and a table filled in bulk the way a long-lived database would be."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Table

from perch.store import SqlStore


def wait_ready(
    process: subprocess.Popen[bytes], data_dir: Path, log: Path, timeout: float = 120.0
) -> str:
    """The URL of the server ``process`` started on ``data_dir`` (it writes its port to
    ``server.json``) once ``/health`` answers 200; RuntimeError with its log when it exits or
    does not answer within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: {log.read_text()}")
        try:
            info = json.loads((data_dir / "server.json").read_text())
            url = f"http://127.0.0.1:{info['port']}"
            mine = info.get("pid", process.pid) == process.pid  # not an earlier server's file
            if mine and httpx.get(f"{url}/health").status_code == 200:
                return url
        except (OSError, ValueError, KeyError, httpx.HTTPError):
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the server did not start: {log.read_text()}")


def bulk_insert(store: SqlStore, table: Table, batches: Iterable[list[dict[str, Any]]]) -> float:
    """Insert ``batches`` of rows into ``table`` (one transaction each), then do what
    autovacuum does after a bulk load (statistics, and on PostgreSQL the visibility map that
    lets a count read an index alone); the seconds it took."""
    start = time.perf_counter()
    for batch in batches:
        with store.engine.begin() as connection:
            connection.execute(table.insert(), batch)
    if store.dialect == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f"VACUUM ANALYZE {table.name}")
    else:
        with store.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    return time.perf_counter() - start
