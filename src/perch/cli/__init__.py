"""The ``perch`` command line."""

from __future__ import annotations

import typer

from perch import __version__

app = typer.Typer(
    name="perch",
    help="Perch: workflows that pause for people. Kestra flow syntax.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def version() -> None:
    """Print Perch's version."""
    typer.echo(__version__)


def _register_subcommands() -> None:
    from perch.cli.execution import execution_app
    from perch.cli.flow import flow_app
    from perch.cli.server import server_app
    from perch.cli.token import token_app
    from perch.cli.user import user_app

    app.add_typer(flow_app, name="flow")
    app.add_typer(execution_app, name="execution")
    app.add_typer(server_app, name="server")
    app.add_typer(token_app, name="token")
    app.add_typer(user_app, name="user")


def main() -> None:
    _register_subcommands()
    app()
