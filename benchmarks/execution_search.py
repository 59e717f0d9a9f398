"""Benchmark: searching 1,000,000 executions by state, namespace and flow, with the total, over
the REST API.

Run with ``python benchmarks/execution_search.py [--executions N] [--searches N]
[--database sqlite|postgres|both] [--database-url URL]`` (defaults 1,000,000, 200, both, and
``PERCH_TEST_POSTGRES_URL``). Target (issue 12): p99 < 50 ms for each kind of search, floor
200 ms, on SQLite and on PostgreSQL (a schema of its own, dropped at the end).

The executions are inserted straight into the ``executions`` table in batches, oldest first, as
the store writes them (columns, labels, and a JSON document with three state changes, inputs and
a task run): 95 % in tenant ``main``; 8 teams ``company.teamK``, each with a child namespace
``company.teamK.ops``, each with 10 flows (160 flows, some 6,000 executions each); 60 % SUCCESS,
12 % FAILED, 10 % PAUSED, 8 % WARNING, 5 % KILLED, 5 % CANCELLED. On PostgreSQL the table is
then vacuumed and analysed, as autovacuum would after such a load.

``perch server local`` then serves that database (a subprocess on a free port), and each search
is one ``GET /api/v1/main/executions/search`` with a service account's token, timed by the
client from request to parsed answer: a page of 25 newest first and the ``total`` (exact up to
``PERCH_SEARCH_EXACT_COUNT``, 10,000 by default; an estimate beyond, which the answer flags).
Each kind prints its p50 and p99, the total answered, and the exact count for comparison.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from benchsetup import bulk_insert, wait_ready
from engine_harness import percentile, summary, verdict
from sqlalchemy import create_engine, func, select

from perch.engine.model import Attempt, Execution, Label, TaskRun
from perch.engine.ports import ExecutionQuery
from perch.engine.states import State, StateType
from perch.store import SqlStore, open_store
from perch.store.codec import encode_execution
from perch.store.database import database_url
from perch.store.executioncount import key_conditions
from perch.store.schema import executions

ADMIN = ("admin", "bench-password-1")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 5_000
TEAMS = 8
FLOWS = 10
STATES = (
    (StateType.SUCCESS, 60),
    (StateType.FAILED, 12),
    (StateType.PAUSED, 10),
    (StateType.WARNING, 8),
    (StateType.KILLED, 5),
    (StateType.CANCELLED, 5),
)
_WEIGHTED = [state for state, weight in STATES for _ in range(weight)]
NAMESPACES = [f"company.team{k}{sub}" for k in range(TEAMS) for sub in ("", ".ops")]
# Three instants the template's dates are written at, replaced by each row's own.
_AT = [datetime(2000, 1, 1, 0, 0, s, tzinfo=UTC) for s in range(3)]


def _template(state: StateType) -> str:
    """A stored document in ``state``, with sentinels for what differs from row to row."""
    done = State.new(_AT[0]).with_state(StateType.RUNNING, _AT[0])
    run = TaskRun(
        id="XXRUN",
        task_id="approve",
        state=done.with_state(StateType.SUCCESS, _AT[1]),
        attempts=(Attempt(done.with_state(StateType.SUCCESS, _AT[1]), worker_id="worker-1"),),
        outputs={"approved": True, "comment": "looks good to me"},
    )
    execution = Execution(
        id="XXID",
        namespace="XXNS",
        flow_id="XXFLOW",
        flow_revision=3,
        state=State.new(_AT[0]).with_state(StateType.RUNNING, _AT[1]).with_state(state, _AT[2]),
        tenant="XXTENANT",
        labels=(Label("team", "XXTEAM"), Label("env", "prod")),
        inputs={"requester": "alice@example.com", "amount": 1250, "reason": "quarterly budget"},
        task_runs=(run,),
    )
    return encode_execution(execution)


def rows(count: int) -> Iterator[list[dict[str, Any]]]:
    """The executions in batches, oldest first, one every two seconds."""
    rng = random.Random(12)
    templates = {state: _template(state) for state, _ in STATES}
    iso = [a.isoformat() for a in _AT]
    batch: list[dict[str, Any]] = []
    for n in range(count):
        state = rng.choice(_WEIGHTED)
        namespace = rng.choice(NAMESPACES)
        flow_id = f"flow{rng.randrange(FLOWS)}"
        tenant = "other" if rng.random() < 0.05 else "main"
        start = T0 + timedelta(seconds=2 * n)
        team = namespace.split(".")[1]
        ident = f"ex{n:020d}"
        document = templates[state]
        for sentinel, value in (
            ("XXID", ident),
            ("XXRUN", ident + "r"),
            ("XXNS", namespace),
            ("XXFLOW", flow_id),
            ("XXTENANT", tenant),
            ("XXTEAM", team),
            *((iso[s], (start + timedelta(seconds=s)).isoformat()) for s in range(3)),
        ):
            document = document.replace(sentinel, value)
        batch.append(
            {
                "id": ident,
                "tenant": tenant,
                "namespace": namespace,
                "flow_id": flow_id,
                "flow_revision": 3,
                "state": state.value,
                "start_date": start,
                "end_date": start + timedelta(seconds=2),
                "updated": start + timedelta(seconds=2),
                "version": 3,
                "labels": {"team": team, "env": "prod"},
                "document": document,
            }
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True)
class Search:
    label: str
    params: list[tuple[str, str]]
    query: ExecutionQuery
    """The same filters, for the exact count printed beside the answered total."""


def searches(rng: random.Random, count: int) -> list[tuple[str, list[Search]]]:
    by_state, by_namespace, by_flow, deep = [], [], [], []
    for _ in range(count):
        state = rng.choice(_WEIGHTED)
        by_state.append(
            Search(
                f"state={state.value}",
                [("state", state.value), ("size", "25")],
                ExecutionQuery(states=(state,)),
            )
        )
        team = f"company.team{rng.randrange(TEAMS)}"
        by_namespace.append(
            Search(
                f"namespace={team}",
                [("namespace", team), ("size", "25")],
                ExecutionQuery(namespace_prefix=team),
            )
        )
        namespace = rng.choice(NAMESPACES)
        flow_id = f"flow{rng.randrange(FLOWS)}"
        by_flow.append(
            Search(
                f"{namespace}/{flow_id}",
                [
                    ("filters[namespace][EQUALS]", namespace),
                    ("filters[flowId][EQUALS]", flow_id),
                    ("size", "25"),
                ],
                ExecutionQuery(namespace=namespace, flow_id=flow_id),
            )
        )
        deep.append(
            Search(
                "state=PAUSED page=50",
                [("state", "PAUSED"), ("size", "25"), ("page", "50")],
                ExecutionQuery(states=(StateType.PAUSED,)),
            )
        )
    return [
        ("by state", by_state),
        ("by namespace (and its children)", by_namespace),
        ("by flow", by_flow),
        ("by state, page 50", deep),
    ]


def exact_count(store: SqlStore, query: ExecutionQuery) -> int:
    with store.engine.connect() as connection:
        return int(
            connection.execute(
                select(func.count()).where(*key_conditions(query, executions.c))
            ).scalar_one()
        )


def measure(store: SqlStore, url: str, token: str, count: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        for kind, batch in searches(random.Random(5), count):
            for search in batch[:20]:  # warm the page cache and the statement cache
                http.get("/api/v1/main/executions/search", params=search.params)
            times: list[float] = []
            answered: dict[str, tuple[int, bool, int]] = {}
            for search in batch:
                start = time.perf_counter()
                response = http.get("/api/v1/main/executions/search", params=search.params)
                response.raise_for_status()
                body = response.json()
                times.append(time.perf_counter() - start)
                answered[search.label] = (
                    body["total"],
                    bool(body.get("totalEstimated")),
                    len(body["results"]),
                )
            print(f"search {kind}: {summary(times)} ({len(times)} searches)")
            for label in sorted(answered)[:3]:
                total, estimated, shown = answered[label]
                exact = exact_count(store, _of(batch, label))
                flag = "estimated" if estimated else "exact"
                print(f"  {label}: total {total:,} ({flag}; counted: {exact:,}), {shown} shown")
            p99 = percentile(times, 0.99) * 1000
            print("  " + verdict(f"p99 {kind}", p99, 50.0, 200.0, lower_is_better=True))


def _of(batch: list[Search], label: str) -> ExecutionQuery:
    return next(s.query for s in batch if s.label == label)


@contextmanager
def perch_server(folder: Path, env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """``perch server local`` over the filled database; its URL and an API token."""
    data_dir = folder / "data"
    log_path = folder / "server.log"
    environment = {
        **os.environ,
        "PERCH_ADMIN_USERNAME": ADMIN[0],
        "PERCH_ADMIN_PASSWORD": ADMIN[1],
        **env,
    }
    command = [sys.executable, "-m", "perch", "server", "local", "--port", "0"]
    command += ["--data-dir", str(data_dir), "--workers", "1"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
        try:
            url = wait_ready(process, data_dir, log_path)
            with httpx.Client(base_url=url, auth=ADMIN, timeout=30) as admin:
                account = admin.post("/api/v1/service-accounts", json={"name": "bench"})
                account.raise_for_status()
                bound = admin.post(
                    "/api/v1/main/bindings",
                    json={
                        "type": "SERVICE_ACCOUNT",
                        "externalId": account.json()["id"],
                        "roleId": "Admin",
                    },
                )
                bound.raise_for_status()
                created = admin.post(
                    f"/api/v1/service-accounts/{account.json()['id']}/api-tokens",
                    json={"name": "bench"},
                )
                created.raise_for_status()
            yield url, created.json()["token"]
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)


def run(name: str, store: SqlStore, folder: Path, env: dict[str, str], args: Any) -> None:
    print(f"\n== {name}: {args.executions:,} executions")
    seconds = bulk_insert(store, executions, rows(args.executions))
    print(f"inserted in {seconds:.1f} s ({args.executions / seconds:,.0f} executions/s)")
    with perch_server(folder, env) as (url, token):
        measure(store, url, token, args.searches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--searches", type=int, default=200, help="searches of each kind")
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--database-url", default=os.environ.get("PERCH_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    if args.database in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as name:
            folder = Path(name)
            store = open_store(None, data_dir=folder / "data")
            try:
                run("SQLite", store, folder, {"PERCH_DATABASE_URL": ""}, args)
            finally:
                store.close()
    if args.database in ("postgres", "both"):
        if not args.database_url:
            sys.exit("PostgreSQL: give --database-url or set PERCH_TEST_POSTGRES_URL")
        schema = f"bench_search_{uuid.uuid4().hex[:8]}"
        store = open_store(args.database_url, schema=schema)
        env = {"PERCH_DATABASE_URL": args.database_url, "PERCH_DATABASE_SCHEMA": schema}
        try:
            with tempfile.TemporaryDirectory() as name:
                run("PostgreSQL", store, Path(name), env, args)
        finally:
            store.close()
            engine = create_engine(database_url(args.database_url, None))
            with engine.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            engine.dispose()


if __name__ == "__main__":
    main()
