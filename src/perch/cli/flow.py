"""``perch flow …``: validate and schema (flows work), deploy and list (engine work)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from perch.cli.local import DEFAULT_DATA_DIR, DataDirOption, open_data, principal
from perch.cli.remote import Remote, RemoteError, ServerOption, TenantOption, TokenOption, connect
from perch.engine.model import DEFAULT_TENANT
from perch.errors import Problem
from perch.flows import flow_json_schema, flow_warnings, validate_flow

flow_app = typer.Typer(
    help="Validate flows and print the flow language's JSON Schema.", no_args_is_help=True
)

EXIT_PROBLEMS = 1
EXIT_UNREADABLE = 2


def _console(*, stderr: bool = False) -> Console:
    # soft_wrap: a problem is one line however long, so that editors and grep can use it.
    return Console(stderr=stderr, soft_wrap=True, highlight=False)


def _cannot_run_here(source: str) -> list[Problem]:
    """Warnings (with their line) for the tasks of a valid flow whose type this server cannot
    run yet: the flow deploys, but those task runs would fail."""
    from perch.flows.validate import check_flow
    from perch.flows.yamlsource import load_yaml
    from perch.tasks import runs_here

    flow = check_flow(source).flow
    if flow is None:
        return []
    doc = load_yaml(source)
    return [
        doc.problem(
            (*task_path, "type"),
            f"warning: task type {task.type} cannot run on this server yet (its runs would fail)",
        )
        for task_path, task in flow.walk_tasks()
        if not runs_here(task)
    ]


def _problem_line(name: str, problem: Problem, style: str = "red") -> Text:
    line = Text()
    line.append(name, style="bold")
    if problem.line is not None:
        line.append(f":{problem.line}")
    line.append(": ")
    if problem.path:
        line.append(problem.path, style="cyan")
        line.append(": ")
    line.append(problem.message, style=style)
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


def _print_warnings(out: Console, path: Path, source: str) -> None:
    """The warnings of a valid flow: what Kestra accepts but fails when it runs."""
    for warning in flow_warnings(source):
        shown = Problem(warning.path, f"warning: {warning.message}", warning.line, warning.column)
        out.print(_problem_line(str(path), shown, style="yellow"))


@flow_app.command("validate")
def validate(
    files: Annotated[
        list[Path], typer.Argument(help="Flow YAML files to check.", show_default=False)
    ],
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Count warnings (an undeclared input, a broken flowable condition) as problems.",
        ),
    ] = False,
) -> None:
    """Check flow files; print every problem as FILE:LINE: path: message, or that it is valid.

    Warnings (what Kestra accepts but fails when it runs) are printed too; with --strict they
    are problems. Exits 1 if any file has a problem, 2 if a file cannot be read.
    """
    out = _console()
    unreadable = False
    invalid = False
    for path in files:
        source = _read(path)
        if source is None:
            unreadable = True
            continue
        problems = validate_flow(source, filename=str(path), strict=strict)
        if not problems:
            out.print(Text.assemble(("✓ ", "green"), (str(path), "bold"), ": valid"))
            _print_warnings(out, path, source)
            for warning in _cannot_run_here(source):
                out.print(_problem_line(str(path), warning, style="yellow"))
            continue
        invalid = True
        for problem in problems:
            out.print(_problem_line(str(path), problem))
        if not strict:
            _print_warnings(out, path, source)
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
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """Store flows in the local data folder (or on --server); a changed source becomes a new
    revision.

    Exits 1 if a flow is invalid (nothing of that file is stored), 2 if a file cannot be read.
    """
    from perch.engine import service
    from perch.errors import FlowValidationError

    out = _console()
    failed = 0
    sources = [(path, _read(path)) for path in files]
    if any(source is None for _, source in sources):
        failed = EXIT_UNREADABLE
    readable = [(path, source) for path, source in sources if source is not None]
    if server:
        with connect(server, tenant, token) as remote:
            for path, source in readable:
                if not _deploy_remote(remote, path, source):
                    failed = max(failed, EXIT_PROBLEMS)
        if failed:
            raise typer.Exit(failed)
        return
    with open_data(data_dir, create=True) as store:
        for path, source in readable:
            try:
                stored = service.deploy_flow(store, source, principal(), tenant=tenant)
            except FlowValidationError as exc:
                failed = max(failed, EXIT_PROBLEMS)
                for problem in exc.problems:
                    out.print(_problem_line(str(path), problem))
                continue
            _deployed(out, stored.namespace, stored.id, stored.revision)
            _print_warnings(out, path, source)
    if failed:
        raise typer.Exit(failed)


def _deployed(out: Console, namespace: str, flow_id: str, revision: int) -> None:
    out.print(
        Text.assemble(("✓ ", "green"), (f"{namespace}.{flow_id}", "bold"), f" revision {revision}")
    )


def _deploy_remote(remote: Remote, path: Path, source: str) -> bool:
    """Create or update one flow on the server; print its problems and say False if invalid."""
    try:
        body = remote.create_flow(source)
    except RemoteError as exc:
        if exc.status != 422:
            raise
        out = _console()
        for error in exc.errors or [{"message": exc.message}]:
            problem = Problem(
                message=str(error.get("message") or ""),
                path=str(error.get("path") or ""),
                line=error.get("line"),
                column=error.get("column"),
            )
            out.print(_problem_line(str(path), problem))
        return False
    _deployed(_console(), body["namespace"], body["id"], int(body.get("revision") or 0))
    _print_warnings(_console(), path, source)
    return True


@flow_app.command("list")
def list_flows(
    namespace: Annotated[str | None, typer.Option(help="Namespace prefix.")] = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    server: ServerOption = None,
    tenant: TenantOption = DEFAULT_TENANT,
    token: TokenOption = None,
) -> None:
    """List the stored flows (latest revision of each)."""
    from rich.table import Table

    rows: list[tuple[str, str, int]]
    if server:
        with connect(server, tenant, token) as remote:
            found = remote.search_flows(namespace)
        rows = [(body["namespace"], body["id"], int(body.get("revision") or 0)) for body in found]
    else:
        from perch.engine import service

        with open_data(data_dir) as store:
            flows = service.list_flows(store, tenant=tenant, namespace_prefix=namespace)
        rows = [(stored.namespace, stored.id, stored.revision) for stored in flows]
    table = Table("namespace", "id", "revision", title=f"{len(rows)} flows")
    for flow_namespace, flow_id, revision in rows:
        table.add_row(flow_namespace, flow_id, str(revision))
    _console().print(table)
