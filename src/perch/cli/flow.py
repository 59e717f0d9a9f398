"""``perch flow …``: validate and schema (flows work), deploy and list (engine work)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from perch.cli.local import DEFAULT_DATA_DIR, DataDirOption, open_data, principal
from perch.errors import Problem
from perch.flows import flow_json_schema, validate_flow

flow_app = typer.Typer(
    help="Validate flows and print the flow language's JSON Schema.", no_args_is_help=True
)

EXIT_PROBLEMS = 1
EXIT_UNREADABLE = 2


def _console(*, stderr: bool = False) -> Console:
    # soft_wrap: a problem is one line however long, so that editors and grep can use it.
    return Console(stderr=stderr, soft_wrap=True, highlight=False)


def _problem_line(name: str, problem: Problem) -> Text:
    line = Text()
    line.append(name, style="bold")
    if problem.line is not None:
        line.append(f":{problem.line}")
    line.append(": ")
    if problem.path:
        line.append(problem.path, style="cyan")
        line.append(": ")
    line.append(problem.message, style="red")
    return line


def _read(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        reason = "no such file"
    except IsADirectoryError:
        reason = "is a directory, not a flow file"
    except PermissionError:
        reason = "permission denied"
    except UnicodeDecodeError:
        reason = "is not UTF-8 text"
    except OSError as exc:
        reason = exc.strerror or str(exc)
    _console(stderr=True).print(Text(f"error: {path}: {reason}", style="bold red"))
    return None


@flow_app.command("validate")
def validate(
    files: Annotated[
        list[Path], typer.Argument(help="Flow YAML files to check.", show_default=False)
    ],
) -> None:
    """Check flow files; print every problem as FILE:LINE: path: message, or that it is valid.

    Exits 1 if any file has a problem, 2 if a file cannot be read.
    """
    out = _console()
    unreadable = False
    invalid = False
    for path in files:
        source = _read(path)
        if source is None:
            unreadable = True
            continue
        problems = validate_flow(source, filename=str(path))
        if not problems:
            out.print(Text.assemble(("✓ ", "green"), (str(path), "bold"), ": valid"))
            continue
        invalid = True
        for problem in problems:
            out.print(_problem_line(str(path), problem))
    if unreadable:
        raise typer.Exit(EXIT_UNREADABLE)
    if invalid:
        raise typer.Exit(EXIT_PROBLEMS)


@flow_app.command("schema")
def schema(
    indent: Annotated[int, typer.Option(help="Spaces per indentation level.")] = 2,
) -> None:
    """Print the JSON Schema (Draft 2020-12) of the flow language, for editors."""
    typer.echo(json.dumps(flow_json_schema(), indent=indent or None, ensure_ascii=False))


@flow_app.command("deploy")
def deploy(
    files: Annotated[
        list[Path], typer.Argument(help="Flow YAML files to store.", show_default=False)
    ],
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Store flows in the local data folder; a changed source becomes a new revision.

    Exits 1 if a flow is invalid (nothing of that file is stored), 2 if a file cannot be read.
    """
    from perch.engine import service
    from perch.errors import FlowValidationError

    out = _console()
    failed = 0
    with open_data(data_dir, create=True) as store:
        for path in files:
            source = _read(path)
            if source is None:
                failed = max(failed, EXIT_UNREADABLE)
                continue
            try:
                stored = service.deploy_flow(store, source, principal())
            except FlowValidationError as exc:
                failed = max(failed, EXIT_PROBLEMS)
                for problem in exc.problems:
                    out.print(_problem_line(str(path), problem))
                continue
            out.print(
                Text.assemble(
                    ("✓ ", "green"),
                    (f"{stored.namespace}.{stored.id}", "bold"),
                    f" revision {stored.revision}",
                )
            )
    if failed:
        raise typer.Exit(failed)


@flow_app.command("list")
def list_flows(
    namespace: Annotated[str | None, typer.Option(help="Namespace prefix.")] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """List the stored flows (latest revision of each)."""
    from rich.table import Table

    from perch.engine import service

    with open_data(data_dir) as store:
        flows = service.list_flows(store, namespace_prefix=namespace)
    table = Table("namespace", "id", "revision", title=f"{len(flows)} flows")
    for stored in flows:
        table.add_row(stored.namespace, stored.id, str(stored.revision))
    _console().print(table)
