"""``lakehouse db``: control-plane schema migrations."""

from __future__ import annotations

from typing import Annotated

import typer

from lakehouse.cli.errors import catch_errors
from lakehouse.cli.output import OutputFormat, console, print_json
from lakehouse.db import migrate
from lakehouse.db.engine import make_engine, redact_url
from lakehouse.settings import get_settings

app = typer.Typer(help="Migrate the control-plane database (LAKEHOUSE_DATABASE_URL).", no_args_is_help=True)


@app.command("upgrade")
@catch_errors
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision (default: the newest, 'head').")] = "head",
) -> None:
    """Upgrade the control-plane schema to REVISION."""
    url = get_settings().database_url
    migrate.upgrade(url, revision)
    console.print(f"control plane at {_current(url)} ({redact_url(url)})", markup=False)


@app.command("downgrade")
@catch_errors
def downgrade(
    revision: Annotated[
        str, typer.Argument(help="Target revision: an id, '-1', or 'base' to remove every table.")
    ],
) -> None:
    """Downgrade the control-plane schema to REVISION."""
    url = get_settings().database_url
    migrate.downgrade(url, revision)
    console.print(f"control plane at {_current(url) or 'base (no tables)'} ({redact_url(url)})", markup=False)


@app.command("current")
@catch_errors
def current(
    output: Annotated[OutputFormat, typer.Option("--output", "-o", help="text or json")] = OutputFormat.text,
) -> None:
    """Show the revision the control plane is at, and the newest one the code knows."""
    url = get_settings().database_url
    rev = _current(url)
    head = migrate.head_revision()
    if output == OutputFormat.json:
        print_json({"current": rev, "head": head, "up_to_date": rev == head, "url": redact_url(url)})
        return
    state = "up to date" if rev == head else f"behind head {head}: run `lakehouse db upgrade`"
    console.print(f"{rev or 'none (empty database)'} ({state}) at {redact_url(url)}", markup=False)


def _current(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return migrate.current_revision(engine)
    finally:
        engine.dispose()
