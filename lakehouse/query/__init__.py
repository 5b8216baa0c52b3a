"""Analyst access: the per-company DuckDB catalog, read-only SQL, saved queries and output.

- :mod:`lakehouse.query.catalog` writes ``data/<company>/catalog.duckdb`` (views over the current files);
- :mod:`lakehouse.query.sandbox` checks and runs one read-only statement against it, streaming the result;
- :mod:`lakehouse.query.limits` bounds its time and memory and keeps DuckDB's errors to one line;
- :mod:`lakehouse.query.saved` finds ``queries/<name>.sql``;
- :mod:`lakehouse.query.render` prints or writes the result.
"""

from __future__ import annotations

from lakehouse.query.catalog import ViewSource, write_catalog
from lakehouse.query.render import FORMATS, OutputFormat, choose_format, json_decimal, render
from lakehouse.query.sandbox import check_read_only, parse_params, run_query, stream_query
from lakehouse.query.saved import SavedQuery, list_saved_queries, optional_parameters, resolve_query

__all__ = [
    "FORMATS",
    "OutputFormat",
    "SavedQuery",
    "ViewSource",
    "check_read_only",
    "choose_format",
    "json_decimal",
    "list_saved_queries",
    "optional_parameters",
    "parse_params",
    "render",
    "resolve_query",
    "run_query",
    "stream_query",
    "write_catalog",
]
