"""``lakehouse query``: read-only analyst SQL over a company's catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakehouse.cli.errors import catch_errors
from lakehouse.cli.output import console
from lakehouse.datasets import DATA_ZONES
from lakehouse.errors import DataPlaneError
from lakehouse.query.render import render
from lakehouse.query.sandbox import parse_params, run_query
from lakehouse.query.saved import resolve_query
from lakehouse.runtime import open_store
from lakehouse.settings import get_settings


@catch_errors
def query_command(
    query: Annotated[str, typer.Argument(help="SQL text, a saved query name, or queries/NAME.sql.")],
    company: Annotated[str, typer.Option("--company", "-c", help="Company slug.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Bound parameter k=v ($k in the SQL).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, csv, json or parquet.")] = "table",
    out: Annotated[
        Path | None, typer.Option(help="Write the result to this file (required for parquet).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Return at most this many rows.")] = None,
) -> None:
    """Run one read-only statement against the company's DuckDB catalog (bronze/silver/gold views)."""
    settings = get_settings()
    _name, sql = resolve_query(query, settings.queries_dir)
    params = parse_params(param or [])
    with open_store(settings) as store:
        catalog = store.root.catalog_path(company)
        if not catalog.exists():
            if not store.dal.list_dataset_versions(company):
                raise DataPlaneError(
                    f"company {company!r} has nothing published yet: run `lakehouse ingest --company {company} ...` first"
                )
            store.refresh_catalog(company)
        allowed = [store.root.zone_dir(company, z) for z in DATA_ZONES]
        table = run_query(catalog, sql, params, allowed, limit)
    render(table, fmt, out, console)  # type: ignore[arg-type]
