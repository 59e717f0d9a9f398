"""``perch db …``: the database's schema — see where it stands, bring it up to date."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from perch.cli.local import (
    DEFAULT_DATA_DIR,
    DataDirOption,
    console,
    database_url,
    prepare_data_dir,
    report_error,
)
from perch.errors import PerchError

if TYPE_CHECKING:
    from sqlalchemy import Engine

db_app = typer.Typer(help="The database's schema.", no_args_is_help=True)


def _engine(data_dir: DataDirOption) -> tuple[Engine, str]:
    import os

    from perch.store.database import create_store_engine
    from perch.store.database import database_url as sqlalchemy_url

    url = database_url()
    prepare_data_dir(data_dir, create=True)
    schema = os.environ.get("PERCH_DATABASE_SCHEMA") or None if url else None
    where = "PERCH_DATABASE_URL" if url else f"SQLite in {data_dir}"
    return create_store_engine(sqlalchemy_url(url, data_dir), schema=schema), where


@db_app.command("status")
def status(data_dir: DataDirOption = DEFAULT_DATA_DIR) -> None:
    """Say which schema revision the database is at and whether this Perch can run on it
    (exit 1 when it cannot)."""
    from perch.store.migrate import current_revision, head_revision, schema_problem

    engine, where = _engine(data_dir)
    try:
        found = current_revision(engine)
        problem = schema_problem(engine)
    except Exception as exc:
        report_error(PerchError(f"cannot read the database ({where}): {exc}"))
        raise
    finally:
        engine.dispose()
    out = console()
    out.print(f"database ({where}): revision {found or 'none'}; this Perch: {head_revision()}")
    if problem is not None:
        out.print(problem)
        raise typer.Exit(1)
    out.print("up to date")


@db_app.command("upgrade")
def upgrade(
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on success.")] = False,
) -> None:
    """Apply the migrations the database lacks (safe to run from several machines at once:
    they take turns). A database a newer Perch wrote is left alone, with exit code 1."""
    from perch.store.migrate import (
        current_revision,
        head_revision,
        known_revisions,
        upgrade_to_head,
    )

    engine, where = _engine(data_dir)
    out = console()
    try:
        before = current_revision(engine)
        if before is not None and before not in known_revisions():
            out.print(
                f"the database ({where}) is at revision {before}, newer than this Perch "
                f"({head_revision()}): nothing done; upgrade Perch instead"
            )
            raise typer.Exit(1)
        upgrade_to_head(engine)
        after = current_revision(engine)
    except typer.Exit:
        raise
    except Exception as exc:
        report_error(PerchError(f"cannot upgrade the database ({where}): {exc}"))
        raise
    finally:
        engine.dispose()
    if not quiet:
        if before == after:
            out.print(f"database ({where}) already at revision {after}")
        else:
            out.print(f"database ({where}) upgraded from {before or 'empty'} to {after}")
