"""What a script prints: plain lines become log lines, ``::{...}::`` lines talk to the server.

A line whose whole text (leading and trailing blanks aside) is ``::`` + a JSON object + ``::``
is a message, as the ``kestra`` Python package prints it (``Kestra.outputs({...})``):

* ``{"outputs": {...}}``: merged into the task's ``vars`` output (a later key wins);
* ``{"logs": [{"level": ..., "message": ...}, ...]}``: log lines at their own level;
* ``{"metrics": [...]}``: accepted; each one is noted as a DEBUG log line (Perch keeps no
  metrics yet).

A line that looks like a message but is not valid JSON is logged as a plain line. Standard
output is logged at INFO and standard error at ERROR, as Kestra does; the task's state comes from
the exit code alone.

:class:`Collector` keeps what one attempt printed within bounds: a plain line is cut at
:data:`MAX_LINE_BYTES`, and past :data:`MAX_LOG_BYTES` or :data:`MAX_LOG_LINES` further lines are
dropped with one note. Messages have their own budget (:data:`MAX_MESSAGE_BYTES`).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

MAX_LINE_BYTES = 10 * 1024
"""The longest plain line logged; longer ones are cut, with a note at the end."""
MAX_MESSAGE_LINE_BYTES = 1024 * 1024
"""The longest ``::{...}::`` line read (and so the longest line read at all)."""
MAX_LOG_BYTES = 10 * 1024 * 1024
"""What one attempt may log in all; beyond it, lines are dropped."""
MAX_LOG_LINES = 50_000
"""How many log lines one attempt may write."""
MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""How many bytes of ``::{...}::`` messages one attempt may send."""

STDOUT = "stdout"
STDERR = "stderr"
LEVELS = ("ERROR", "WARN", "INFO", "DEBUG", "TRACE")
_LEVEL_NAMES = {"WARNING": "WARN", "CRITICAL": "ERROR", "FATAL": "ERROR"}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_message(line: str) -> dict[str, Any] | None:
    """The JSON object of a ``::{...}::`` line, or ``None`` when ``line`` is a plain line."""
    text = line.strip()
    if len(text) < 6 or not (text.startswith("::{") and text.endswith("}::")):
        return None
    try:
        value = json.loads(text[2:-2], parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def level_of(value: Any) -> str:
    """A log level named by a script, as one of :data:`LEVELS` (INFO when unknown)."""
    name = str(value or "").strip().upper()
    name = _LEVEL_NAMES.get(name, name)
    return name if name in LEVELS else "INFO"


def _metric_text(metric: Any) -> str:
    if not isinstance(metric, dict):
        return f"Metric {json.dumps(metric, ensure_ascii=False)[:200]}"
    name = metric.get("name")
    kind = metric.get("type") or "metric"
    tags = metric.get("tags") or {}
    shown = f" {json.dumps(tags, ensure_ascii=False)}" if tags else ""
    return f"Metric {kind} '{name}' = {metric.get('value')}{shown}"


@dataclass
class Collector:
    """Turns the lines of one attempt into log lines and ``vars``; safe for the two reader
    threads (standard output and standard error) to feed at once."""

    max_line_bytes: int = MAX_LINE_BYTES
    max_log_bytes: int = MAX_LOG_BYTES
    max_log_lines: int = MAX_LOG_LINES
    max_message_bytes: int = MAX_MESSAGE_BYTES
    logs: list[tuple[str, str]] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    stdout_lines: int = 0
    stderr_lines: int = 0
    _log_bytes: int = 0
    _message_bytes: int = 0
    _logs_full: bool = False
    _messages_full: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, level: str, message: str) -> None:
        """A line of the server's own about this attempt (always kept)."""
        with self._lock:
            self.logs.append((level, message))

    def feed(self, stream: str, raw: bytes, *, cut: bool = False) -> None:
        """One line read from ``stream`` (``cut`` when the reader dropped its end)."""
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        with self._lock:
            if stream == STDERR:
                self.stderr_lines += 1
            else:
                self.stdout_lines += 1
            message = None if cut else parse_message(text)
            if message is not None:
                self._take_message(message, len(raw))
                return
            level = "ERROR" if stream == STDERR else "INFO"
            if cut or len(raw) > self.max_line_bytes:
                kept = raw[: self.max_line_bytes].decode("utf-8", errors="ignore").rstrip("\r\n")
                text = f"{kept} … [line cut at {self.max_line_bytes} bytes]"
            self._log(level, text)

    def _take_message(self, message: dict[str, Any], size: int) -> None:
        if self._message_bytes + size > self.max_message_bytes:
            if not self._messages_full:
                self._messages_full = True
                limit = self.max_message_bytes
                note = f"Further ::{{...}}:: messages ignored: over {limit} bytes"
                self.logs.append(("WARN", note))
            return
        self._message_bytes += size
        outputs = message.get("outputs")
        if isinstance(outputs, dict):
            self.vars.update(outputs)
        for entry in message.get("logs") or ():
            if isinstance(entry, dict):
                self._log(level_of(entry.get("level")), str(entry.get("message", "")))
        for metric in message.get("metrics") or ():
            self._log("DEBUG", _metric_text(metric))

    def _log(self, level: str, text: str) -> None:
        if self._logs_full:
            return
        size = len(text.encode("utf-8", errors="replace"))
        if self._log_bytes + size > self.max_log_bytes or len(self.logs) >= self.max_log_lines:
            self._logs_full = True
            self.logs.append(
                (
                    "WARN",
                    f"Further output dropped: this attempt reached {len(self.logs)} lines "
                    f"or {self._log_bytes} bytes of logs",
                )
            )
            return
        self._log_bytes += size
        self.logs.append((level, text))
