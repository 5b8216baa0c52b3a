"""Data plane IO: zone layout, atomic files, Parquet, CSV, JSON and source validation.

The public API is re-exported here; the modules are:

* :mod:`~lakehouse.dataplane.zones` — names, the :class:`DataRoot` layout, part file names;
* :mod:`~lakehouse.dataplane.atomic` — temp-file-and-rename writes, fsync, checksums;
* :mod:`~lakehouse.dataplane.sql` — the one quoting of identifiers, literals and reader paths in DuckDB SQL;
* :mod:`~lakehouse.dataplane.parquet_io` — immutable Parquet files through DuckDB, footer metadata;
* :mod:`~lakehouse.dataplane.csv_io` / :mod:`~lakehouse.dataplane.json_io` — strict text helpers and staging;
* :mod:`~lakehouse.dataplane.validate` — typing a source extract against a schema, inference, diffs.
"""

from __future__ import annotations

from lakehouse.dataplane.atomic import (
    atomic_output,
    atomic_write_bytes,
    atomic_write_text,
    fsync_dir,
    hex_of,
    is_temp_name,
    sha256_file,
)
from lakehouse.dataplane.csv_io import read_csv, write_csv
from lakehouse.dataplane.json_io import read_json, read_jsonl, write_json_atomic, write_jsonl
from lakehouse.dataplane.parquet_io import (
    WrittenFile,
    parquet_row_count,
    parquet_schema,
    read_footer_metadata,
    read_parquet,
    write_parquet,
)
from lakehouse.dataplane.sql import quote_identifier, quote_literal, quote_reader_path, reader_path
from lakehouse.dataplane.validate import (
    NullabilityChange,
    Reject,
    SchemaDiff,
    SourceFormat,
    SourceRead,
    TypeChange,
    detect_format,
    infer_schema,
    read_source,
    schema_diff,
)
from lakehouse.dataplane.zones import ZONES, DataRoot, Zone, part_file_name
from lakehouse.names import validate_slug

__all__ = [
    "ZONES",
    "DataRoot",
    "NullabilityChange",
    "Reject",
    "SchemaDiff",
    "SourceFormat",
    "SourceRead",
    "TypeChange",
    "WrittenFile",
    "Zone",
    "atomic_output",
    "atomic_write_bytes",
    "atomic_write_text",
    "detect_format",
    "fsync_dir",
    "hex_of",
    "infer_schema",
    "is_temp_name",
    "parquet_row_count",
    "parquet_schema",
    "part_file_name",
    "quote_identifier",
    "quote_literal",
    "quote_reader_path",
    "read_csv",
    "read_footer_metadata",
    "read_json",
    "read_jsonl",
    "read_parquet",
    "read_source",
    "reader_path",
    "schema_diff",
    "sha256_file",
    "validate_slug",
    "write_csv",
    "write_json_atomic",
    "write_jsonl",
    "write_parquet",
]
