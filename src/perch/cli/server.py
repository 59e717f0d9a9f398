"""``perch server …``: run Perch."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from perch.cli.local import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    console,
    database_url,
    fail,
    prepare_data_dir,
    report_error,
)
from perch.errors import PerchError

server_app = typer.Typer(help="Run the Perch server.", no_args_is_help=True)


@server_app.command("local")
def local(
    port: Annotated[
        int, typer.Option(help="Port reserved for the REST API (it arrives with the API).")
    ] = 8080,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    workers: Annotated[int, typer.Option(min=1, help="Worker threads running tasks.")] = 4,
) -> None:
    """Run the executor, scheduler and workers on the local data folder until stopped."""
    from perch.server import ServerInfo, run_local

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Migration chatter at every start says nothing to an operator; problems still show.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    out = console()

    def ready(info: ServerInfo) -> None:
        out.print(
            f"Perch server ready (pid {info.pid}, {info.database}, data in {data_dir}, "
            f"{workers} workers)"
        )

    prepare_data_dir(data_dir, create=True)
    try:
        run_local(data_dir, port=port, workers=workers, database_url=database_url(), on_ready=ready)
    except PerchError as exc:
        report_error(exc)
    except OSError as exc:
        fail(f"cannot run the server on {data_dir}: {exc.strerror or exc}")
    out.print("Perch server stopped")
