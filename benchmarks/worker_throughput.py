"""Benchmark: trivial tasks per second through 1, 2 and 4 ``perch server worker`` processes.

Run with ``python benchmarks/worker_throughput.py --database-url postgresql://...
[--executions 2000] [--tasks 5] [--processes 1,2,4] [--threads 4]`` (the worker role shares a
PostgreSQL database; each process count gets a temporary schema of its own, dropped at the
end). Target: >= 2,000 tasks/s with 2 worker processes.

A *trivial task* is a Log whose message calls ``range()``: the engine does not run it inline
(in the transaction that dispatches it, as it does a plain Log) but queues a job for a worker,
which claims it, renders it outside any transaction and reports its result. Each run:

1. This process deploys a flow of ``--tasks`` such Logs in sequence and creates
   ``--executions`` executions of it (one job each is then waiting; the result of each task
   queues the next one).
2. One ``perch server executor`` and N ``perch server worker`` processes start (``--threads``
   worker threads each). The figure is measured from the moment the last of them said it is
   ready (every worker claiming, the queue still full) to the last task's end: the task runs
   that ended in that window divided by its length, from the task runs' state histories
   (written by the workers with the machine's clock).
3. CPU per task: user + system time of each subprocess (``/proc/<pid>/stat``) and of the
   PostgreSQL backends serving them (found by their ``application_name``), over the same window,
   divided by the tasks that ended in it. CPU time is not skewed by other processes as the wall
   time is: on a loaded machine, compare those.

The inline path is printed beside it: the same flow with a plain message, whose tasks the
engine runs inside the transaction that dispatches them; here, while this process creates the
executions (a figure of this one process, no worker involved).

The load average is printed first: other processes on the machine skew the wall-clock figures.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine_harness import all_executions, count_in, create_many, deploy

from perch.engine.ids import new_id
from perch.engine.states import StateType
from perch.store import SqlStore, open_store

NAMESPACE = "bench"
FLOW_ID = "trivial"
TARGET = 2000.0  # tasks per second with 2 worker processes
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ENCRYPTION_KEY = "d29ya2VyLWJlbmNoLWtleS0wMTIzNDU2Nzg5YWJjZCE="


def flow_source(tasks: int, *, worker: bool) -> str:
    suffix = " {{ range(1, 2) | length }}" if worker else ""
    steps = "".join(
        f"  - id: t{n}\n    type: io.kestra.plugin.core.log.Log\n"
        f'    message: "step {n} of {{{{ execution.id }}}}{suffix}"\n'
        for n in range(tasks)
    )
    return f"id: {FLOW_ID}\nnamespace: {NAMESPACE}\ntasks:\n{steps}"


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of one process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS  # utime, stime


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone)."""
    return sum(cpu_times(pid))


def load_average() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Role:
    role: str
    popen: subprocess.Popen[bytes]
    log: Path

    def ready(self) -> bool:
        return f"Perch {self.role} ready" in self.log.read_text(errors="replace")


@dataclass
class Schema:
    url: str
    name: str
    data_dir: Path
    store: SqlStore

    def env(self, application: str) -> dict[str, str]:
        env = dict(os.environ)
        separator = "&" if "?" in self.url else "?"
        env.update(
            PERCH_DATABASE_URL=f"{self.url}{separator}application_name={application}",
            PERCH_DATABASE_SCHEMA=self.name,
            PERCH_ENCRYPTION_KEY=ENCRYPTION_KEY,
            PYTHONPATH=os.pathsep.join(
                [str(Path(__file__).resolve().parents[1] / "src"), env.get("PYTHONPATH", "")]
            ),
        )
        return env

    def backend_pids(self, application: str) -> list[int]:
        with self.store.transaction() as tx:
            rows = tx.connection.exec_driver_sql(  # type: ignore[attr-defined]
                "SELECT pid FROM pg_stat_activity WHERE application_name = %(app)s",
                {"app": application},
            )
            return [int(row[0]) for row in rows]


@contextmanager
def temporary_schema(url: str) -> Iterator[Schema]:
    os.environ.setdefault("PERCH_ENCRYPTION_KEY", ENCRYPTION_KEY)
    with tempfile.TemporaryDirectory(prefix="perch-bench-") as folder:
        name = f"perch_bench_{new_id().lower()}"
        data_dir = Path(folder) / "data"
        store = open_store(url, data_dir=data_dir, schema=name)
        try:
            yield Schema(url, name, data_dir, store)
        finally:
            with store.transaction() as tx:
                tx.connection.exec_driver_sql(  # type: ignore[attr-defined]
                    f'DROP SCHEMA "{name}" CASCADE'
                )
            store.close()


PROFILE: Path | None = None
"""Where ``--profile`` puts py-spy's collapsed stacks of each worker process."""


def spawn(schema: Schema, role: str, application: str, *extra: str) -> Role:
    name = f"{role}-{new_id()[:8]}"
    log = schema.data_dir.parent / f"{name}.log"
    command = [sys.executable, "-m", "perch", "server", role, "--data-dir", str(schema.data_dir)]
    if PROFILE is not None and role == "worker":
        output = PROFILE / f"{name}.txt"
        command = [
            "py-spy",
            "record",
            "--gil",
            "-r",
            "250",
            "-f",
            "raw",
            "-o",
            str(output),
            "--",
            *command,
        ]
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [*command, *extra],
            env=schema.env(application),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Role(role, popen, log)


def wait_ready(roles: list[Role], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    for role in roles:
        while not role.ready():
            if role.popen.poll() is not None:
                raise RuntimeError(f"{role.role} exited:\n{role.log.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{role.role} not ready:\n{role.log.read_text()}")
            time.sleep(0.02)


def stop(roles: list[Role]) -> None:
    for role in roles:
        if role.popen.poll() is None:
            # py-spy (--profile) writes its output on SIGINT; perch stops the same way on both.
            role.popen.send_signal(signal.SIGINT if PROFILE is not None else signal.SIGTERM)
    for role in roles:
        try:
            role.popen.wait(timeout=60)
        except subprocess.TimeoutExpired:
            role.popen.kill()
            role.popen.wait()


@dataclass(frozen=True)
class Figures:
    processes: int
    tasks: int
    seconds: float
    worker_cpu: float
    worker_system: float
    """The part of ``worker_cpu`` spent in the kernel (sockets, scheduling)."""
    executor_cpu: float
    database_cpu: float
    load: str

    @property
    def rate(self) -> float:
        return self.tasks / self.seconds

    def per_task_ms(self, cpu: float) -> float:
        return cpu / self.tasks * 1000


def ended_after(schema: Schema, since: datetime) -> tuple[int, datetime]:
    """How many task runs ended at or after ``since``, and when the last one did."""
    count, last = 0, since
    for execution in all_executions(schema.store):
        if execution.state.current is not StateType.SUCCESS:
            raise RuntimeError(f"{execution.id} ended {execution.state.current}")
        for run in execution.task_runs:
            end = run.state.histories[-1].date
            if end >= since:
                count += 1
                last = max(last, end)
    return count, last


def run_workers(url: str, processes: int, executions: int, tasks: int, threads: int) -> Figures:
    with temporary_schema(url) as schema:
        deploy(schema.store, flow_source(tasks, worker=True))
        create_many(schema.store, NAMESPACE, FLOW_ID, executions, batch=200)
        tag = f"perch-bench-{new_id()[:10].lower()}"
        roles = [spawn(schema, "executor", f"{tag}-x")] + [
            spawn(schema, "worker", f"{tag}-w", "--workers", str(threads)) for _ in range(processes)
        ]
        try:
            wait_ready(roles)
            since = datetime.now(UTC)
            cpu_start = {r.popen.pid: cpu_seconds(r.popen.pid) for r in roles}
            system_start = sum(cpu_times(r.popen.pid)[1] for r in roles if r.role == "worker")
            backends = schema.backend_pids(f"{tag}-w") + schema.backend_pids(f"{tag}-x")
            db_start = {pid: cpu_seconds(pid) for pid in backends}
            while count_in(schema.store, StateType.SUCCESS) < executions:
                for role in roles:
                    if role.popen.poll() is not None:
                        raise RuntimeError(f"{role.role} exited:\n{role.log.read_text()}")
                time.sleep(0.1)
            load = load_average()
            cpu = {r.popen.pid: cpu_seconds(r.popen.pid) - cpu_start[r.popen.pid] for r in roles}
            system = sum(cpu_times(r.popen.pid)[1] for r in roles if r.role == "worker")
            system -= system_start
            backends = schema.backend_pids(f"{tag}-w") + schema.backend_pids(f"{tag}-x")
            db_cpu = sum(cpu_seconds(pid) - db_start.get(pid, 0.0) for pid in backends)
        finally:
            stop(roles)
        done, last = ended_after(schema, since)
        worker_cpu = sum(cpu[r.popen.pid] for r in roles if r.role == "worker")
        executor_cpu = sum(cpu[r.popen.pid] for r in roles if r.role == "executor")
        seconds = max((last - since).total_seconds(), 1e-6)
        return Figures(processes, done, seconds, worker_cpu, system, executor_cpu, db_cpu, load)


def run_inline(url: str, executions: int, tasks: int) -> tuple[float, float]:
    """Seconds of wall and CPU time (this process) per task on the inline path."""
    from perch.server import LocalRuntime

    with temporary_schema(url) as schema:
        deploy(schema.store, flow_source(tasks, worker=False))
        runtime = LocalRuntime(schema.store, workers=1)  # binds the inline runner
        started, cpu_started = time.perf_counter(), time.process_time()
        create_many(schema.store, NAMESPACE, FLOW_ID, executions, batch=200)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        del runtime
        succeeded = count_in(schema.store, StateType.SUCCESS)
        if succeeded != executions:
            raise RuntimeError(f"inline: {succeeded} of {executions} executions succeeded")
        return elapsed / (executions * tasks), cpu / (executions * tasks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("PERCH_TEST_POSTGRES_URL"),
        help="PostgreSQL URL (default $PERCH_TEST_POSTGRES_URL)",
    )
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--tasks", type=int, default=5, help="trivial tasks per execution")
    parser.add_argument("--processes", default="1,2,4", help="worker process counts to run")
    parser.add_argument("--threads", type=int, default=4, help="worker threads per process")
    parser.add_argument("--skip-inline", action="store_true")
    parser.add_argument(
        "--profile", type=Path, default=None, help="record the workers with py-spy into this folder"
    )
    args = parser.parse_args()
    global PROFILE  # noqa: PLW0603 - a switch of this script
    PROFILE = args.profile
    if not args.database_url or not args.database_url.startswith("postgres"):
        parser.error("--database-url must be a PostgreSQL URL (worker processes share it)")
    counts = [int(n) for n in args.processes.split(",")]
    total = args.executions * args.tasks
    print(f"{os.cpu_count()} CPUs, load average {load_average()} (other processes skew wall time)")
    print(
        f"{args.executions} executions x {args.tasks} trivial Log tasks = {total} tasks; "
        f"1 executor process + N worker processes of {args.threads} threads"
    )
    rows = [
        run_workers(args.database_url, n, args.executions, args.tasks, args.threads) for n in counts
    ]
    inline = (
        None if args.skip_inline else run_inline(args.database_url, args.executions, args.tasks)
    )
    print()
    print(
        f"{'path':<18} {'tasks':>6} {'tasks/s':>8} {'ms/task':>8} "
        f"{'CPU ms/task: workers':>21} {'(kernel)':>9} {'executor':>9} {'postgres':>9}"
        "  load at end"
    )
    for f in rows:
        print(
            f"{f'{f.processes} worker process' + ('es' if f.processes > 1 else ''):<18} "
            f"{f.tasks:>6} {f.rate:>8,.0f} {1000 / f.rate:>8.3f} "
            f"{f.per_task_ms(f.worker_cpu):>21.3f} {f.per_task_ms(f.worker_system):>9.3f} "
            f"{f.per_task_ms(f.executor_cpu):>9.3f} "
            f"{f.per_task_ms(f.database_cpu):>9.3f}  {f.load}"
        )
    if inline is not None:
        wall, cpu = inline
        print(
            f"{'inline (1 process)':<18} {total:>6} {1 / wall:>8,.0f} {wall * 1000:>8.3f} "
            f"{cpu * 1000:>21.3f} {'':>9} {'':>9} {'':>9}  {load_average()}"
        )
    two = next((f for f in rows if f.processes == 2), None)
    if two is not None:
        met = "meets" if two.rate >= TARGET else "MISSES"
        print(f"2 worker processes: {two.rate:,.0f} tasks/s, {met} the target of {TARGET:,.0f}/s")


if __name__ == "__main__":
    main()
