"""Strict, vectorised validation of source extracts against a dataset schema.

:func:`read_source` stages a CSV, JSONL or Parquet extract in DuckDB (CSV and JSONL values as text,
with exact line numbers, see :mod:`lakehouse.dataplane.csv_io` and :mod:`lakehouse.dataplane.json_io`), then types
and checks every column in one SQL pass. Rows that pass land in a DuckDB temp table with the schema's
columns in order plus ``_source_line``; every failing value is reported as a :class:`Reject` with its
line, column, value and reason. Header-level problems (a required column missing, an unknown column)
refuse the whole file with :class:`~lakehouse.errors.SchemaMismatchError`.

Text rules, for CSV and JSONL values (and VARCHAR columns of Parquet files):

* an empty value (in CSV also a quoted ``""``) is NULL: allowed in a nullable column, a "missing
  value" otherwise; a value of spaces only counts as empty for every type but VARCHAR;
* surrounding spaces are ignored for every type but VARCHAR;
* integers are ``[+-]digits`` (no rounding of ``1.5``), decimals have at most the column's scale;
* booleans are ``true/false/1/0/t/f/yes/no`` in any case;
* dates are ``YYYY-MM-DD``; timestamps are ISO with ``T`` or a space, optional seconds and fraction;
  an offset (``Z``, ``+02:00``) is converted to UTC, a naive value is taken as UTC for
  ``TIMESTAMP WITH TIME ZONE``;
* enumerated values match exactly (case-sensitive);
* in JSONL, numbers and booleans are read as their JSON text, nested objects and arrays as JSON
  text (so they fail any non-VARCHAR type).

Parquet columns that are not VARCHAR are converted with DuckDB casts (timestamps with and without
time zone through UTC; floats to integers only when whole).

How a file is read: a CSV file's field separator (``delimiter``), a CSV or JSONL file's character set
(``encoding``), gzip compression (told by a ``.gz`` suffix: ``jobs.csv.gz``, ``calls.jsonl.gz``) and how
the file's column names meet the schema's (``header_case``: ``exact``, or ``insensitive``, where
``Customer_ID`` is the schema's ``customer_id``). A source that is not plain UTF-8 is read through a
decoded copy (:func:`lakehouse.dataplane.csv_io.decoded_copy`); errors name the source.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import duckdb

from lakehouse.dataplane.csv_io import (
    DEFAULT_DELIMITER,
    DEFAULT_ENCODING,
    RESERVED_PREFIX,
    STAGE_ERROR,
    STAGE_LINE,
    STAGE_RAW,
    Compression,
    decoded_copy,
    drop_stage,
    duckdb_message_naming,
    parse_delimiter,
    parse_encoding,
    read_csv_header,
    repeated_names,
    stage_csv,
)
from lakehouse.dataplane.json_io import stage_jsonl
from lakehouse.dataplane.schemas import Column, DatasetSchema
from lakehouse.dataplane.sql import duckdb_message, quote_identifier, quote_literal, reader_path
from lakehouse.errors import DataPlaneError, DataRefusedError, InvalidArgumentError, SchemaMismatchError
from lakehouse.names import validate_slug

logger = logging.getLogger(__name__)

SourceFormat = Literal["csv", "jsonl", "parquet"]
HeaderCase = Literal["exact", "insensitive"]
"""How a file's column names are matched with the schema's: exactly, or ignoring case."""
HEADER_CASES: Final[tuple[HeaderCase, ...]] = ("exact", "insensitive")
SOURCE_LINE_COLUMN: Final = "_source_line"
VALUE_LIMIT: Final = 200
MAX_COLUMNS: Final = 10_000
"""The widest source file read: a wider one is refused before any row is read (see the README)."""
CHECK_SLICE: Final = 200
"""Columns typed per SQL statement. DuckDB's planning time grows with the square of a projection's
width, so a wide file is checked in slices of this many columns: its cost stays linear in columns."""

MISSING_VALUE: Final = "missing value in non-nullable column"
BAD_TYPE: Final = "bad type: expected {type}"
NOT_IN_ENUM: Final = "not in enum: expected one of {values}"

_SUFFIXES: Final[dict[str, SourceFormat]] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
}
_COMPRESSIONS: Final[dict[str, Compression]] = {".gz": "gzip"}
_OTHER_DELIMITERS: Final = (";", "\t", "|", ",")
_TYPE_SYNTAX: Final = re.compile(
    r"[A-Z][A-Z0-9_]*(\(\d{1,2}(,\d{1,2})?\))?|TIMESTAMP WITH TIME ZONE|TIME WITH TIME ZONE"
)
_ALIASES: Final = {
    "INT": "INTEGER", "INT4": "INTEGER", "SIGNED": "INTEGER", "INT8": "BIGINT", "LONG": "BIGINT",
    "INT2": "SMALLINT", "SHORT": "SMALLINT", "INT1": "TINYINT", "BOOL": "BOOLEAN", "LOGICAL": "BOOLEAN",
    "TEXT": "VARCHAR", "STRING": "VARCHAR", "CHAR": "VARCHAR", "BPCHAR": "VARCHAR", "FLOAT8": "DOUBLE",
    "FLOAT4": "FLOAT", "REAL": "FLOAT", "NUMERIC": "DECIMAL", "DATETIME": "TIMESTAMP",
    "TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE", "TIMETZ": "TIME WITH TIME ZONE", "DOUBLE PRECISION": "DOUBLE",
    "CHARACTER VARYING": "VARCHAR",
}  # fmt: skip
_INTEGERS: Final = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
     "UHUGEINT"}
)  # fmt: skip
_FLOATS: Final = frozenset({"FLOAT", "DOUBLE"})
_TRUE: Final = "'(?i)\\s*(true|t|1|yes)\\s*'"
_FALSE: Final = "'(?i)\\s*(false|f|0|no)\\s*'"
_DATE_RE: Final = r"\s*[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIME_RE: Final = r"[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
_OFFSET_RE: Final = r" ?(Z|[+-][0-9]{2}(:?[0-9]{2})?)"
_NAIVE_TS: Final = f"'{_DATE_RE}({_TIME_RE})?\\s*'"
_ZONED_TS: Final = f"'{_DATE_RE}{_TIME_RE}{_OFFSET_RE}\\s*'"


# --- results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reject:
    """One refused value or row of a source file.

    Attributes:
        line: 1-based physical line where the record starts (CSV header is line 1), or the 1-based
            row number for Parquet.
        column: the column at fault, or None when the whole row is unusable (malformed CSV row,
            unparseable JSON line).
        value: the offending raw value (or raw line), truncated to 200 characters; '' when missing.
        reason: why it was refused.
    """

    line: int
    column: str | None
    value: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        """Return the reject as a JSON-ready dict (for the rejects file)."""
        return {"line": self.line, "column": self.column, "value": self.value, "reason": self.reason}

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column!r}" if self.column is not None else "")
        return f"{where}: {self.reason} (value {self.value!r})"


@dataclass(frozen=True)
class SourceRead:
    """The outcome of reading a source extract against a schema.

    Attributes:
        path: the source file.
        fmt: its format.
        schema: the schema it was checked against.
        table: DuckDB temp table holding the good rows: the schema's columns in order, typed, plus
            ``_source_line BIGINT``, ordered by line.
        good_rows: number of rows in ``table``.
        rejects: every refused value, ordered by line then column order.
        missing_columns: nullable schema columns absent from the file (filled with NULL).
        extra_columns: file columns not in the schema, ignored (only with ``allow_extra_columns``).
        renamed_columns: ``(file column, schema column)`` of the columns read under the schema's
            spelling of their name (``header_case="insensitive"``).
    """

    path: Path
    fmt: SourceFormat
    schema: DatasetSchema
    table: str
    good_rows: int
    rejects: list[Reject]
    missing_columns: tuple[str, ...]
    extra_columns: tuple[str, ...]
    renamed_columns: tuple[tuple[str, str], ...] = ()

    @property
    def relation_sql(self) -> str:
        """``SELECT * FROM <table>``, to embed in a larger query."""
        return f"SELECT * FROM {quote_identifier(self.table)}"

    @property
    def rejected_rows(self) -> int:
        """Number of distinct lines with at least one reject."""
        return len({reject.line for reject in self.rejects})

    def drop(self, con: duckdb.DuckDBPyConnection) -> None:
        """Drop the temp table of good rows."""
        con.execute(f"DROP TABLE IF EXISTS {quote_identifier(self.table)}")


# --- types -----------------------------------------------------------------------------------------


def normalize_type(type_: str) -> str:
    """Return a DuckDB type name in canonical form (``int`` -> ``INTEGER``, ``DECIMAL(12, 2)`` ->
    ``DECIMAL(12,2)``, ``TIMESTAMPTZ`` -> ``TIMESTAMP WITH TIME ZONE``).
    """
    text = " ".join(type_.upper().split()).replace(" (", "(").replace("( ", "(").replace(" )", ")")
    text = text.replace(", ", ",").replace(" ,", ",")
    base, paren, rest = text.partition("(")
    base = _ALIASES.get(base, base)
    if base == "DECIMAL" and not paren:
        return "DECIMAL(18,3)"
    return base + paren + rest


def _checked_type(column: Column) -> str:
    """Return the canonical type of ``column``, refusing anything that is not a plain type name."""
    canonical = normalize_type(column.type)
    if _TYPE_SYNTAX.fullmatch(canonical) is None:
        raise SchemaMismatchError(
            f"column {column.name!r} has unsupported type {column.type!r}: use a scalar DuckDB type"
        )
    return canonical


def _decimal_scale(type_: str) -> int | None:
    match = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", type_)
    if match is None:
        match = re.fullmatch(r"DECIMAL\((\d+)\)", type_)
        return 0 if match else None
    return int(match.group(2))


def _text_cast(text: str, type_: str) -> str:
    """SQL typing the non-empty text ``text`` as ``type_``; NULL when it does not parse.

    Surrounding spaces are allowed by every pattern (DuckDB's casts ignore them), which is cheaper
    than trimming every value first.
    """
    if type_ == "BOOLEAN":
        return (
            f"CASE WHEN regexp_full_match({text}, {_TRUE}) THEN true "
            f"WHEN regexp_full_match({text}, {_FALSE}) THEN false END"
        )
    if type_ in _INTEGERS:
        pattern = "'\\s*[+-]?[0-9]+\\s*'"
        return f"CASE WHEN regexp_full_match({text}, {pattern}) THEN TRY_CAST({text} AS {type_}) END"
    scale = _decimal_scale(type_)
    if scale is not None:
        number = f"([0-9]+(\\.[0-9]{{0,{scale}}})?|\\.[0-9]{{1,{scale}}})" if scale else "[0-9]+\\.?"
        pattern = f"'\\s*[+-]?{number}\\s*'"
        return f"CASE WHEN regexp_full_match({text}, {pattern}) THEN TRY_CAST({text} AS {type_}) END"
    if type_ == "DATE":
        return f"CASE WHEN regexp_full_match({text}, '{_DATE_RE}\\s*') THEN TRY_CAST({text} AS DATE) END"
    if type_ == "TIMESTAMP":
        return (
            f"CASE WHEN regexp_full_match({text}, {_NAIVE_TS}) THEN TRY_CAST({text} AS TIMESTAMP) "
            f"WHEN regexp_full_match({text}, {_ZONED_TS}) "
            f"THEN timezone('UTC', TRY_CAST({text} AS TIMESTAMP WITH TIME ZONE)) END"
        )
    if type_ == "TIMESTAMP WITH TIME ZONE":
        return (
            f"CASE WHEN regexp_full_match({text}, {_NAIVE_TS}) "
            f"THEN timezone('UTC', TRY_CAST({text} AS TIMESTAMP)) "
            f"WHEN regexp_full_match({text}, {_ZONED_TS}) THEN TRY_CAST({text} AS {type_}) END"
        )
    return f"TRY_CAST(trim({text}) AS {type_})"


def _native_cast(value: str, source_type: str, type_: str) -> str:
    """SQL converting a typed (Parquet) value to ``type_``; NULL when it does not convert losslessly."""
    if source_type == type_:
        return value
    zoned = "TIMESTAMP WITH TIME ZONE"
    if {source_type, type_} == {"TIMESTAMP", zoned}:
        return f"timezone('UTC', {value})"
    if source_type in _FLOATS and type_ in _INTEGERS:
        return f"CASE WHEN {value} = trunc({value}) THEN TRY_CAST({value} AS {type_}) END"
    return f"TRY_CAST({value} AS {type_})"


@dataclass(frozen=True)
class _ColumnCheck:
    """SQL checking schema column number ``index`` against the staged source.

    The check runs as nested projections, each level naming its results, so no expression is
    evaluated twice: ``__lh_s<i>`` raw value and ``__lh_t<i>`` normalised value, then ``__lh_c<i>``
    typed value, then ``__lh_r<i>`` reject reason (NULL when the value is fine).
    """

    column: Column
    index: int
    type_: str
    source: str  # the raw value: a column of the staged source, or a NULL literal
    norm: str  # the raw value with '' as NULL, from source
    typed: str  # the typed value, from the __lh_t<i> alias
    blank: str  # true when the value counts as missing, from the aliases
    enum_text: str  # the text compared with the enum, from the aliases

    @property
    def reason(self) -> str:
        missing = quote_literal(MISSING_VALUE) if not self.column.nullable else "NULL"
        parts = [
            f"CASE WHEN {STAGE_ERROR} IS NOT NULL THEN NULL",
            f"WHEN {self.blank} THEN {missing}",
            f"WHEN __lh_c{self.index} IS NULL THEN {quote_literal(BAD_TYPE.format(type=self.type_))}",
        ]
        if self.column.enum is not None:
            allowed = ", ".join(quote_literal(value) for value in self.column.enum) or "NULL"
            message = NOT_IN_ENUM.format(values=", ".join(self.column.enum))
            parts.append(f"WHEN {self.enum_text} NOT IN ({allowed}) THEN {quote_literal(message)}")
        return " ".join(parts) + " END"


def _column_check(
    column: Column, index: int, source_name: str | None, source_type: str | None
) -> _ColumnCheck:
    type_ = _checked_type(column)
    norm_alias, typed_alias = f"__lh_t{index}", f"__lh_c{index}"
    source = "NULL::VARCHAR" if source_name is None else quote_identifier(source_name)
    text_source = source_name is None or source_type is None or normalize_type(source_type) == "VARCHAR"
    if text_source and type_ == "VARCHAR":
        norm, typed, enum_text = f"NULLIF({source}, '')", norm_alias, norm_alias
        blank = f"{norm_alias} IS NULL"
    elif text_source:
        norm, typed = f"NULLIF({source}, '')", _text_cast(norm_alias, type_)
        enum_text = f"CAST({typed_alias} AS VARCHAR)"
        # Only a failed value pays for the whitespace test.
        blank = f"{typed_alias} IS NULL AND ({norm_alias} IS NULL OR regexp_full_match({norm_alias}, '\\s*'))"
    else:
        assert source_type is not None
        norm, typed = source, _native_cast(norm_alias, normalize_type(source_type), type_)
        enum_text = f"CAST({typed_alias} AS VARCHAR)"
        blank = f"{norm_alias} IS NULL"
    return _ColumnCheck(column, index, type_, source, norm, typed, blank, enum_text)


def _checked_sql(source: str, checks: list[_ColumnCheck]) -> str:
    """SELECT over ``source`` giving line, row error, raw row, then per column typed value, reason, value."""
    head = f"{STAGE_LINE}, {STAGE_ERROR}, {STAGE_RAW}"
    level1 = ", ".join(f"{c.source} AS __lh_s{c.index}, {c.norm} AS __lh_t{c.index}" for c in checks)
    level2 = ", ".join(f"{c.typed} AS __lh_c{c.index}" for c in checks)
    level3 = ", ".join(f"{c.reason} AS __lh_r{c.index}" for c in checks)
    level4 = ", ".join(
        f"__lh_c{c.index}, __lh_r{c.index}, CASE WHEN __lh_r{c.index} IS NOT NULL "
        f"THEN left(CAST(__lh_s{c.index} AS VARCHAR), {VALUE_LIMIT}) END AS __lh_v{c.index}"
        for c in checks
    )
    return (
        f"SELECT {head}, {level4} FROM (SELECT *, {level3} FROM (SELECT *, {level2} FROM "
        f"(SELECT {head}, {level1} FROM {source})))"
    )


def _validate_schema(schema: DatasetSchema) -> None:
    names = [column.name for column in schema.columns]
    if not names:
        raise SchemaMismatchError(f"schema {schema.name!r} v{schema.version} has no columns")
    repeated = repeated_names(names)
    if repeated:
        raise SchemaMismatchError(f"schema {schema.name!r} repeats column(s) {', '.join(repeated)}")
    bad = [n for n in names if n == SOURCE_LINE_COLUMN or n.lower().startswith(RESERVED_PREFIX) or not n]
    if bad:
        raise SchemaMismatchError(f"schema {schema.name!r} uses reserved column name(s) {bad}")
    for column in schema.columns:
        _checked_type(column)


# --- reading a source ------------------------------------------------------------------------------


def detect_compression(path: Path) -> Compression:
    """Return the compression implied by the file suffix: ``gzip`` for ``.gz``, else ``none``."""
    return _COMPRESSIONS.get(Path(path).suffix.lower(), "none")


def _inner_suffix(path: Path) -> str:
    """The suffix that names the format: ``.csv`` of ``jobs.csv`` and of ``jobs.csv.gz``."""
    name = Path(path)
    if detect_compression(name) != "none":
        name = Path(name.stem)
    return name.suffix.lower()


def is_source_name(path: Path) -> bool:
    """Whether a file's name is that of a source extract (``.csv``, ``.jsonl``, ``.ndjson``,
    ``.parquet``, or one of the text ones with ``.gz`` after it; a ``.parquet.gz`` counts, to be
    refused by :func:`detect_format` rather than passed over)."""
    return _inner_suffix(path) in _SUFFIXES


def detect_format(path: Path) -> SourceFormat:
    """Return the source format implied by the file suffix: ``.csv``, ``.jsonl``/``.ndjson`` or
    ``.parquet``, the text ones optionally gzip-compressed (``.csv.gz``, ``.jsonl.gz``, ``.ndjson.gz``).

    Raises:
        DataPlaneError: the suffix is not one of those (a gzip-compressed Parquet file is refused).
    """
    fmt = _SUFFIXES.get(_inner_suffix(path))
    if fmt is None:
        raise DataPlaneError(
            f"cannot tell the format of {path} from its suffix: name the file .csv, .jsonl, .ndjson or "
            ".parquet (.csv.gz, .jsonl.gz or .ndjson.gz when it is gzip-compressed)"
        )
    if fmt == "parquet":
        _refuse_compressed_parquet(path)
    return fmt


def _refuse_compressed_parquet(path: Path) -> None:
    if detect_compression(path) != "none":
        raise DataPlaneError(
            f"{path}: a gzip-compressed Parquet file is not read (Parquet compresses its own pages): "
            "decompress it to a .parquet file"
        )


def parse_header_case(value: str) -> HeaderCase:
    """The header matching mode ``value`` names: ``exact`` or ``insensitive``.

    Raises:
        InvalidArgumentError: ``value`` is neither.
    """
    if value == "insensitive":
        return "insensitive"
    if value == "exact":
        return "exact"
    raise InvalidArgumentError(
        "header case",
        value,
        "exact (a column's name as in the schema) or insensitive (its name in any case: Customer_ID is customer_id)",
    )


def _parquet_columns(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    try:
        rows = con.execute(
            "DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = false)", [reader_path(path)]
        ).fetchall()
    except duckdb.Error as exc:
        raise DataRefusedError(f"{path}: not a readable Parquet file ({duckdb_message(exc)})") from exc
    return {str(row[0]): str(row[1]) for row in rows}


def _parquet_source_sql(path: Path) -> str:
    return (
        f"(SELECT file_row_number + 1 AS {STAGE_LINE}, NULL::VARCHAR AS {STAGE_ERROR}, "
        f"NULL::VARCHAR AS {STAGE_RAW}, * EXCLUDE (file_row_number) FROM read_parquet("
        f"{quote_literal(reader_path(path))}, file_row_number = true, hive_partitioning = false))"
    )


def check_width(path: Path, columns: int) -> None:
    """Refuse a source file with more than :data:`MAX_COLUMNS` columns.

    Raises:
        SchemaMismatchError: the file is wider than that.
    """
    if columns > MAX_COLUMNS:
        raise SchemaMismatchError(
            f"{path}: {columns:,} columns; a source file may have at most {MAX_COLUMNS:,}: "
            "split the extract into several datasets"
        )


def _matched_names(
    path: Path, schema: DatasetSchema, found: tuple[str, ...], header_case: HeaderCase
) -> tuple[str, ...]:
    """The schema column each file column is read as: the name itself (``exact``), or the schema
    column that name matches ignoring case (``insensitive``); a name no column matches stays as it is.

    Raises:
        SchemaMismatchError: two file columns match one schema column once case is ignored.
    """
    if header_case == "exact":
        return found
    by_lower = {column.name.lower(): column.name for column in schema.columns}
    matched = tuple(by_lower.get(name.lower(), name) for name in found)
    seen: dict[str, str] = {}
    for name, target in zip(found, matched, strict=True):
        other = seen.setdefault(target.lower(), name)
        if other != name:
            raise SchemaMismatchError(
                f"{path}: columns {other!r} and {name!r} both match column {target!r} of dataset "
                f"{schema.name!r} when case is ignored (header case insensitive): rename one of them "
                "in the extract"
            )
    return matched


def _hints(
    schema: DatasetSchema,
    found: tuple[str, ...],
    missing: list[str],
    extra: tuple[str, ...],
    delimiter: str | None,
) -> list[str]:
    """Likely causes of missing and extra columns: a name in another case, another field separator."""
    hints = []
    by_lower = {name.lower(): name for name in missing}
    cased = [f"{name} / {by_lower[name.lower()]}" for name in extra if name.lower() in by_lower]
    if cased:
        hints.append(
            f"the names {', '.join(cased)} differ only by case: pass --header-case insensitive to match "
            "names in any case"
        )
    if delimiter is not None and len(found) == 1 and len(schema.columns) > 1:
        other = next((d for d in _OTHER_DELIMITERS if d != delimiter and d in found[0]), None)
        if other is not None:
            shown = "tab" if other == "\t" else other
            hints.append(
                f"the header is one column holding {other!r}: is the file separated by {other!r} "
                f"(--delimiter {shown!r})?"
            )
    return hints


def _header_problems(
    path: Path,
    schema: DatasetSchema,
    found: tuple[str, ...],
    allow_extra: bool,
    delimiter: str | None = None,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return (missing nullable columns, extra columns); raise when the file cannot be used.

    ``found`` are the file's column names as matched with the schema (see :func:`_matched_names`);
    ``delimiter`` is a CSV file's field separator, for the hint that another one was meant.
    """
    present = set(found)
    known = set(schema.column_names)
    missing = tuple(name for name in schema.column_names if name not in present)
    extra = tuple(name for name in found if name not in known)
    nullable = {column.name: column.nullable for column in schema.columns}
    required = [name for name in missing if not nullable[name]]
    problems = []
    if required:
        problems.append(f"missing required column(s) {', '.join(required)}")
    if extra and not allow_extra:
        problems.append(f"unknown extra column(s) {', '.join(extra)}")
    if problems:
        hints = _hints(schema, found, list(missing), extra, delimiter)
        raise SchemaMismatchError(
            f"{path}: {'; '.join(problems)} for dataset {schema.name!r} schema v{schema.version}; "
            + "".join(f"{hint}; " for hint in hints)
            + "fix the extract or declare a new schema version"
        )
    return missing, extra


def _renamed_source(source: str, found: tuple[str, ...], matched: tuple[str, ...]) -> str:
    """``source`` with each file column that matched a schema column under another spelling renamed."""
    if found == matched:
        return source
    columns = ", ".join(
        f"{quote_identifier(name)} AS {quote_identifier(target)}"
        for name, target in zip(found, matched, strict=True)
    )
    return f"(SELECT {STAGE_LINE}, {STAGE_ERROR}, {STAGE_RAW}, {columns} FROM {source})"


def read_source(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    schema: DatasetSchema,
    fmt: SourceFormat | None = None,
    *,
    allow_extra_columns: bool = False,
    delimiter: str = DEFAULT_DELIMITER,
    encoding: str = DEFAULT_ENCODING,
    header_case: HeaderCase = "exact",
    scratch_dir: Path | None = None,
) -> SourceRead:
    """Read a source extract, type it against ``schema`` and report every bad value.

    Args:
        con: DuckDB connection that will own the temp table of good rows.
        path: the CSV (with header), JSONL or Parquet file; a ``.csv.gz``, ``.jsonl.gz`` or
            ``.ndjson.gz`` file is decompressed (and refused when truncated or damaged).
        schema: the dataset schema to check against.
        fmt: the format; guessed from the suffix when None.
        allow_extra_columns: ignore (and list) columns not in the schema instead of refusing the file.
        delimiter: a CSV file's field separator: one character such as ``;`` or ``|``, or ``tab``
            (see :func:`~lakehouse.dataplane.csv_io.parse_delimiter`); unused for JSONL and Parquet.
        encoding: a CSV or JSONL file's character set: ``utf-8`` (the default), ``utf-16``,
            ``latin-1``, ``cp1252`` or any other of Python's codecs (see
            :func:`~lakehouse.dataplane.csv_io.parse_encoding`); unused for Parquet.
        header_case: ``exact``: a file column is the schema column of exactly its name;
            ``insensitive``: of its name in any case (``Customer_ID`` is read as ``customer_id``).
        scratch_dir: the folder of the decoded copy of a source that is not plain UTF-8 (see
            :func:`~lakehouse.dataplane.csv_io.decoded_copy`); the system's temporary folder when None.

    Returns:
        The good rows (as a temp table) and the rejects.

    Raises:
        InvalidArgumentError: ``delimiter``, ``encoding`` or ``header_case`` is not a usable value.
        SchemaMismatchError: a non-nullable schema column is absent from the file, the file has
            columns not in the schema, two of its columns match one schema column ignoring case
            (``insensitive``), or the file's header is unusable.
        DataPlaneError: the file is missing or unreadable, a gzip file is truncated or damaged, or
            its text is not in ``encoding`` (the line is named).
    """
    path = Path(path)
    fmt = fmt or detect_format(path)
    separator, charset = parse_delimiter(delimiter), parse_encoding(encoding)
    matching = parse_header_case(header_case)
    compression = detect_compression(path)
    if not path.is_file():
        raise DataPlaneError(f"source file {path} does not exist or is not a file")
    _validate_schema(schema)
    if fmt == "parquet":
        _refuse_compressed_parquet(path)
        charset, compression = DEFAULT_ENCODING, "none"
    stage = f"__lh_stage_{uuid.uuid4().hex}"
    with decoded_copy(path, charset, compression, scratch_dir) as readable:
        try:
            if fmt == "csv":
                # refuse a bad header before reading any row
                header, _ = read_csv_header(readable, separator, label=path)
                check_width(path, len(header))
                _header_problems(
                    path,
                    schema,
                    _matched_names(path, schema, header, matching),
                    allow_extra_columns,
                    separator,
                )
                found = stage_csv(con, readable, stage, separator, label=path)
                source = quote_identifier(stage)
                file_types = dict.fromkeys(found, "VARCHAR")
            elif fmt == "jsonl":
                found = stage_jsonl(con, readable, stage, label=path)
                source = quote_identifier(stage)
                file_types = dict.fromkeys(found, "VARCHAR")
            elif fmt == "parquet":
                file_types = _parquet_columns(con, path)
                found = tuple(file_types)
                source = _parquet_source_sql(path)
            else:
                raise DataPlaneError(f"unknown source format {fmt!r}: use csv, jsonl or parquet")
            check_width(path, len(found))
            reserved = [name for name in found if name.lower().startswith(RESERVED_PREFIX)]
            if reserved:
                raise SchemaMismatchError(
                    f"{path}: column(s) {', '.join(reserved)} use the reserved prefix {RESERVED_PREFIX!r}"
                )
            matched = _matched_names(path, schema, found, matching)
            source = _renamed_source(source, found, matched)
            types = {target: file_types[name] for name, target in zip(found, matched, strict=True)}
            missing: tuple[str, ...]
            extra: tuple[str, ...]
            if fmt == "jsonl" and not _has_objects(con, source):
                # No JSON object at all (an empty file, or only bad lines): no key can be missing from
                # the file as a whole; every line that is there is reported as a row.
                missing, extra = schema.column_names, ()
            else:
                missing, extra = _header_problems(
                    path, schema, matched, allow_extra_columns, separator if fmt == "csv" else None
                )
            table = f"lh_source_{uuid.uuid4().hex}"
            good, rejects = _check_rows(con, source, schema, types, table)
        finally:
            drop_stage(con, stage)
    logger.info("%s: %d good row(s), %d reject(s)", path, good, len(rejects))
    renamed = tuple((name, target) for name, target in zip(found, matched, strict=True) if name != target)
    return SourceRead(path, fmt, schema, table, good, rejects, missing, extra, renamed)


def _has_objects(con: duckdb.DuckDBPyConnection, source: str) -> bool:
    row = con.execute(f"SELECT count(*) FROM {source} WHERE {STAGE_ERROR} IS NULL").fetchone()
    return bool(row and row[0])


def _slices(checks: list[_ColumnCheck]) -> list[list[_ColumnCheck]]:
    """The checks in slices of :data:`CHECK_SLICE` columns (one SQL statement each)."""
    return [checks[i : i + CHECK_SLICE] for i in range(0, len(checks), CHECK_SLICE)]


@contextlib.contextmanager
def _sliceable(con: duckdb.DuckDBPyConnection, source: str, slices: int) -> Iterator[str]:
    """``source`` ready to be read once per slice: as it is for one slice; else copied into a temp
    table once, since binding a wide view (or a Parquet file) again for every slice costs its width."""
    if slices <= 1:
        yield source
        return
    table = quote_identifier(f"__lh_wide_{uuid.uuid4().hex}")
    con.execute(f"CREATE TEMP TABLE {table} AS SELECT * FROM {source}")
    try:
        yield table
    finally:
        con.execute(f"DROP TABLE IF EXISTS {table}")


def _slice_rejects_sql(checked: str, checks: list[_ColumnCheck]) -> str:
    """The rejects of one slice: one row per failing value, from the rows where some value failed."""
    values = ", ".join(
        f"{{'pos': {c.index}, 'value': __lh_v{c.index}, 'reason': __lh_r{c.index}}}" for c in checks
    )
    return (
        f"SELECT line, x.pos, x.value, x.reason FROM (SELECT {STAGE_LINE} AS line, "
        f"unnest([{values}]) AS x FROM {checked} WHERE NOT __lh_ok) WHERE x.reason IS NOT NULL"
    )


def _check_rows(
    con: duckdb.DuckDBPyConnection, source: str, schema: DatasetSchema, types: dict[str, str], table: str
) -> tuple[int, list[Reject]]:
    """Type every column, keep the good rows in ``table`` and return the rejects.

    Each slice of :data:`CHECK_SLICE` columns is typed in one pass into its own temp table (with an
    ``__lh_ok`` flag: no value of the slice failed); the good rows are the lines that every slice
    passed, joined back together by line.
    """
    checks = [
        _column_check(column, i, column.name if column.name in types else None, types.get(column.name))
        for i, column in enumerate(schema.columns)
    ]
    slices = _slices(checks)
    token = uuid.uuid4().hex
    tables = [quote_identifier(f"__lh_checked_{token}_{n}") for n in range(len(slices))]
    try:
        with _sliceable(con, source, len(slices)) as sliced:
            for checked, part in zip(tables, slices, strict=True):
                ok = " AND ".join(f"__lh_r{c.index} IS NULL" for c in part)
                con.execute(
                    f"CREATE TEMP TABLE {checked} AS SELECT *, {ok} AS __lh_ok "
                    f"FROM ({_checked_sql(sliced, part)})"
                )
        aliases = [f"__lh_k{n}" for n in range(len(slices))]
        first = aliases[0]
        joined = f"{tables[0]} {first}" + "".join(
            f" JOIN {t} {a} ON {a}.{STAGE_LINE} = {first}.{STAGE_LINE}"
            for t, a in zip(tables[1:], aliases[1:], strict=True)
        )
        outputs = ", ".join(
            f"CAST({alias}.__lh_c{c.index} AS {c.type_}) AS {quote_identifier(c.column.name)}"
            for alias, part in zip(aliases, slices, strict=True)
            for c in part
        )
        clean = " AND ".join([f"{first}.{STAGE_ERROR} IS NULL"] + [f"{a}.__lh_ok" for a in aliases])
        con.execute(
            f"CREATE TEMP TABLE {quote_identifier(table)} AS SELECT {outputs}, "
            f"{first}.{STAGE_LINE}::BIGINT AS {SOURCE_LINE_COLUMN} FROM {joined} WHERE {clean} "
            f"ORDER BY {first}.{STAGE_LINE}"
        )
        parts = [
            f"SELECT {STAGE_LINE} AS line, -1 AS pos, {STAGE_RAW} AS value, {STAGE_ERROR} AS reason "
            f"FROM {tables[0]} WHERE {STAGE_ERROR} IS NOT NULL"
        ]
        parts += [_slice_rejects_sql(t, part) for t, part in zip(tables, slices, strict=True)]
        rows = con.execute(" UNION ALL ".join(parts) + " ORDER BY line, pos").fetchall()
        count = con.execute(f"SELECT count(*) FROM {quote_identifier(table)}").fetchone()
    except duckdb.Error as exc:
        con.execute(f"DROP TABLE IF EXISTS {quote_identifier(table)}")
        raise DataPlaneError(f"validating rows failed: {duckdb_message(exc)}") from exc
    finally:
        for checked in tables:
            con.execute(f"DROP TABLE IF EXISTS {checked}")
    rejects = [
        Reject(
            line=int(line),
            column=checks[pos].column.name if pos >= 0 else None,
            value=(value or "")[:VALUE_LIMIT],
            reason=str(reason),
        )
        for line, pos, value, reason in rows
    ]
    return (int(count[0]) if count else 0), rejects


# --- schema inference and comparison ---------------------------------------------------------------


def _inferable(type_: str) -> str:
    """Map a sniffed DuckDB type to a column type: nested and exotic types become VARCHAR."""
    canonical = normalize_type(type_)
    if _TYPE_SYNTAX.fullmatch(canonical) is None or canonical in {"JSON", "BLOB", "NULL", "BIT", "INTERVAL"}:
        return "VARCHAR"
    return canonical


def _sniffed_types(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: SourceFormat, delimiter: str, shown: Path
) -> list[tuple[str, str]]:
    if fmt == "csv":
        query = (
            f"DESCRIBE SELECT * FROM read_csv(?, header = true, delim = {quote_literal(delimiter)}, "
            "quote = '\"', escape = '\"', comment = '', sample_size = -1, ignore_errors = true)"
        )
    elif fmt == "jsonl":
        query = (
            "DESCRIBE SELECT * FROM read_json(?, format = 'newline_delimited', sample_size = -1, "
            "ignore_errors = true)"
        )
    else:
        query = "DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = false)"
    try:
        return [(str(r[0]), str(r[1])) for r in con.execute(query, [reader_path(path)]).fetchall()]
    except duckdb.Error as exc:
        if fmt == "parquet":
            raise DataRefusedError(f"{path}: not a readable Parquet file ({duckdb_message(exc)})") from exc
        raise DataPlaneError(
            f"cannot infer the schema of {shown}: {duckdb_message_naming(exc, path, shown)}"
        ) from exc


def infer_schema(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fmt: SourceFormat | None,
    dataset: str,
    *,
    delimiter: str = DEFAULT_DELIMITER,
    encoding: str = DEFAULT_ENCODING,
    scratch_dir: Path | None = None,
) -> DatasetSchema:
    """Infer the schema of an undeclared dataset from a source file.

    Types come from DuckDB's sniffer over the whole file; a CSV or JSONL column whose values do not
    all pass this module's text rules for the sniffed type (e.g. dates in another format) falls back
    to VARCHAR, so the file always validates against the schema inferred from it. Every column is
    nullable; the version is ``"1"``.

    Args:
        con: DuckDB connection to use.
        path: the source file.
        fmt: its format; guessed from the suffix when None.
        dataset: the dataset name (a slug).
        delimiter: a CSV file's field separator (see :func:`read_source`).
        encoding: a CSV or JSONL file's character set (see :func:`read_source`).
        scratch_dir: the folder of a decoded copy (see :func:`read_source`).

    Returns:
        The inferred schema, columns in file order.

    Raises:
        InvalidArgumentError: ``delimiter`` or ``encoding`` is not a usable value.
        InvalidNameError: ``dataset`` is not a valid slug.
        SchemaMismatchError: the file has no columns or a bad header.
        DataPlaneError: the file cannot be read, a gzip file is truncated or damaged, or its text
            is not in ``encoding``.
    """
    validate_slug("dataset", dataset)
    path = Path(path)
    fmt = fmt or detect_format(path)
    separator, charset = parse_delimiter(delimiter), parse_encoding(encoding)
    compression = detect_compression(path)
    if not path.is_file():
        raise DataPlaneError(f"source file {path} does not exist or is not a file")
    if fmt == "parquet":
        _refuse_compressed_parquet(path)
        sniffed = _sniffed_types(con, path, fmt, separator, path)
        check_width(path, len(sniffed))
        columns = tuple(Column(name, _inferable(type_), nullable=True) for name, type_ in sniffed)
        return _new_schema(path, dataset, columns)
    with decoded_copy(path, charset, compression, scratch_dir) as readable:
        if fmt == "csv":  # before the sniffer reads every column
            check_width(path, len(read_csv_header(readable, separator, label=path)[0]))
        sniffed = _sniffed_types(con, readable, fmt, separator, path)
        check_width(path, len(sniffed))
        stage = f"__lh_stage_{uuid.uuid4().hex}"
        try:
            if fmt == "csv":
                names = stage_csv(con, readable, stage, separator, label=path)
                by_position = len(sniffed) == len(names)
                guessed = [_inferable(sniffed[i][1]) if by_position else "VARCHAR" for i in range(len(names))]
            else:
                names = stage_jsonl(con, readable, stage, label=path)
                check_width(path, len(names))
                by_name = dict(sniffed)
                guessed = [_inferable(by_name.get(name, "VARCHAR")) for name in names]
            candidate = tuple(Column(n, t, nullable=True) for n, t in zip(names, guessed, strict=True))
            failing = _columns_with_bad_values(con, quote_identifier(stage), candidate)
        finally:
            drop_stage(con, stage)
    if failing:
        logger.info("%s: column(s) %s fall back to VARCHAR", path, ", ".join(sorted(failing)))
    columns = tuple(Column(c.name, "VARCHAR" if c.name in failing else c.type, True) for c in candidate)
    return _new_schema(path, dataset, columns)


def _new_schema(path: Path, dataset: str, columns: tuple[Column, ...]) -> DatasetSchema:
    if not columns:
        raise SchemaMismatchError(f"{path}: no columns found, cannot infer a schema for {dataset!r}")
    return DatasetSchema(name=dataset, version="1", columns=columns, description=f"inferred from {path.name}")


def _columns_with_bad_values(
    con: duckdb.DuckDBPyConnection, source: str, columns: tuple[Column, ...]
) -> set[str]:
    """Return the names of text columns holding a value that does not parse as the column's type."""
    checks = [
        _column_check(column, i, column.name, "VARCHAR")
        for i, column in enumerate(columns)
        if normalize_type(column.type) != "VARCHAR"
    ]
    failing: set[str] = set()
    slices = _slices(checks)
    with _sliceable(con, source, len(slices)) as sliced:
        for part in slices:
            counts = ", ".join(f"count(__lh_r{c.index})" for c in part)
            row = con.execute(f"SELECT {counts} FROM ({_checked_sql(sliced, part)})").fetchone()
            assert row is not None
            failing.update(check.column.name for check, bad in zip(part, row, strict=True) if bad)
    return failing


@dataclass(frozen=True)
class TypeChange:
    """A column whose type changed between two schema versions."""

    name: str
    old_type: str
    new_type: str


@dataclass(frozen=True)
class NullabilityChange:
    """A column whose nullability changed between two schema versions."""

    name: str
    old_nullable: bool
    new_nullable: bool


@dataclass(frozen=True)
class SchemaDiff:
    """Differences between an old and a new version of a dataset schema."""

    added: tuple[Column, ...]
    removed: tuple[Column, ...]
    type_changed: tuple[TypeChange, ...]
    nullability_changed: tuple[NullabilityChange, ...]

    @property
    def is_empty(self) -> bool:
        """True when the two schemas have the same columns, types and nullability."""
        return not (self.added or self.removed or self.type_changed or self.nullability_changed)

    @property
    def is_additive_nullable(self) -> bool:
        """True when old data stays valid: nothing removed or changed, every added column nullable."""
        return (
            not self.removed
            and not self.type_changed
            and not self.nullability_changed
            and all(column.nullable for column in self.added)
        )

    def __str__(self) -> str:
        def null(flag: bool) -> str:
            return "nullable" if flag else "not null"

        parts = []
        if self.added:
            parts.append(
                "added: "
                + ", ".join(f"{c.name} {normalize_type(c.type)} ({null(c.nullable)})" for c in self.added)
            )
        if self.removed:
            parts.append("removed: " + ", ".join(c.name for c in self.removed))
        if self.type_changed:
            parts.append(
                "changed: " + ", ".join(f"{t.name} {t.old_type} -> {t.new_type}" for t in self.type_changed)
            )
        if self.nullability_changed:
            parts.append(
                "nullability: "
                + ", ".join(
                    f"{n.name} {null(n.old_nullable)} -> {null(n.new_nullable)}"
                    for n in self.nullability_changed
                )
            )
        return "; ".join(parts) if parts else "no changes"


def schema_diff(old: DatasetSchema, new: DatasetSchema) -> SchemaDiff:
    """Compare two versions of a schema by column name (types compared in canonical form).

    Args:
        old: the recorded schema.
        new: the schema of the incoming data.

    Returns:
        Columns added, removed, with a changed type, and with changed nullability.
    """
    old_by_name = {column.name: column for column in old.columns}
    new_by_name = {column.name: column for column in new.columns}
    added = tuple(c for c in new.columns if c.name not in old_by_name)
    removed = tuple(c for c in old.columns if c.name not in new_by_name)
    type_changed: list[TypeChange] = []
    nullability_changed: list[NullabilityChange] = []
    for column in new.columns:
        before = old_by_name.get(column.name)
        if before is None:
            continue
        old_type, new_type = normalize_type(before.type), normalize_type(column.type)
        if old_type != new_type:
            type_changed.append(TypeChange(column.name, old_type, new_type))
        if before.nullable != column.nullable:
            nullability_changed.append(NullabilityChange(column.name, before.nullable, column.nullable))
    return SchemaDiff(added, removed, tuple(type_changed), tuple(nullability_changed))
