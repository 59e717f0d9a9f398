"""Where a command acts: on the local data folder, or with ``--server`` through a running server.

Most management commands (users, groups, roles, bindings, secrets, KV) do the same thing either
way; :class:`Target` picks the way from the options and reports a failure of either as the
same error (exit 1), so a command writes only what it does in each case.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from rich.table import Table

from perch.cli.local import console, open_data, report_error
from perch.cli.remote import Remote, connect
from perch.engine.ports import Store
from perch.errors import PerchError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Target:
    """The ``--data-dir``, ``--server``, ``--tenant`` and ``--token`` options of a command."""

    data_dir: Path
    server: str | None
    tenant: str
    token: str | None

    def run(
        self,
        remote: Callable[[Remote], T],
        local: Callable[[Store], T],
        *,
        create: bool = False,
    ) -> T:
        """``remote(client)`` with ``--server``, else ``local(store)`` on the data folder
        (created first with ``create``). A :class:`PerchError` of either, or a refusal of the
        server, is printed and exits 1."""
        try:
            if self.server:
                with connect(self.server, self.tenant, self.token) as client:
                    return remote(client)
            with open_data(self.data_dir, create=create) as store:
                return local(store)
        except PerchError as exc:
            report_error(exc)
            raise  # report_error exits; this keeps the type checker informed


def reported(compute: Callable[[], T]) -> T:
    """``compute()``, with a :class:`PerchError` printed as an error (exit 1): for what a
    command checks before it acts."""
    try:
        return compute()
    except PerchError as exc:
        report_error(exc)
        raise


def print_table(columns: Sequence[str], rows: Iterable[Sequence[str]], summary: str) -> None:
    """A borderless table of ``rows`` under ``columns``, then the ``summary`` line."""
    table = Table(*columns, box=None)
    for row in rows:
        table.add_row(*row)
    out = console()
    out.print(table)
    out.print(summary, markup=False)


def say(message: str) -> None:
    """One line of plain output (no markup: names typed by people print as they are)."""
    console().print(message, markup=False)
