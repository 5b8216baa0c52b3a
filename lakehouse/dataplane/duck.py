"""The one door to DuckDB: every connection the package opens comes from :func:`connect`.

Reads and writes of Parquet, the analysts' catalog, the per-run dbt database and the query sandbox
all start here, so what every connection needs is set in one place: nothing beyond DuckDB's defaults
on a local data root; on an ``s3://`` one (:func:`use_s3`, called when the root is opened), httpfs and
a temporary secret made from the AWS variables. dbt-duckdb opens its own connection from the profile
``lakehouse.transform.dbt_runner`` writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from lakehouse.dataplane.s3 import S3Access

#: The S3 access every new connection gets (one data root per process), or None.
_s3: S3Access | None = None


def use_s3(access: S3Access | None) -> None:
    """Give every connection opened from now on ``access`` (None: local files only)."""
    global _s3
    _s3 = access


def s3_access() -> S3Access | None:
    """The S3 access new connections get (see :func:`use_s3`), or None."""
    return _s3


def connect(database: str | Path = ":memory:", *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A new DuckDB connection to ``database`` (a file, or ``:memory:``)."""
    con = duckdb.connect(str(database), read_only=read_only)
    if _s3 is not None:
        from lakehouse.dataplane.s3 import enable_s3

        try:
            enable_s3(con, _s3)
        except BaseException:
            con.close()
            raise
    return con
