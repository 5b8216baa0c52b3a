"""The one door to DuckDB: every connection the package opens comes from :func:`connect`.

Reads and writes of Parquet, the analysts' catalog, the per-run dbt database and the query sandbox
all start here, so what every connection needs (today nothing beyond DuckDB's defaults; on an
object-store data root, the extension and the secrets made from the environment) is set in one place.
dbt-duckdb opens its own connection from the profile ``lakehouse.transform.dbt_runner`` writes.
"""

from __future__ import annotations

from pathlib import Path

import duckdb


def connect(database: str | Path = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A new DuckDB connection to ``database`` (a file, or ``:memory:``)."""
    return duckdb.connect(str(database), read_only=read_only)
