"""jq programs run in worker processes that can be stopped.

libjq runs a program in one native call: in the server's process it would hold the GIL for as
long as the program wants (``last(range(1e12))``) and read the server's environment (``$ENV``).
So the ``jq`` filter sends each program to a small pool of worker processes
(:mod:`perch.templating.jq_worker`), started with an empty environment and a capped address
space. A caller waits at most the time its rendering has left; past it, the worker is killed
and the rendering fails with the time limit, while the server goes on serving.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path
from time import monotonic as _now
from typing import Any, Final

from perch.errors import TemplateBudgetError, TemplateRenderError
from perch.templating.budget import limits

WORKER: Final = Path(__file__).with_name("jq_worker.py")
MEMORY_LIMIT: Final = 512 << 20
"""Bytes of address space of one worker (its Python, libjq and the program's data)."""
MAX_WORKERS: Final = 4


class JqError(TemplateRenderError):
    """The program is invalid or failed; ``invalid`` when it did not compile."""

    def __init__(self, message: str, *, invalid: bool = False) -> None:
        super().__init__(message)
        self.invalid = invalid


class _Worker:
    """One worker process and the bytes it has answered beyond the last full line."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(WORKER), str(MEMORY_LIMIT), str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={"LC_ALL": "C.UTF-8"},
            close_fds=True,
        )
        self._pending = b""

    def ask(self, request: dict[str, Any], timeout: float, limit: int) -> dict[str, Any] | None:
        """The answer, or None when the worker took longer than ``timeout`` or died."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            self.process.stdin.flush()
        except OSError:
            return None
        fd = self.process.stdout.fileno()
        deadline = _now() + timeout
        while b"\n" not in self._pending:
            left = deadline - _now()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk or len(self._pending) > limit:
                return None
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


class JqPool:
    """Idle workers, handed to one caller at a time; at most :data:`MAX_WORKERS` exist."""

    def __init__(self, size: int = MAX_WORKERS) -> None:
        self._size = size
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()  # busy ones too, to kill them when the server stops
        self._count = 0
        self._ready = threading.Condition()

    def _take(self, timeout: float) -> _Worker:
        with self._ready:
            deadline = _now() + timeout
            while not self._idle and self._count >= self._size:
                left = deadline - _now()
                if left <= 0 or not self._ready.wait(left):
                    raise _busy()
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                self._all.discard(worker)
                self._count -= 1
            self._count += 1
        try:
            worker = _Worker()
        except BaseException:
            self._dropped()
            raise
        with self._ready:
            self._all.add(worker)
        return worker

    def _give_back(self, worker: _Worker) -> None:
        with self._ready:
            self._idle.append(worker)
            self._ready.notify()

    def _dropped(self, worker: _Worker | None = None) -> None:
        with self._ready:
            if worker is not None:
                self._all.discard(worker)
            self._count -= 1
            self._ready.notify()

    def run(self, program: str, input_text: str, *, timeout: float, limit: int) -> list[Any]:
        """The results of ``program`` on the JSON text ``input_text``."""
        worker = self._take(timeout)
        request = {"program": program, "input": input_text, "limit": limit}
        answer = worker.ask(request, timeout, limit + 1024)
        if answer is None:
            crashed = not worker.alive()
            worker.kill()
            self._dropped(worker)
            if crashed:
                raise JqError(f"it stopped the jq worker (memory limit {MEMORY_LIMIT >> 20} MB)")
            raise _too_long(timeout)
        self._give_back(worker)
        if "error" in answer:
            raise JqError(str(answer["error"]), invalid=bool(answer.get("invalid")))
        results: list[Any] = answer["results"]
        return results

    def close(self) -> None:
        with self._ready:
            workers, self._all, self._idle = list(self._all), set(), []
            self._count = 0
        for worker in workers:
            worker.kill()


def _too_long(timeout: float) -> TemplateBudgetError:
    return TemplateBudgetError(
        f"The jq expression ran longer than the template time limit of {limits().time:g} s "
        f"(it was stopped after the {timeout:.2g} s the rendering had left)"
    )


def _busy() -> TemplateBudgetError:
    return TemplateBudgetError(
        f"Every jq worker stayed busy for the whole template time limit of {limits().time:g} s"
    )


POOL: Final = JqPool()
atexit.register(POOL.close)
