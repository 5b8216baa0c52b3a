"""The per-run DuckDB file dbt builds into (the "write" and "audit" of write-audit-publish).

Before dbt runs, the file gets ``bronze.<dataset>`` views over the committed bronze files, and
``silver``/``gold`` views over the currently published versions, so that a partial ``--select``
builds on what is published. dbt replaces the views of the models it builds with tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb

from lakehouse.dataplane import duck
from lakehouse.dataplane.schemas import BRONZE_LINEAGE_COLUMNS, RAW_SCHEMAS
from lakehouse.dataplane.sql import quote_identifier, quote_literal, reader_path
from lakehouse.errors import IntegrityError
from lakehouse.names import DATA_ZONES


def _files_list(files: Sequence[str | Path]) -> str:
    return "[" + ", ".join(quote_literal(reader_path(f)) for f in files) + "]"


def _empty_bronze_view(dataset: str) -> str:
    schema = RAW_SCHEMAS[dataset]
    cols = [f"CAST(NULL AS {c.type}) AS {quote_identifier(c.name)}" for c in schema.columns]
    cols += [f"CAST(NULL AS {c.type}) AS {quote_identifier(c.name)}" for c in BRONZE_LINEAGE_COLUMNS]
    cols.append("CAST(NULL AS DATE) AS dt")
    return f"SELECT {', '.join(cols)} WHERE false"


def _create_view(con: duckdb.DuckDBPyConnection, zone: str, dataset: str, sql: str) -> None:
    try:
        con.execute(sql)
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise IntegrityError(
            f"cannot read the published files of {zone}.{dataset}: {first_line}; "
            "run `lakehouse verify` to find the damaged file"
        ) from exc


def prepare_staging_db(path: Path, views: Mapping[str, Mapping[str, Sequence[str | Path]]]) -> None:
    """Create the DuckDB file at ``path`` with one view per zone/dataset over the given files.

    Declared raw datasets with nothing ingested yet get an empty, typed bronze view.
    """
    con = duck.connect(path)
    try:
        for zone in DATA_ZONES:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {zone}")
            for dataset, files in sorted(views.get(zone, {}).items()):
                if not files:
                    continue
                _create_view(
                    con,
                    zone,
                    dataset,
                    # hive partitioning adds both `dataset` and `dt`; `dataset` is the view's own name.
                    f"CREATE VIEW {zone}.{quote_identifier(dataset)} AS SELECT * EXCLUDE (dataset) FROM read_parquet("
                    f"{_files_list(files)}, hive_partitioning = true, union_by_name = true, "
                    "hive_types = {'dt': DATE})",
                )
        present = set(views.get("bronze", {}))
        for dataset in sorted(set(RAW_SCHEMAS) - present):
            con.execute(f"CREATE VIEW bronze.{quote_identifier(dataset)} AS {_empty_bronze_view(dataset)}")
    finally:
        con.close()
