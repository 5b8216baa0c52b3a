"""Renderers for commands that print data: ``--output text|json``."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.table import Table

# Piped output keeps whole values (run ids) instead of rich's 80-column default.
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 240)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    raise TypeError(f"cannot render {type(value).__name__}")


def print_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (no rich markup, stable key order)."""
    console.print(json.dumps(data, default=_default, indent=2, sort_keys=True), markup=False)


def print_rows(title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Print rows as a rich table (text output)."""
    if not rows:
        console.print(f"{title}: none", markup=False)
        return
    cols = list(columns or rows[0].keys())
    table = Table(title=title, show_lines=False)
    for col in cols:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in cols))
    console.print(table)


def emit(
    output: OutputFormat, title: str, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None
) -> None:
    """Print rows as JSON or as a table."""
    if output == OutputFormat.json:
        print_json(list(rows))
    else:
        print_rows(title, rows, columns)
