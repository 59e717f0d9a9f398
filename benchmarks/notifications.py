"""Benchmark: outbound notification tasks against a loopback receiver.

Run with ``python benchmarks/notifications.py [--quick] [--workers 4] [--database-url URL]``
(SQLite in a temporary folder by default; on PostgreSQL a temporary schema, dropped at the
end). The loops of ``perch server local`` run in this process; the receiver runs in a child
process of its own (a real webhook is on another machine: its handling must not compete with
the engine for the GIL, and its own time must not include waits for the engine's threads).

The receiver is a ``ThreadingHTTPServer`` speaking keep-alive HTTP/1.1 that reads each request
whole and answers ``200 ok`` at once, in one write. For each request it records the path, the
wall-clock arrival (the moment its request line was read) and its own handling time (request
line read → response written).

1. **Throughput.** A flow a user would write to notify several Slack channels: a ``ForEach``
   over the channel names (the default ``concurrencyLimit`` of 1) with one
   ``SlackIncomingWebhook`` task rendering a JSON payload (``--shape tasks``: the same number
   of webhook tasks written out one after another instead). ``--executions`` executions are
   created at once (in transactions of 100); the workers run their webhook tasks. Figures:
   webhook tasks per second from the first request the receiver got to the last one it
   answered, and end to end (first create → every execution SUCCESS, polled every 0.2 s:
   counting executions costs this process a few milliseconds of CPU), and this process's CPU
   time per webhook task (all its threads; the engine is bound by one GIL, so one core's worth
   of tasks per second is its ceiling here). Target >= 500/s.
2. **Added latency.** A flow of one ``io.kestra.plugin.core.http.Request`` (a POST of a small
   JSON body, whose JSON answer becomes the outputs), run ``--requests`` times one after
   another. For each, the task run's RUNNING → SUCCESS time from its state history minus the
   receiver's own time for that request (matched by the execution id in the path). Target
   p50 < 5 ms.

The figures depend on what else the machine runs: the load average is printed first.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from engine_harness import BENCH, count_in, create_many, deploy, percentile, verdict

from perch.engine import service
from perch.engine.ids import new_id
from perch.engine.model import DEFAULT_TENANT
from perch.engine.ports import ExecutionQuery, Store
from perch.engine.states import StateType
from perch.server import LocalRuntime
from perch.store import open_store

NAMESPACE = "bench.notifications"
RECORDS_PATH = "/_records"
WARMUP = 10
"""Latency runs made before the measured ones (connection set-up, first renders)."""
POLL_SECONDS = 0.2

THROUGHPUT_TARGET = 500.0  # webhook tasks per second
THROUGHPUT_FLOOR = 150.0
LATENCY_TARGET = 0.005  # seconds, p50
LATENCY_FLOOR = 0.020


# --- the receiver (child process) -------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    records: list[tuple[str, float, float]] = []  # (path, wall-clock arrival, own seconds)

    def parse_request(self) -> bool:
        # Called as soon as the request line has been read: the request has arrived.
        self._wall = time.time()
        self._arrived = time.perf_counter()
        return super().parse_request()

    def _answer(self, status: bytes, content_type: bytes, body: bytes) -> None:
        length = str(len(body)).encode()
        self.wfile.write(
            b"HTTP/1.1 "
            + status
            + b"\r\nContent-Type: "
            + content_type
            + b"\r\nContent-Length: "
            + length
            + b"\r\n\r\n"
            + body
        )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path.startswith("/probe/"):
            self._answer(b"200 OK", b"application/json", b'{"ok":true}')
        else:
            self._answer(b"200 OK", b"text/plain", b"ok")  # what Slack answers
        self.records.append((self.path, self._wall, time.perf_counter() - self._arrived))

    def do_GET(self) -> None:
        if self.path != RECORDS_PATH:
            self._answer(b"404 Not Found", b"text/plain", b"")
            return
        self._answer(b"200 OK", b"application/json", json.dumps(self.records).encode())

    def do_DELETE(self) -> None:
        self.records.clear()
        self._answer(b"204 No Content", b"text/plain", b"")

    def log_message(self, format: str, *args: object) -> None:
        pass


def serve_receiver() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.5)


@dataclass(frozen=True)
class Record:
    path: str
    arrived: float
    own: float


class ReceiverProcess:
    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._control = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def _call(self, method: str) -> bytes:
        self._control.request(method, RECORDS_PATH)
        response = self._control.getresponse()
        body = response.read()
        if response.status >= 300:
            raise RuntimeError(f"receiver answered {response.status}")
        return body

    def records(self) -> list[Record]:
        return [Record(*row) for row in json.loads(self._call("GET"))]

    def clear(self) -> None:
        self._call("DELETE")


@contextmanager
def receiver() -> Iterator[ReceiverProcess]:
    command = [sys.executable, str(Path(__file__).resolve()), "--receiver"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError(f"the receiver did not start: {line!r}")
        yield ReceiverProcess(process, int(line))
    finally:
        process.terminate()
        process.wait(timeout=10)


# --- the engine side ------------------------------------------------------------------------


@contextmanager
def runtime(database_url: str | None, workers: int) -> Iterator[Store]:
    with tempfile.TemporaryDirectory(prefix="perch-bench-") as folder:
        schema = f"perch_bench_{new_id().lower()}" if database_url else None
        store = open_store(database_url, data_dir=Path(folder) / "data", schema=schema)
        loops = LocalRuntime(store, workers=workers)
        loops.start()
        try:
            yield store
        finally:
            loops.stop()
            if schema is not None:
                with store.transaction() as tx:
                    tx.connection.exec_driver_sql(  # type: ignore[attr-defined]
                        f'DROP SCHEMA "{schema}" CASCADE'
                    )
            store.close()  # type: ignore[attr-defined]


PAYLOAD = (
    '      {"channel": "{{ taskrun.value }}",\n'
    '       "text": "*{{ flow.id }}* finished: execution {{ execution.id }}"}\n'
)


def slack_flow(url: str, channels: int, shape: str) -> str:
    names = [f"#team-{n}" for n in range(channels)]
    if shape == "foreach":
        return (
            f"id: notify_channels\nnamespace: {NAMESPACE}\ntasks:\n"
            "  - id: each_channel\n    type: io.kestra.plugin.core.flow.ForEach\n"
            f"    values: {json.dumps(names)}\n"
            "    tasks:\n"
            "      - id: slack\n"
            "        type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook\n"
            f'        url: "{url}/services/T0/B0/{{{{ execution.id }}}}"\n'
            "        payload: |\n" + "".join("    " + line for line in PAYLOAD.splitlines(True))
        )
    tasks = "".join(
        f"  - id: slack_{n}\n"
        "    type: io.kestra.plugin.notifications.slack.SlackIncomingWebhook\n"
        f'    url: "{url}/services/T0/B0/{{{{ execution.id }}}}"\n'
        "    payload: |\n" + PAYLOAD.replace("{{ taskrun.value }}", name)
        for n, name in enumerate(names)
    )
    return f"id: notify_channels\nnamespace: {NAMESPACE}\ntasks:\n{tasks}"


def request_flow(url: str) -> str:
    return (
        f"id: http_probe\nnamespace: {NAMESPACE}\ntasks:\n"
        "  - id: request\n    type: io.kestra.plugin.core.http.Request\n"
        f'    uri: "{url}/probe/{{{{ execution.id }}}}"\n'
        "    method: POST\n"
        '    body: \'{"execution": "{{ execution.id }}"}\'\n'
    )


@dataclass(frozen=True)
class Throughput:
    tasks: int
    receiver_rate: float
    end_to_end_rate: float
    receiver_seconds: float
    end_to_end_seconds: float
    cpu_per_task: float
    """Seconds of this process's CPU (all its threads) per webhook task, end to end."""


def throughput(
    store: Store, rx: ReceiverProcess, executions: int, channels: int, shape: str
) -> Throughput:
    deploy(store, slack_flow(rx.url, channels, shape))
    rx.clear()
    start = time.perf_counter()
    cpu_start = time.process_time()
    create_many(store, NAMESPACE, "notify_channels", executions, batch=100)
    # Counting executions costs a few milliseconds of this process's CPU: poll gently.
    while count_in(store, StateType.SUCCESS) < executions:
        if time.perf_counter() - start > 600:
            raise TimeoutError(f"only {count_in(store, StateType.SUCCESS)} of {executions} done")
        time.sleep(POLL_SECONDS)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    others = tuple(s for s in StateType if s is not StateType.SUCCESS)
    failed = service.search_executions(store, ExecutionQuery(states=others, size=1)).total
    if failed:
        raise RuntimeError(f"{failed} executions did not succeed")
    records = rx.records()
    tasks = executions * channels
    if len(records) != tasks:
        raise RuntimeError(f"the receiver got {len(records)} requests, expected {tasks}")
    first = min(r.arrived for r in records)
    last = max(r.arrived + r.own for r in records)
    return Throughput(
        tasks, tasks / (last - first), tasks / elapsed, last - first, elapsed, cpu / tasks
    )


@dataclass(frozen=True)
class Latency:
    added: list[float]
    own: list[float]
    task: list[float]


def latency(store: Store, rx: ReceiverProcess, count: int) -> Latency:
    deploy(store, request_flow(rx.url))
    ids: list[str] = []
    for index in range(WARMUP + count):
        if index == WARMUP:
            rx.clear()
        execution = service.create_execution(
            store, DEFAULT_TENANT, NAMESPACE, "http_probe", {}, BENCH
        )
        while not execution.state.current.is_terminated:
            time.sleep(0.002)
            execution = service.get_execution(store, execution.id)
        if execution.state.current is not StateType.SUCCESS:
            raise RuntimeError(f"{execution.id} ended {execution.state.current}")
        if index >= WARMUP:
            ids.append(execution.id)
    own_by_id = {r.path.rsplit("/", 1)[-1]: r.own for r in rx.records()}
    added, own, task = [], [], []
    for execution_id in ids:
        (run,) = service.get_execution(store, execution_id).task_runs
        dates = {h.state: h.date for h in run.state.histories}
        duration = (dates[StateType.SUCCESS] - dates[StateType.RUNNING]).total_seconds()
        task.append(duration)
        own.append(own_by_id[execution_id])
        added.append(duration - own_by_id[execution_id])
    return Latency(added, own, task)


def ms(values: list[float]) -> str:
    return ", ".join(
        f"p{int(q * 100)} {percentile(values, q) * 1000:.2f} ms" for q in (0.5, 0.9, 0.99)
    )


Row = tuple[str, str, str, str]


def report_throughput(store: Store, rx: ReceiverProcess, args: argparse.Namespace) -> list[Row]:
    executions = args.executions or (60 if args.quick else 300)
    shape = (
        f"ForEach over {args.channels} channels, one SlackIncomingWebhook"
        if args.shape == "foreach"
        else f"{args.channels} SlackIncomingWebhook tasks in sequence"
    )
    result = throughput(store, rx, executions, args.channels, args.shape)
    rate = result.receiver_rate
    print(f"throughput: {executions} executions x {shape} = {result.tasks} webhook tasks")
    print(
        f"  receiver, first request -> last answer: {result.receiver_seconds:.2f} s, "
        f"{rate:,.0f} tasks/s (target >= {THROUGHPUT_TARGET:.0f}/s)"
    )
    print(
        f"  end to end, first create -> all SUCCESS: {result.end_to_end_seconds:.2f} s, "
        f"{result.end_to_end_rate:,.0f} tasks/s"
    )
    print(
        f"  engine process CPU: {result.cpu_per_task * 1000:.2f} ms per webhook task "
        f"(one core's worth would be {1 / result.cpu_per_task:,.0f} tasks/s)"
    )
    ok = verdict("throughput", rate, THROUGHPUT_TARGET, THROUGHPUT_FLOOR, lower_is_better=False)
    print(f"  {ok}")
    return [
        ("webhook tasks/s (receiver)", f"{rate:,.0f}", ">= 500", _mark(rate >= THROUGHPUT_TARGET)),
        ("webhook tasks/s (end to end)", f"{result.end_to_end_rate:,.0f}", "", ""),
        ("engine CPU per webhook task", f"{result.cpu_per_task * 1000:.2f} ms", "", ""),
    ]


def report_latency(store: Store, rx: ReceiverProcess, args: argparse.Namespace) -> list[Row]:
    requests = args.requests or (50 if args.quick else 200)
    found = latency(store, rx, requests)
    p50 = percentile(found.added, 0.5)
    print(f"added latency: {requests} Request tasks one after another ({WARMUP} warm-up first)")
    print(f"  task run RUNNING -> SUCCESS:  {ms(found.task)}")
    print(f"  receiver's own time:          {ms(found.own)}")
    print(f"  added (task run - receiver):  {ms(found.added)}  (target p50 < 5 ms)")
    print(f"  {verdict('added latency', p50, LATENCY_TARGET, LATENCY_FLOOR, lower_is_better=True)}")
    return [
        ("added latency p50", f"{p50 * 1000:.2f} ms", "< 5 ms", _mark(p50 < LATENCY_TARGET)),
        ("added latency p99", f"{percentile(found.added, 0.99) * 1000:.2f} ms", "", ""),
        ("receiver's own time p50", f"{percentile(found.own, 0.5) * 1000:.3f} ms", "", ""),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller run")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default SQLite)")
    parser.add_argument("--executions", type=int, default=None, help="default 300 (quick 60)")
    parser.add_argument("--channels", type=int, default=10, help="webhook tasks per execution")
    parser.add_argument("--shape", choices=("foreach", "tasks"), default="foreach")
    parser.add_argument("--requests", type=int, default=None, help="default 200 (quick 50)")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--receiver", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver:
        serve_receiver()
        return
    rows: list[Row] = []
    with receiver() as rx, runtime(args.database_url, args.workers) as store:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"backend: {store.dialect}, {args.workers} workers, receiver {rx.url} (own process)")
        print(f"{os.cpu_count()} CPUs, load average {load} (other processes skew the figures)")
        if not args.skip_throughput:
            rows += report_throughput(store, rx, args)
        if not args.skip_latency:
            rows += report_latency(store, rx, args)
    print()
    print(f"{'figure':<30} {'value':>10}  {'target':<8} met")
    for name, value, target, mark in rows:
        print(f"{name:<30} {value:>10}  {target:<8} {mark}")


def _mark(ok: bool) -> str:
    return "yes" if ok else "NO"


if __name__ == "__main__":
    main()
