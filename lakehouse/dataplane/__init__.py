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

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# The names below are imported on first use (PEP 562), so that importing one submodule (the query
# path needs zones, sql, atomic, duck) does not import the CSV, Parquet and validation modules too.
_EXPORTS: dict[str, str] = {
    "DataRoot": "lakehouse.dataplane.zones",
    "NullabilityChange": "lakehouse.dataplane.validate",
    "Reject": "lakehouse.dataplane.validate",
    "SchemaDiff": "lakehouse.dataplane.validate",
    "SourceFormat": "lakehouse.dataplane.validate",
    "SourceRead": "lakehouse.dataplane.validate",
    "TypeChange": "lakehouse.dataplane.validate",
    "WrittenFile": "lakehouse.dataplane.parquet_io",
    "ZONES": "lakehouse.dataplane.zones",
    "Zone": "lakehouse.dataplane.zones",
    "atomic_output": "lakehouse.dataplane.atomic",
    "atomic_write_bytes": "lakehouse.dataplane.atomic",
    "atomic_write_text": "lakehouse.dataplane.atomic",
    "detect_format": "lakehouse.dataplane.validate",
    "fsync_dir": "lakehouse.dataplane.atomic",
    "hex_of": "lakehouse.dataplane.atomic",
    "infer_schema": "lakehouse.dataplane.validate",
    "is_temp_name": "lakehouse.dataplane.atomic",
    "parquet_row_count": "lakehouse.dataplane.parquet_io",
    "parquet_schema": "lakehouse.dataplane.parquet_io",
    "part_file_name": "lakehouse.dataplane.zones",
    "quote_identifier": "lakehouse.dataplane.sql",
    "quote_literal": "lakehouse.dataplane.sql",
    "quote_reader_path": "lakehouse.dataplane.sql",
    "read_csv": "lakehouse.dataplane.csv_io",
    "read_footer_metadata": "lakehouse.dataplane.parquet_io",
    "read_json": "lakehouse.dataplane.json_io",
    "read_jsonl": "lakehouse.dataplane.json_io",
    "read_parquet": "lakehouse.dataplane.parquet_io",
    "read_source": "lakehouse.dataplane.validate",
    "reader_path": "lakehouse.dataplane.sql",
    "schema_diff": "lakehouse.dataplane.validate",
    "sha256_file": "lakehouse.dataplane.atomic",
    "validate_slug": "lakehouse.names",
    "write_csv": "lakehouse.dataplane.csv_io",
    "write_json_atomic": "lakehouse.dataplane.json_io",
    "write_jsonl": "lakehouse.dataplane.json_io",
    "write_parquet": "lakehouse.dataplane.parquet_io",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


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
