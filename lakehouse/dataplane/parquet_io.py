"""Immutable Parquet files: atomic writes through DuckDB, reads, and footer metadata via pyarrow.

Files are written once under a new name and never overwritten: :func:`write_parquet` refuses an
existing path. Every file carries key/value footer metadata (``lakehouse.schema_version``,
``lakehouse.dataset``, ``lakehouse.run_id``, ...) and is zstd-compressed.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.dataplane import duck
from lakehouse.dataplane.atomic import atomic_output, sha256_file
from lakehouse.dataplane.sql import quote_identifier, quote_literal, reader_path
from lakehouse.errors import DataPlaneError

logger = logging.getLogger(__name__)

COMPRESSION: Final = "zstd"


@dataclass(frozen=True)
class WrittenFile:
    """A Parquet file that was just written.

    Attributes:
        path: final path of the file.
        size_bytes: size on disk.
        row_count: number of rows, read back from the footer.
        checksum: ``sha256:<hex>`` of the file bytes.
    """

    path: Path
    size_bytes: int
    row_count: int
    checksum: str


def _copy_options(metadata: Mapping[str, str] | None) -> str:
    options = f"FORMAT parquet, COMPRESSION {COMPRESSION}"
    if metadata:
        for key, value in metadata.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise DataPlaneError(f"Parquet metadata must map str to str, got {key!r}: {value!r}")
        pairs = ", ".join(f"{quote_literal(k)}: {quote_literal(v)}" for k, v in metadata.items())
        options += f", KV_METADATA {{{pairs}}}"
    return options


def write_parquet(
    con: duckdb.DuckDBPyConnection,
    query_or_relation: str | duckdb.DuckDBPyRelation | pa.Table,
    path: Path,
    metadata: Mapping[str, str] | None = None,
    params: list[object] | None = None,
) -> WrittenFile:
    """Write the result of a query, relation or Arrow table to a new Parquet file, atomically.

    Args:
        con: DuckDB connection that runs the query (a relation runs on its own connection).
        query_or_relation: a SELECT statement, a DuckDB relation or a pyarrow Table.
        path: final path; its folder is created when missing.
        metadata: key/value pairs stored in the Parquet footer.
        params: values bound to ``?`` placeholders of a query string.

    Returns:
        The written file with its size, row count (from the footer) and checksum.

    Raises:
        DataPlaneError: ``path`` already exists, or DuckDB failed to run the query or write the file.
    """
    path = Path(path)
    if path.exists():
        raise DataPlaneError(f"{path} already exists and Parquet files are immutable: write under a new name")
    with atomic_output(path, overwrite=False) as tmp:
        written = write_parquet_to(con, query_or_relation, tmp, metadata, params, name=str(path))
    return WrittenFile(path, written.size_bytes, written.row_count, written.checksum)


def write_parquet_to(
    con: duckdb.DuckDBPyConnection,
    query_or_relation: str | duckdb.DuckDBPyRelation | pa.Table,
    local: Path,
    metadata: Mapping[str, str] | None = None,
    params: list[object] | None = None,
    *,
    name: str | None = None,
) -> WrittenFile:
    """Write a Parquet file at ``local`` as it is (no temporary file, no rename: the caller's
    ``atomic_output`` or ``ObjectStore.new_file`` publishes it); ``name`` is the file's final name
    in messages. Arguments and result as :func:`write_parquet`."""
    name = name or str(local)
    if params is not None and not isinstance(query_or_relation, str):
        raise DataPlaneError("params are only accepted with a query string")
    options = _copy_options(metadata)
    target = quote_literal(str(local))
    try:
        if isinstance(query_or_relation, str):
            con.execute(f"COPY ({query_or_relation}) TO {target} ({options})", params or [])
        elif isinstance(query_or_relation, pa.Table):
            view = f"__lh_arrow_{uuid.uuid4().hex}"
            con.register(view, query_or_relation)
            try:
                con.execute(f"COPY (SELECT * FROM {quote_identifier(view)}) TO {target} ({options})")
            finally:
                con.unregister(view)
        elif isinstance(query_or_relation, duckdb.DuckDBPyRelation):
            view = f"__lh_rel_{uuid.uuid4().hex}"
            query_or_relation.query(
                view, f"COPY (SELECT * FROM {quote_identifier(view)}) TO {target} ({options})"
            )
        else:
            raise DataPlaneError(
                f"cannot write {type(query_or_relation).__name__} to Parquet: "
                "pass a query string, a DuckDB relation or a pyarrow Table"
            )
    except duckdb.Error as exc:
        raise DataPlaneError(f"writing {name} failed: {exc}") from exc
    written = WrittenFile(
        path=local,
        size_bytes=local.stat().st_size,
        row_count=parquet_row_count(local),
        checksum=sha256_file(local),
    )
    logger.info("wrote %s (%d rows, %d bytes)", name, written.row_count, written.size_bytes)
    return written


def read_parquet(
    files: Sequence[Path | str],
    con: duckdb.DuckDBPyConnection | None = None,
    hive_partitioning: bool = True,
) -> pa.Table:
    """Read Parquet files into one Arrow table, columns matched by name.

    Args:
        files: the files to read, in order; an empty sequence gives an empty table.
        con: DuckDB connection to use; a private in-memory one when None.
        hive_partitioning: add a column for every ``key=value`` folder of the paths; for zone files
            that is ``dataset`` (VARCHAR) and ``dt`` (DATE).

    Returns:
        The rows of all files.

    Raises:
        DataPlaneError: a file is missing or not valid Parquet.
    """
    if isinstance(files, str | Path):
        raise DataPlaneError("read_parquet takes a sequence of files, not a single path")
    if not files:
        return pa.table({})
    own = con is None
    connection = duck.connect() if con is None else con
    try:
        rel = connection.sql(
            "SELECT * FROM read_parquet($files, hive_partitioning = $hive, union_by_name = true)",
            params={"files": [reader_path(f) for f in files], "hive": hive_partitioning},
        )
        table: pa.Table = rel.to_arrow_table()
        return table
    except duckdb.Error as exc:
        raise DataPlaneError(
            f"reading {len(files)} Parquet file(s) failed (first {files[0]}): {exc}"
        ) from exc
    finally:
        if own:
            connection.close()


def _footer(path: Path | str) -> pq.FileMetaData:
    try:
        return pq.read_metadata(str(path))
    except (OSError, pa.ArrowException) as exc:
        raise DataPlaneError(f"cannot read the Parquet footer of {path}: {exc}") from exc


def read_footer_metadata(path: Path | str) -> dict[str, str]:
    """Return the key/value metadata of a Parquet footer, decoded as UTF-8.

    Raises:
        DataPlaneError: the file is missing or not valid Parquet.
    """
    raw = _footer(path).metadata or {}
    return {key.decode("utf-8", "replace"): value.decode("utf-8", "replace") for key, value in raw.items()}


def column_ranges(path: Path | str, columns: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Min and max (as text: dates ISO, numbers as written) of ``columns`` from the file's footer.

    From the row groups' statistics, nothing else is read. A column that is absent, all null, or
    has a row group without statistics is left out.
    """
    footer = _footer(path)
    names = footer.schema.names
    ranges: dict[str, tuple[str, str]] = {}
    for column in dict.fromkeys(columns):
        if column not in names:
            continue
        index = names.index(column)
        lows, highs = [], []
        for group in range(footer.num_row_groups):
            stats = footer.row_group(group).column(index).statistics
            if stats is None or not stats.has_min_max:
                if footer.row_group(group).num_rows:
                    break
                continue
            lows.append(stats.min)
            highs.append(stats.max)
        else:
            if lows:
                ranges[column] = (_as_text(min(lows)), _as_text(max(highs)))
    return ranges


def _as_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def parquet_row_count(path: Path | str) -> int:
    """Return the number of rows recorded in a Parquet footer."""
    return int(_footer(path).num_rows)


def stored_schema(files: Sequence[Path | str]) -> list[tuple[str, str]]:
    """(name, DuckDB type) of the columns stored in any of ``files`` (not those a ``key=value``
    folder adds), read through DuckDB: local files and ``s3://`` objects alike.

    Raises:
        duckdb.Error: a file cannot be read.
    """
    with duck.connect() as con:
        rows = con.execute(
            "DESCRIBE SELECT * FROM read_parquet($files, hive_partitioning = false, union_by_name = true)",
            {"files": [reader_path(f) for f in files]},
        ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def stored_schemas(files: Sequence[Path | str]) -> list[list[tuple[str, str]]]:
    """:func:`stored_schema` of each of ``files`` on its own, in one DuckDB connection (opening one,
    with httpfs and its secret for ``s3://`` objects, costs several times a footer read).

    Raises:
        duckdb.Error: a file cannot be read (its ``reader_path`` is in the message).
    """
    schemas = []
    with duck.connect() as con:
        for path in files:
            rows = con.execute(
                "DESCRIBE SELECT * FROM read_parquet($file, hive_partitioning = false)",
                {"file": reader_path(path)},
            ).fetchall()
            schemas.append([(str(r[0]), str(r[1])) for r in rows])
    return schemas


def stored_columns(files: Sequence[Path | str]) -> set[str]:
    """The names of :func:`stored_schema`."""
    return {name for name, _ in stored_schema(files)}


def parquet_schema(path: Path | str) -> pa.Schema:
    """Return the Arrow schema of a Parquet file."""
    try:
        return pq.read_schema(str(path))
    except (OSError, pa.ArrowException) as exc:
        raise DataPlaneError(f"cannot read the Parquet schema of {path}: {exc}") from exc
