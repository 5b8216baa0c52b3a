"""Options shared by several commands."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer

from lakehouse.cli.output import OutputFormat
from lakehouse.errors import DataPlaneError

CompanyOpt = Annotated[str, typer.Option("--company", "-c", help="Company slug, e.g. acme.")]
OutputOpt = Annotated[OutputFormat, typer.Option("--output", "-o", help="text or json")]


def parse_dt(value: str | None, option: str = "--dt") -> date | None:
    """Parse a YYYY-MM-DD option value (None stays None)."""
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise DataPlaneError(f"{option} {value!r} is not a date: use YYYY-MM-DD") from None
