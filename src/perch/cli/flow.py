"""``perch flow …`` commands (owned by the flows work)."""

from __future__ import annotations

import typer

flow_app = typer.Typer(help="Validate flows and print the flow language's JSON Schema.", no_args_is_help=True)
