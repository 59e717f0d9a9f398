"""Benchmark: executions of a 3-task flow created over HTTP and run to SUCCESS, per minute, and
the server CPU one create costs.

Run with ``python benchmarks/http_throughput.py [--database-url URL] [--executions N]
[--clients C] [--web-processes W]``.

- On SQLite (default): ``perch server local`` as a subprocess. Target >= 9,000 executions/min.
- With ``--database-url postgresql://…``: ``perch db upgrade`` on a fresh schema, then
  ``perch server webserver --workers W`` (default 2 processes on one port), one ``executor`` and
  one ``worker`` as subprocesses. Target >= 12,000 executions/min.

C client threads (default 8) of this process send ``POST /api/v1/main/executions/{ns}/{flow}``
with a Bearer token over kept-alive connections (``http.client``: the clients' own CPU stays
small beside the server's). Two figures:

1. **Server CPU per create.** Creates of a flow whose only task is a Pause (the engine starts
   it and stops): the user+system CPU of every Perch process (read from ``/proc``, children
   included) divided by the creates. Target < 2 ms. PostgreSQL's own CPU is not counted.
2. **Executions per minute.** Creates of a flow of three tasks (Log, Return, Log); from the
   first create to the moment every execution is SUCCESS (polled from the database every
   0.25 s), and the server CPU per completed execution.

The machine's load average is printed first: other processes skew the figures.
"""

from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from api_resume import ADMIN, perch_server
from engine_harness import count_in, verdict

from perch.engine.ports import Store
from perch.engine.states import StateType
from perch.store import open_store

NAMESPACE = "bench.http"
GATE = f"""\
id: gate
namespace: {NAMESPACE}
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
"""
THREE = f"""\
id: three
namespace: {NAMESPACE}
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "hello from {{{{ execution.id }}}}"
  - id: compute
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ 6 * 7 }}}}"
  - id: bye
    type: io.kestra.plugin.core.log.Log
    message: "the answer is {{{{ outputs.compute.value }}}}"
"""
CREATE_TARGET_MS = 2.0
SQLITE_TARGET, POSTGRES_TARGET = 9000.0, 12000.0
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Deployment:
    url: str
    token: str
    pids: list[int]
    store: Store


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of ``pids`` and all their descendants, so far."""
    total = 0
    pending = list(pids)
    while pending:
        pid = pending.pop()
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
        pending += _children(pid)
    return total / TICKS


def _token(url: str) -> str:
    """A token of a service account with the Admin role in tenant ``main``."""
    with httpx.Client(base_url=url, auth=ADMIN, timeout=30) as admin:
        answer = admin.post("/api/v1/service-accounts", json={"name": "bench-http"})
        answer.raise_for_status()
        account = answer.json()
        bound = admin.post(
            "/api/v1/main/bindings",
            json={"type": "SERVICE_ACCOUNT", "externalId": account["id"], "roleId": "Admin"},
        )
        bound.raise_for_status()
        made = admin.post(
            f"/api/v1/service-accounts/{account['id']}/api-tokens", json={"name": "bench"}
        )
        made.raise_for_status()
        return str(made.json()["token"])


def _deploy(url: str, token: str, source: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        answer = http.post(
            "/api/v1/main/flows",
            content=source,
            headers={"Content-Type": "application/x-yaml", "Authorization": f"Bearer {token}"},
        )
        if answer.status_code != 200:
            raise RuntimeError(f"deploy answered {answer.status_code}: {answer.text}")


@contextmanager
def sqlite_deployment(folder: Path) -> Iterator[Deployment]:
    with perch_server(folder) as server:
        store = open_store(None, data_dir=server.data_dir)
        try:
            token = _token(server.url)
            yield Deployment(server.url, token, [server.process.pid], store)
        finally:
            store.close()  # type: ignore[attr-defined]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the web server exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the web server did not start: {log.read_text()}")


@contextmanager
def postgres_deployment(folder: Path, url: str, web: int) -> Iterator[Deployment]:
    schema = f"perch_bench_{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "PERCH_DATABASE_URL": url,
        "PERCH_DATABASE_SCHEMA": schema,
        "PERCH_ADMIN_USERNAME": ADMIN[0],
        "PERCH_ADMIN_PASSWORD": ADMIN[1],
    }
    base = [sys.executable, "-m", "perch"]
    data = ["--data-dir", str(folder / "data")]
    subprocess.run([*base, "db", "upgrade", *data], env=env, check=True, capture_output=True)
    port = _free_port()
    roles = [
        ["webserver", "--port", str(port), "--workers", str(web)],
        ["executor"],
        ["worker", "--workers", "4"],
    ]
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    store = open_store(url, schema=schema)
    try:
        for role in roles:
            log = folder / f"{role[0]}.log"
            logs.append(log)
            with log.open("wb") as out:
                processes.append(
                    subprocess.Popen(
                        [*base, "server", role[0], *data, *role[1:]],
                        env=env,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )
        web_url = f"http://127.0.0.1:{port}"
        _wait_http(web_url, processes[0], logs[0])
        time.sleep(2.0)  # the sibling web processes and the other roles finish starting
        token = _token(web_url)
        yield Deployment(web_url, token, [p.pid for p in processes], store)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        with store.transaction() as tx:
            tx.connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')  # type: ignore[attr-defined]
        store.close()  # type: ignore[attr-defined]


def create_all(deployment: Deployment, flow_id: str, total: int, clients: int) -> float:
    """Send ``total`` creates from ``clients`` threads; the seconds it took."""
    host, port = deployment.url.removeprefix("http://").split(":")
    path = f"/api/v1/main/executions/{NAMESPACE}/{flow_id}"
    headers = {
        "Authorization": f"Bearer {deployment.token}",
        "Content-Type": "multipart/form-data; boundary=perchbench",
    }
    body = b"--perchbench--\r\n"
    shares = [total // clients + (1 if i < total % clients else 0) for i in range(clients)]
    failures: list[str] = []
    barrier = threading.Barrier(clients + 1)

    def work(count: int) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=120)
        barrier.wait()
        for _ in range(count):
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200:
                failures.append(f"{response.status}: {answer[:200]!r}")
        connection.close()

    threads = [threading.Thread(target=work, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} creates failed, e.g. {failures[0]}")
    return time.perf_counter() - start


def wait_for(store: Store, state: StateType, expected: int, timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while count_in(store, state) < expected:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {count_in(store, state)} of {expected} are {state.value}")
        time.sleep(0.25)


def measure(deployment: Deployment, executions: int, clients: int, target: float) -> None:
    _deploy(deployment.url, deployment.token, GATE)
    _deploy(deployment.url, deployment.token, THREE)
    create_all(deployment, "gate", 50, clients)  # warm-up: connections, caches, first renders
    wait_for(deployment.store, StateType.PAUSED, 50)

    creates = max(executions // 2, 200)
    cpu = cpu_seconds(deployment.pids)
    seconds = create_all(deployment, "gate", creates, clients)
    wait_for(deployment.store, StateType.PAUSED, 50 + creates)
    per_create = (cpu_seconds(deployment.pids) - cpu) / creates * 1000
    print(
        f"creates of a Pause flow: {creates} in {seconds:.2f} s ({creates / seconds:,.0f}/s), "
        f"server CPU {per_create:.2f} ms per create (target < {CREATE_TARGET_MS:g} ms)"
    )
    print(f"  {verdict('create CPU', per_create, CREATE_TARGET_MS, 6.0, lower_is_better=True)}")

    cpu = cpu_seconds(deployment.pids)
    start = time.perf_counter()
    create_all(deployment, "three", executions, clients)
    wait_for(deployment.store, StateType.SUCCESS, executions)
    elapsed = time.perf_counter() - start
    per_execution = (cpu_seconds(deployment.pids) - cpu) / executions * 1000
    rate = executions / elapsed * 60
    print(
        f"3-task executions: {executions} created and SUCCESS in {elapsed:.2f} s = "
        f"{rate:,.0f}/min (target >= {target:,.0f}/min), server CPU {per_execution:.2f} ms each"
    )
    print(f"  {verdict('executions per minute', rate, target, target / 3, lower_is_better=False)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="PostgreSQL URL (default SQLite)")
    parser.add_argument("--executions", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--web-processes", type=int, default=2, help="PostgreSQL only")
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load} (other processes skew the figures)")
    with tempfile.TemporaryDirectory(prefix="perch-bench-") as folder:
        if args.database_url:
            print(f"PostgreSQL: webserver x{args.web_processes} + executor + worker")
            with postgres_deployment(
                Path(folder), args.database_url, args.web_processes
            ) as deployment:
                measure(deployment, args.executions, args.clients, POSTGRES_TARGET)
        else:
            print("SQLite: perch server local")
            with sqlite_deployment(Path(folder)) as deployment:
                measure(deployment, args.executions, args.clients, SQLITE_TARGET)


if __name__ == "__main__":
    main()
