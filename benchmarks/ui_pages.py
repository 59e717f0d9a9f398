"""Benchmark: the web UI's pages answered with 100,000 executions in the database.

Run with ``python benchmarks/ui_pages.py [--quick] [--executions N] [--paused N] [--requests K]
[--database-url URL]`` (100,000 executions, 300 of them paused, 50 requests a page by default;
``--quick``: 10,000 executions, 100 paused, 20 requests). SQLite in a temporary folder by
default; with ``--database-url`` a PostgreSQL schema of its own, dropped at the end.
Targets: each page's HTML answered in < 100 ms p50 (floor 300 ms); no page loads more than
200 KB of script.

Seeding, timed and printed:

1. Flows in a few namespaces (``company.sales``, ``company.finance``, ``company.ops`` and its
   child ``company.ops.nightly``, ``data.platform``): Log flows, a Pause flow asking for a
   decision (``onResume`` inputs) and a HumanTask assigned to the administrator.
2. The finished executions, written straight through the store's transaction API, 5,000 per
   transaction: spread over the last 30 days, three task runs each with their state histories;
   82 % SUCCESS, 14 % FAILED, 2 % WARNING, 2 % KILLED. One in five has log lines (one per task
   run, an ERROR line when it failed) and a CREATE audit record.
3. The paused executions, created and run by the engine's own loops (``LocalRuntime``, stopped
   once they all wait), so that the approvals inbox holds real waits.

Then the REST API and the UI are served by :class:`perch.httpserver.HttpServer` on loopback (no
engine loops: nothing else competes for the two cores), the administrator signs in once through
``POST /ui/login``, and each GET page is asked for ``--requests`` times one after another over
one keep-alive connection, after 3 unmeasured requests. The time runs from sending the request
to reading the whole body. Pages that this checkout does not serve (404) are listed as absent.
Script weight: the ``<script src=...>`` files a page names, fetched and summed.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

import httpx
from engine_harness import BENCH, count_in, create_many, deploy, percentile, verdict

from perch.api import ApiSettings
from perch.engine import new_execution, service
from perch.engine.effects import Audit
from perch.engine.ids import new_id
from perch.engine.model import Attempt, Execution, LogEntry, TaskRun
from perch.engine.ports import ExecutionQuery, Store, StoredFlow
from perch.engine.states import State, StateHistory, StateType
from perch.flows import Flow
from perch.httpserver import HttpServer
from perch.identity import create_user
from perch.server import LocalRuntime
from perch.store import SqlStore, open_store

ADMIN = ("bench-admin", "bench-password-1")
TARGET_MS = 100.0
FLOOR_MS = 300.0
SCRIPT_LIMIT = 200 * 1024
WARMUP = 3
BATCH = 5_000
DAYS = 30

LOG_FLOWS = (
    ("company.sales", "orders_sync", 30),
    ("company.sales", "crm_export", 10),
    ("company.finance", "invoices", 15),
    ("company.ops", "backup", 10),
    ("company.ops.nightly", "cleanup", 15),
    ("data.platform", "etl", 15),
    ("data.platform", "report", 5),
)
"""(namespace, flow id, share of the finished executions in %)."""
TASKS = ("fetch", "transform", "publish")
FINAL_STATES = (
    (StateType.SUCCESS, 82),
    (StateType.FAILED, 14),
    (StateType.WARNING, 2),
    (StateType.KILLED, 2),
)


def log_flow(namespace: str, flow_id: str) -> str:
    tasks = "".join(
        f"  - id: {task}\n    type: io.kestra.plugin.core.log.Log\n"
        f'    message: "{task} for {{{{ execution.id }}}}"\n'
        for task in TASKS
    )
    return (
        f"id: {flow_id}\nnamespace: {namespace}\n"
        f"description: {flow_id.replace('_', ' ').capitalize()}, every few minutes\n"
        f"labels:\n  team: {namespace.split('.')[1]}\ntasks:\n{tasks}"
    )


APPROVAL_FLOW = """\
id: payment_approval
namespace: company.finance
description: A payment above the limit waits for a decision
inputs:
  - id: amount
    type: INT
    defaults: 1200
tasks:
  - id: decide
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOLEAN
        displayName: Approve this payment?
      - id: reason
        type: STRING
        defaults: ok
      - id: team
        type: SELECT
        values: [Finance, Treasury, Audit]
        defaults: Finance
  - id: record
    type: io.kestra.plugin.core.log.Log
    message: "{{ outputs.decide.onResume.approved }}"
"""
HUMAN_FLOW = f"""\
id: deploy_gate
namespace: company.ops
tasks:
  - id: sign_off
    type: io.kestra.plugin.ee.flow.HumanTask
    assignment:
      users: [{ADMIN[0]}]
  - id: deploy
    type: io.kestra.plugin.core.log.Log
    message: deploying
"""


# --- seeding ----------------------------------------------------------------------------------


@dataclass
class Seeded:
    finished_seconds: float
    paused_seconds: float
    finished: int
    paused: int
    logs: int
    audits: int
    finished_example: Execution
    paused_example: Execution


def _state(start: datetime, steps: list[tuple[StateType, float]]) -> State:
    histories = [StateHistory(StateType.CREATED, start)]
    for state, seconds in steps:
        histories.append(StateHistory(state, start + timedelta(seconds=seconds)))
    return State(histories[-1].state, tuple(histories))


def _finished(
    rng: random.Random,
    flows: dict[tuple[str, str], tuple[StoredFlow, Flow]],
    key: tuple[str, str],
    start: datetime,
) -> Execution:
    stored, flow = flows[key]
    final = rng.choices([s for s, _ in FINAL_STATES], [w for _, w in FINAL_STATES])[0]
    execution = new_execution(flow, revision=stored.revision, inputs={}, now=start, principal=BENCH)
    runs: list[TaskRun] = []
    at = 0.05
    for index, task in enumerate(TASKS):
        length = rng.uniform(0.05, 20.0)
        last = index == len(TASKS) - 1
        outcome = final if last else StateType.SUCCESS
        state = _state(
            start + timedelta(seconds=at), [(StateType.RUNNING, 0.01), (outcome, length)]
        )
        runs.append(
            TaskRun(
                id=new_id(),
                task_id=task,
                state=state,
                attempts=(Attempt(state),),
                outputs={"rows": rng.randrange(10_000)} if outcome is StateType.SUCCESS else None,
            )
        )
        at += length + 0.02
    state = _state(start, [(StateType.RUNNING, 0.01), (final, at)])
    return replace(execution, state=state, task_runs=tuple(runs))


def _logs_of(execution: Execution) -> list[LogEntry]:
    entries = []
    for run in execution.task_runs:
        entries.append(
            LogEntry(
                execution.id,
                run.state.histories[1].date,
                "INFO",
                f"{run.task_id} for {execution.id}",
                task_run_id=run.id,
                task_id=run.task_id,
            )
        )
        if run.state.current is StateType.FAILED:
            entries.append(
                LogEntry(
                    execution.id,
                    run.state.histories[-1].date,
                    "ERROR",
                    f"{run.task_id} failed: connection reset by peer",
                    task_run_id=run.id,
                    task_id=run.task_id,
                )
            )
    return entries


def seed_finished(store: Store, count: int, now: datetime) -> tuple[int, int, Execution]:
    """``count`` finished executions, oldest first, ``BATCH`` per transaction."""
    flows = {(ns, fid): service.get_flow(store, ns, fid) for ns, fid, _ in LOG_FLOWS}
    keys = [(ns, fid) for ns, fid, _ in LOG_FLOWS]
    weights = [share for _, _, share in LOG_FLOWS]
    rng = random.Random(42)
    first = now - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / max(count, 1)
    logs = audits = 0
    example: Execution | None = None
    done = 0
    while done < count:
        size = min(BATCH, count - done)
        with store.transaction() as tx:
            for n in range(done, done + size):
                key = rng.choices(keys, weights)[0]
                start = first + step * n + timedelta(milliseconds=rng.randrange(1000))
                execution = _finished(rng, flows, key, start)
                tx.insert_execution(execution)
                if n % 5 == 0:
                    entries = _logs_of(execution)
                    tx.add_logs(entries)
                    logs += len(entries)
                    detail = {
                        "executionId": execution.id,
                        "namespace": execution.namespace,
                        "flowId": execution.flow_id,
                    }
                    record = Audit("CREATE", BENCH, detail, tenant=execution.tenant)
                    tx.add_audit(execution.id, record, execution.state.start_date)
                    audits += 1
                    if execution.state.current is StateType.FAILED:
                        example = execution
        done += size
    assert example is not None
    return logs, audits, example


def seed_paused(store: Store, count: int) -> Execution:
    """``count`` executions run by the engine up to their Pause or HumanTask."""
    runtime = LocalRuntime(store, workers=2)
    runtime.start()
    try:
        half = count // 2
        create_many(store, "company.finance", "payment_approval", count - half, batch=100)
        create_many(store, "company.ops", "deploy_gate", half, batch=100)
        deadline = time.monotonic() + 600
        while count_in(store, StateType.PAUSED) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {count_in(store, StateType.PAUSED)} of {count} paused")
            time.sleep(0.1)
    finally:
        runtime.stop()
    query = ExecutionQuery(states=(StateType.PAUSED,), flow_id="payment_approval", size=1)
    return service.search_executions(store, query).results[0]


def seed(store: Store, executions: int, paused: int) -> Seeded:
    for namespace, flow_id, _ in LOG_FLOWS:
        deploy(store, log_flow(namespace, flow_id))
    deploy(store, APPROVAL_FLOW)
    deploy(store, HUMAN_FLOW)
    create_user(store, ADMIN[0], ADMIN[1], superadmin=True)
    finished = executions - paused
    start = time.perf_counter()
    logs, audits, example = seed_finished(store, finished, datetime.now(UTC))
    finished_seconds = time.perf_counter() - start
    start = time.perf_counter()
    paused_example = seed_paused(store, paused)
    paused_seconds = time.perf_counter() - start
    return Seeded(
        finished_seconds,
        paused_seconds,
        finished,
        paused,
        logs,
        audits,
        example,
        paused_example,
    )


# --- measuring --------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    path: str
    status: int
    times: list[float]
    html_bytes: int
    script_bytes: int
    scripts: tuple[str, ...]
    location: str = ""


def execution_path(execution: Execution) -> str:
    return f"/ui/executions/{execution.namespace}/{execution.flow_id}/{execution.id}"


def pages(seeded: Seeded) -> list[tuple[str, str]]:
    flow = "/ui/flows/company.finance/invoices"
    return [
        ("approvals inbox", "/ui/approvals"),
        ("executions", "/ui/executions"),
        ("executions state=FAILED", "/ui/executions?state=FAILED"),
        ("executions q=nightly", "/ui/executions?q=nightly"),
        ("executions page 50", "/ui/executions?page=50"),
        ("executions FAILED page 50", "/ui/executions?state=FAILED&page=50"),
        ("executions FAILED+q+page 50", "/ui/executions?state=FAILED&q=sales&page=50"),
        ("execution (paused)", execution_path(seeded.paused_example)),
        ("execution (failed, logs)", execution_path(seeded.finished_example)),
        ("flows", "/ui/flows"),
        ("flow", flow),
        ("flow revisions", f"{flow}/revisions"),
        ("flow edit", f"{flow}/edit"),
        ("flow execute", f"{flow}/execute"),
        ("flow new", "/ui/flows/new"),
        ("namespaces", "/ui/namespaces"),
        ("namespace", "/ui/namespaces/company.finance"),
        ("dashboard", "/ui/dashboard"),
        ("admin", "/ui/admin"),
        ("admin users", "/ui/admin/users"),
        ("admin groups", "/ui/admin/groups"),
        ("admin service accounts", "/ui/admin/service-accounts"),
        ("admin roles", "/ui/admin/roles"),
        ("admin audit", "/ui/admin/audit"),
    ]


_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=[\"']([^\"']+)[\"']", re.IGNORECASE)


def measure(http: httpx.Client, name: str, path: str, requests: int) -> Result:
    first = http.get(path)
    if first.status_code != 200:
        where = first.headers.get("location", "")
        return Result(name, path, first.status_code, [], len(first.content), 0, (), where)
    for _ in range(WARMUP - 1):
        http.get(path).raise_for_status()
    times: list[float] = []
    size = 0
    for _ in range(requests):
        start = time.perf_counter()
        response = http.get(path)
        body = response.content
        times.append(time.perf_counter() - start)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
        size = len(body)
    scripts = tuple(dict.fromkeys(_SCRIPT.findall(first.text)))
    weight = 0
    for src in scripts:
        script = http.get(urljoin(path, src))
        script.raise_for_status()
        weight += len(script.content)
    return Result(name, path, 200, times, size, weight, scripts)


def sign_in(http: httpx.Client) -> None:
    answer = http.post("/ui/login", data={"login": ADMIN[0], "password": ADMIN[1], "next": ""})
    if answer.status_code not in (200, 303) or not http.cookies:
        raise RuntimeError(f"sign-in failed: {answer.status_code} {answer.text[:200]}")
    check = http.get("/ui/approvals")
    if check.status_code != 200:
        raise RuntimeError(f"signed in, yet /ui/approvals answered {check.status_code}")


@contextmanager
def opened(database_url: str | None) -> Iterator[SqlStore]:
    with tempfile.TemporaryDirectory(prefix="perch-bench-ui-") as folder:
        schema = f"perch_bench_{new_id().lower()}" if database_url else None
        store = open_store(database_url, data_dir=Path(folder) / "data", schema=schema)
        try:
            yield store
        finally:
            if schema is not None:
                with store.transaction() as tx:
                    tx.connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            store.close()


@contextmanager
def serving(store: Store) -> Iterator[str]:
    server = HttpServer(store, port=0, settings=ApiSettings())
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def report(results: list[Result], requests: int) -> None:
    print()
    print(
        f"{'page':<28} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8} {'HTML KB':>8} "
        f"{'script KB':>9}  target met"
    )
    for r in results:
        if r.status != 200:
            shown = "absent (404)" if r.status == 404 else f"answered {r.status}"
            if r.location:
                shown += f", to {r.location}"
            print(f"{r.name:<28} {shown}")
            continue
        p50 = percentile(r.times, 0.5) * 1000
        p90 = percentile(r.times, 0.9) * 1000
        top = max(r.times) * 1000
        met = "yes" if p50 < TARGET_MS and r.script_bytes <= SCRIPT_LIMIT else "NO"
        print(
            f"{r.name:<28} {p50:>8.1f} {p90:>8.1f} {top:>8.1f} {r.html_bytes / 1024:>8.1f} "
            f"{r.script_bytes / 1024:>9.1f}  {met}"
        )
    served = [r for r in results if r.status == 200]
    print()
    print(
        f"{len(served)} pages served, {requests} requests each; targets: p50 < {TARGET_MS:.0f} ms"
    )
    for r in served:
        p50 = percentile(r.times, 0.5) * 1000
        if p50 >= TARGET_MS:
            print("  " + verdict(f"{r.name} p50", p50, TARGET_MS, FLOOR_MS, lower_is_better=True))
    slowest = max(served, key=lambda r: percentile(r.times, 0.5))
    heaviest = max(served, key=lambda r: r.script_bytes)
    p50 = percentile(slowest.times, 0.5) * 1000
    print(f"slowest page p50: {slowest.name}, {p50:.1f} ms")
    print(verdict("every page's p50", p50, TARGET_MS, FLOOR_MS, lower_is_better=True))
    weight = heaviest.script_bytes
    print(
        f"most script on one page: {heaviest.name}, {weight / 1024:.1f} KB "
        f"({', '.join(heaviest.scripts) or 'none'}; limit {SCRIPT_LIMIT // 1024} KB)"
    )
    print(
        verdict("script per page", weight, SCRIPT_LIMIT + 1, SCRIPT_LIMIT + 1, lower_is_better=True)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 executions, 20 requests")
    parser.add_argument("--executions", type=int, default=None, help="default 100,000")
    parser.add_argument("--paused", type=int, default=None, help="default 300 (quick 100)")
    parser.add_argument("--requests", type=int, default=None, help="default 50 (quick 20)")
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default SQLite)")
    args = parser.parse_args()
    executions = args.executions or (10_000 if args.quick else 100_000)
    paused = args.paused if args.paused is not None else (100 if args.quick else 300)
    requests = args.requests or (20 if args.quick else 50)
    with opened(args.database_url) as store:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"backend: {store.dialect}; {os.cpu_count()} CPUs, load average {load}")
        seeded = seed(store, executions, paused)
        total = seeded.finished + seeded.paused
        print(
            f"seeded {total:,} executions: {seeded.finished:,} finished in "
            f"{seeded.finished_seconds:.1f} s ({seeded.finished / seeded.finished_seconds:,.0f}/s"
            f", {seeded.logs:,} log lines, {seeded.audits:,} audit records, transactions of "
            f"{BATCH:,}), {seeded.paused} paused by the engine in {seeded.paused_seconds:.1f} s"
        )
        with serving(store) as url, httpx.Client(base_url=url, timeout=60) as http:
            sign_in(http)
            results = []
            for name, path in pages(seeded):
                result = measure(http, name, path, requests)
                results.append(result)
                if result.status == 200:
                    p50 = percentile(result.times, 0.5) * 1000
                    print(f"  {name:<28} p50 {p50:7.1f} ms  {path}", flush=True)
    report(results, requests)


if __name__ == "__main__":
    main()
