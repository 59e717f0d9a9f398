"""The jq worker: a separate process that runs jq programs for the ``jq`` filter.

Run as a script (``python -I jq_worker.py <memory bytes>``) by :mod:`perch.templating.jqpool`,
never imported by the server. It starts with an empty environment (so ``$ENV`` and ``env``
are ``{}``), caps its own address space, and answers one request per line on stdin:

    request:  {"program": str, "input": str (JSON text), "limit": int (bytes of output)}
    answer:   {"results": [...]} or {"error": str}

A program that runs too long is not its business: the server kills the process and starts
another. End of input ends the process, so it never outlives the server.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import sys
from typing import Any

# Directives that would read a module or a data file from the server's disk.
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')
_DIRECTIVE = re.compile(r"(?<![\w$])(import|include|modulemeta|get_search_list)(?!\w)")


def _refusal(program: str) -> str | None:
    found = _DIRECTIVE.search(_STRINGS.sub('""', program))
    if found:
        return f"'{found.group(1)}' is not allowed: jq programs cannot read files"
    return None


def _answer(request: dict[str, Any], compiled: dict[str, Any], jq: Any) -> dict[str, Any]:
    program = request["program"]
    refusal = _refusal(program)
    if refusal is not None:
        return {"error": refusal, "invalid": True}
    runner = compiled.get(program)
    if runner is None:
        try:
            runner = jq.compile(program)
        except ValueError as exc:
            return {"error": str(exc), "invalid": True}
        if len(compiled) >= 256:
            compiled.clear()
        compiled[program] = runner
    try:
        results = list(runner.input_text(request["input"]).all())
    except ValueError as exc:
        return {"error": str(exc)}
    text = json.dumps(results, allow_nan=False)
    if len(text) > request["limit"]:
        return {"error": f"its result is larger than the limit of {request['limit']} bytes"}
    return {"results": results}


def _die_with_the_server() -> None:
    """Ask Linux to kill this process when the server goes (a busy program never reads the
    end of its input); elsewhere the server kills its workers when it stops."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig, sigkill = 1, 9
        libc.prctl(pr_set_pdeathsig, sigkill, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != int(sys.argv[2]):  # the server went before the request above
        os._exit(0)


NICENESS = 10
"""How much lower than the server's this process's CPU priority is."""


def _yield_the_cpu() -> None:
    """Run below the server's priority: a program busy for its whole time budget must not take
    a core from the thread answering the server's requests (it still gets every idle cycle)."""
    with contextlib.suppress(OSError, AttributeError):
        os.nice(NICENESS)


def main() -> None:
    os.environ.clear()
    _die_with_the_server()
    _yield_the_cpu()
    memory = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    import jq  # after the cap: the library's own allocations count too

    compiled: dict[str, Any] = {}
    out = sys.stdout
    for line in sys.stdin:
        try:
            answer = _answer(json.loads(line), compiled, jq)
        except MemoryError:
            compiled.clear()
            answer = {"error": f"it needs more memory than the limit of {memory >> 20} MB"}
        except (ValueError, TypeError) as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer, allow_nan=False) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
