"""Benchmark 3: 10,000 executions paused at a Pause, bulk-resumed by query -> time to all SUCCESS.

Run with ``python benchmarks/engine_bulk_resume.py [COUNT] [--database-url URL] [--http]``.
Target < 5 s, floor < 60 s. SQLite in a temporary folder by default; with ``--database-url
postgresql://…`` a temporary schema of that database, dropped at the end.

The paused executions are created in batches (set-up, not timed). The timed part is the bulk
resume (a few hundred executions per transaction, each validated and applied under its own
savepoint) plus the task after the Pause, until all executions are SUCCESS:

- by default ``service.resume_by_query`` in this process, with the loops of ``perch server
  local`` running here too;
- with ``--http``, ``POST /api/v1/main/executions/resume/by-query`` sent to a ``perch server
  local`` subprocess on a free port, working on the same database.

Then every execution is checked: none lost (all SUCCESS with both task runs), none resumed
twice (one ``resumed`` output by the bench's principal, one run of the task after the Pause)
and exactly one RESUME audit record each.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from benchsetup import wait_ready
from engine_harness import (
    BENCH,
    Bench,
    all_executions,
    bench,
    count_in,
    create_many,
    deploy,
    verdict,
    wait_count,
)

from perch.engine import service
from perch.engine.ports import ExecutionQuery, Store
from perch.engine.states import StateType

FLOW = """\
id: approve
namespace: bench
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: ok
        type: BOOLEAN
        defaults: true
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "approved {{ outputs.wait.onResume.ok }}"
"""
ADMIN = ("bench-admin", "bench-password-1")


@contextmanager
def server(b: Bench, database_url: str | None) -> Iterator[tuple[str, int]]:
    """``perch server local`` on the bench's database (port chosen by the server): its URL
    and process id."""
    env = {
        **os.environ,
        "PERCH_DATABASE_URL": database_url or "",
        "PERCH_DATABASE_SCHEMA": b.schema or "",
        "PERCH_ADMIN_USERNAME": ADMIN[0],
        "PERCH_ADMIN_PASSWORD": ADMIN[1],
    }
    log_path = b.data_dir.parent / "server.log"
    command = [sys.executable, "-m", "perch", "server", "local", "--port", "0"]
    command += ["--data-dir", str(b.data_dir), "--workers", "4"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            yield wait_ready(process, b.data_dir, log_path), process.pid
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def cpu_seconds(pid: int | None) -> float:
    """The CPU time used so far by process ``pid`` (this process when None)."""
    if pid is None:
        return time.process_time()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resume_in_process(store: Store) -> tuple[int, int]:
    query = ExecutionQuery(states=(StateType.PAUSED,), namespace_prefix="bench")
    result = service.resume_by_query(store, query, BENCH)
    return result.count, len(result.skipped)


def resume_over_http(url: str) -> tuple[int, int]:
    with httpx.Client(base_url=url, auth=ADMIN, timeout=600) as http:
        response = http.post(
            "/api/v1/main/executions/resume/by-query",
            params={"filters[namespace][EQUALS]": "bench", "filters[state][EQUALS]": "PAUSED"},
        )
    response.raise_for_status()
    body = response.json()
    return int(body["count"]), len(body["invalids"])


def resume_audits(store: Store) -> dict[str, int]:
    """How many RESUME audit records each execution has."""
    with store.transaction() as tx:
        rows = tx.connection.exec_driver_sql(  # type: ignore[attr-defined]
            "SELECT execution_id, count(*) FROM audit WHERE action = 'RESUME' GROUP BY execution_id"
        )
        return {str(row[0]): int(row[1]) for row in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default SQLite)")
    parser.add_argument("--http", action="store_true", help="resume through a server's API")
    args = parser.parse_args()
    count: int = args.count
    where = "PostgreSQL" if args.database_url else "SQLite"
    with bench(database_url=args.database_url, run=not args.http) as b:
        deploy(b.store, FLOW)
        setup = time.perf_counter()
        create_many(b.store, "bench", "approve", count)
        wait_count(b.store, (StateType.PAUSED,), count)
        print(f"{where}: {count} paused executions set up in {time.perf_counter() - setup:.1f} s")

        with server(b, args.database_url) if args.http else _nothing() as (url, pid):
            start, cpu = time.perf_counter(), cpu_seconds(pid)
            resumed, skipped = resume_over_http(url) if url else resume_in_process(b.store)
            answered = time.perf_counter() - start
            wait_count(b.store, (StateType.SUCCESS,), count)
            elapsed = time.perf_counter() - start
            cpu = cpu_seconds(pid) - cpu

        lost = twice = 0
        for execution in all_executions(b.store):
            runs = [r.task_id for r in execution.task_runs]
            if execution.state.current is not StateType.SUCCESS or runs != ["wait", "after"]:
                lost += 1
            outputs = execution.task_runs[0].outputs or {}
            by = ADMIN[0] if args.http else BENCH.name
            if runs.count("after") > 1 or outputs.get("resumed", {}).get("by") != by:
                twice += 1
        audits = resume_audits(b.store)
        audited_once = sum(1 for n in audits.values() if n == 1)
        paused_left = count_in(b.store, StateType.PAUSED)
    path = "POST …/resume/by-query" if args.http else "service.resume_by_query"
    print(f"{path}: {resumed} resumed, {skipped} skipped, answered after {answered:.1f} s")
    whose = "server" if args.http else "process"
    print(
        f"all {count} SUCCESS after {elapsed:.1f} s (CPU of the {whose} {cpu:.1f} s, load "
        f"average {os.getloadavg()[0]:.1f}); lost {lost}, resumed twice {twice}"
    )
    print(
        f"RESUME audit records: {sum(audits.values())} for {len(audits)} executions, "
        f"{audited_once} with exactly one; still paused {paused_left}"
    )
    if lost or twice or audited_once != count or resumed != count:
        print("bulk resume: CHECKS FAILED")
        sys.exit(1)
    print(verdict(f"bulk resume ({where})", elapsed, 5.0, 60.0, lower_is_better=True))


@contextmanager
def _nothing() -> Iterator[tuple[str, int | None]]:
    yield "", None


if __name__ == "__main__":
    main()
