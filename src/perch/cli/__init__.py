"""The ``perch`` command line."""

from __future__ import annotations

from typing import Any

import typer

from perch import __version__


def _hide_flag_types() -> None:
    """Typer's rich help prints a ``<bool>`` type beside every flag (``--help``, ``--wait``),
    which takes no value; show no type for flags, as click's plain help does."""
    try:
        from typer.core import TyperOption
    except ImportError:  # pragma: no cover - another typer layout: keep its help as it is
        return
    shown = getattr(TyperOption, "display_type_rich", None)
    if shown is None or getattr(shown, "_perch_flags_hidden", False):
        return

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) and getattr(self, "metavar", None) is None:
            return None
        result: str | None = shown(self, ctx)
        return result

    display_type_rich._perch_flags_hidden = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_hide_flag_types()

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
    from perch.cli.access import binding_app, role_app
    from perch.cli.audit import audit_app
    from perch.cli.db import db_app
    from perch.cli.execution import execution_app
    from perch.cli.flow import flow_app
    from perch.cli.group import group_app
    from perch.cli.kv import kv_app
    from perch.cli.secret import secret_app
    from perch.cli.server import server_app
    from perch.cli.token import token_app
    from perch.cli.user import user_app

    app.add_typer(flow_app, name="flow")
    app.add_typer(execution_app, name="execution")
    app.add_typer(server_app, name="server")
    app.add_typer(token_app, name="token")
    app.add_typer(user_app, name="user")
    app.add_typer(group_app, name="group")
    app.add_typer(role_app, name="role")
    app.add_typer(binding_app, name="binding")
    app.add_typer(audit_app, name="audit")
    app.add_typer(secret_app, name="secret")
    app.add_typer(kv_app, name="kv")
    app.add_typer(db_app, name="db")


def main() -> None:
    _register_subcommands()
    app()
