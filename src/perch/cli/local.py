"""What the CLI commands that touch data share: where the data is, who acts, how to print.

The CLI works on the local data folder (``--data-dir``, ``PERCH_DATA_DIR``, default ``./.perch``)
or on ``PERCH_DATABASE_URL``, calling the service functions directly. When a ``perch server
local`` runs on the same folder, every commit nudges it so that it picks the work up at once.
With ``--server URL`` the commands talk to a running server instead (:mod:`perch.cli.remote`).
"""

from __future__ import annotations

import contextlib
import getpass
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

from perch.engine.ports import Store
from perch.engine.principal import Principal
from perch.engine.states import StateType
from perch.errors import InputValidationError, NotPaused, PerchError

DEFAULT_DATA_DIR = Path(".perch")

DataDirOption = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        envvar="PERCH_DATA_DIR",
        help="The local data folder (SQLite database, server files).",
    ),
]


def parse_states(values: list[str] | None, option: str = "--state") -> list[StateType]:
    """The states named by a repeatable ``--state`` (any case); an unknown name ends the
    command with the list of the known ones."""
    known = {state.value: state for state in StateType}
    states: list[StateType] = []
    for value in values or ():
        state = known.get(value.strip().upper())
        if state is None:
            raise typer.BadParameter(
                f"{value!r} is not a state; use one of {', '.join(known)}.",
                param_hint=f"'{option}'",
            )
        states.append(state)
    return states


STATE_HELP = "One of " + ", ".join(state.value for state in StateType) + "."


def console(*, stderr: bool = False) -> Console:
    return Console(stderr=stderr, soft_wrap=True, highlight=False)


def database_url() -> str | None:
    return os.environ.get("PERCH_DATABASE_URL") or None


def principal() -> Principal:
    """The acting user: ``PERCH_USER``, else the login name."""
    name = os.environ.get("PERCH_USER")
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "cli"
    return Principal(name)


@contextlib.contextmanager
def open_data(data_dir: Path, *, create: bool = False) -> Iterator[Store]:
    """The store of ``data_dir``, bound to a hub that nudges a running server.

    Without ``create``, a missing data folder is an error (a typo in ``--data-dir`` should not
    silently show an empty world); a database that cannot be opened is reported, not raised.
    """
    from perch.engine.auditlog import AuditOrigin, Channel, audit_origin
    from perch.engine.crosswake import cli_hub
    from perch.engine.executor import bind
    from perch.server import open_database

    url = database_url()
    prepare_data_dir(data_dir, create=create or url is not None)
    try:
        store = open_database(url, data_dir)
    except PerchError as exc:
        report_error(exc)
        raise  # unreachable: report_error exits
    bind(store, hub=cli_hub(data_dir, store))
    try:
        # What the commands record in the audit trail came through the command line.
        with audit_origin(AuditOrigin(Channel.CLI.value)):
            yield store
    finally:
        store.close()


def prepare_data_dir(data_dir: Path, *, create: bool) -> None:
    """Check (or create) the data folder; exit 1 with a clear message when it is unusable."""
    if data_dir.is_dir():
        return
    if data_dir.exists():
        fail(f"data folder {data_dir} is not a folder")
    if not create:
        fail(
            f"no Perch data folder at {data_dir}: deploy a flow first (perch flow deploy), "
            "or point --data-dir / PERCH_DATA_DIR at an existing one"
        )
    from perch.store.database import make_data_dir

    try:
        make_data_dir(data_dir)
    except OSError as exc:
        fail(f"cannot create data folder {data_dir}: {exc.strerror or exc}")


def parse_pairs(pairs: list[str] | None, what: str) -> dict[str, Any]:
    """``["k=v", ...]`` as a dict; a pair without ``=`` is an error."""
    values: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"{what} '{pair}' must be written KEY=VALUE")
        values[key] = value
    return values


def fail(message: str) -> None:
    console(stderr=True).print(Text(f"error: {message}", style="bold red"))
    raise typer.Exit(1)


def report_error(exc: PerchError) -> None:
    """Print an engine error clearly (every invalid input on its own line) and exit 1."""
    err = console(stderr=True)
    if isinstance(exc, InputValidationError):
        err.print(Text("error: invalid inputs", style="bold red"))
        for problem in exc.problems:
            err.print(Text.assemble("  ", (problem.input_id, "bold"), ": ", problem.message))
        raise typer.Exit(1)
    if isinstance(exc, NotPaused) and exc.decided:
        err.print(
            Text(
                f"error: execution '{exc.execution_id}' is not paused: "
                f"it was already {exc.decided}",
                style="bold red",
            )
        )
        raise typer.Exit(1)
    err.print(Text(f"error: {exc}", style="bold red"))
    raise typer.Exit(1)
