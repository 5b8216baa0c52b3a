"""Strict JSON and JSON Lines helpers, and staging a JSONL extract into DuckDB.

Writers go through :func:`lakehouse.dataplane.atomic.atomic_output`. Readers refuse anything that is not
strict JSON and name the file, line and column at fault.

Staging (:func:`stage_jsonl`) splits the file into physical lines inside DuckDB (so line numbers are
exact and blank lines are simply skipped), checks each line with DuckDB's JSON functions and
exposes every key as text: strings unescaped, numbers and booleans as their JSON text, nested
objects and arrays as JSON text. Lines that are not JSON, or not a JSON object, become rows with
:data:`~lakehouse.dataplane.csv_io.STAGE_ERROR` set; the parse error is then taken from Python's
:mod:`json` for those lines only.
"""

from __future__ import annotations

import json
import logging
import uuid
import zlib
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import duckdb
import pyarrow as pa

from lakehouse.dataplane.atomic import atomic_output
from lakehouse.dataplane.csv_io import (
    DEFAULT_ENCODING,
    LINES_SUFFIX,
    RESERVED_PREFIX,
    STAGE_ERROR,
    STAGE_LINE,
    STAGE_RAW,
    Compression,
    drop_stage,
    duckdb_message_naming,
    needs_decoding,
    not_utf8,
    open_text,
    repeated_names,
)
from lakehouse.dataplane.sql import quote_identifier, quote_literal, reader_path
from lakehouse.errors import DataPlaneError, SchemaMismatchError

logger = logging.getLogger(__name__)

_RAW_LIMIT: Final = 200
_BLANK_CHUNK: Final = 1 << 16
_LENIENT_JSON: Final = "(contains(t, 'NaN') OR contains(t, 'Infinity') OR regexp_matches(t, ',\\s*[]}]'))"
_OBJECT_START: Final = "regexp_matches(t, '^\\s*\\{')"
_JSON_KIND: Final = (
    "CASE regexp_extract(t, '^\\s*(.)', 1) WHEN '[' THEN 'an array' WHEN '\"' THEN 'a string' "
    "WHEN 't' THEN 'a boolean' WHEN 'f' THEN 'a boolean' WHEN 'n' THEN 'null' ELSE 'a number' END"
)


def _default(value: object) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID | Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"cannot write a {type(value).__name__} value {value!r} as JSON")


def dumps_line(obj: object) -> str:
    """Serialise ``obj`` as one compact JSON line (sorted keys, no NaN; dates, Decimals, UUIDs as text)."""
    try:
        return json.dumps(
            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default
        )
    except (TypeError, ValueError) as exc:
        raise DataPlaneError(f"cannot serialise to JSON: {exc}") from exc


def jsonl_document(rows: Iterable[Mapping[str, Any]], name: str | Path) -> bytes:
    """One compact JSON object per line (:func:`dumps_line`), UTF-8, each line ending in a newline.

    Raises:
        DataPlaneError: a row is not a mapping (``name`` says which document) or holds a value JSON
            cannot represent.
    """
    lines = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise DataPlaneError(f"row {number} for {name} is a {type(row).__name__}, not a mapping")
        lines.append(dumps_line(row) + "\n")
    return "".join(lines).encode("utf-8")


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write :func:`jsonl_document` of ``rows`` to ``path``, atomically.

    Args:
        path: final path of the file.
        rows: the objects to write (keys sorted; dates, datetimes, Decimals and UUIDs as text).

    Returns:
        The number of lines written.

    Raises:
        DataPlaneError: a row is not a mapping or holds a value JSON cannot represent.
    """
    rows = list(rows)
    data = jsonl_document(rows, path)
    with atomic_output(Path(path)) as tmp:
        tmp.write_bytes(data)
    return len(rows)


def _bad_json(path: str | Path, line: int, exc: json.JSONDecodeError) -> DataPlaneError:
    return DataPlaneError(f"{path}: line {line}, column {exc.colno}: invalid JSON: {exc.msg}")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read a JSON Lines file: one JSON object per line, blank lines skipped.

    Raises:
        DataPlaneError: the file cannot be read, or a line is not valid JSON or not an object (named
            by line and column).
    """
    rows: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8-sig") as handle:
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    obj = loads_strict(text)
                except json.JSONDecodeError as exc:
                    raise _bad_json(path, number, exc) from exc
                if not isinstance(obj, dict):
                    raise DataPlaneError(
                        f"{path}: line {number}, column 1: expected a JSON object, found {type(obj).__name__}"
                    )
                rows.append(obj)
    except (OSError, UnicodeDecodeError) as exc:
        raise DataPlaneError(f"cannot read JSON Lines file {path}: {exc}") from exc
    return rows


def json_document(obj: object, name: str | Path) -> bytes:
    """``obj`` as pretty JSON (sorted keys, indent 2, trailing newline), UTF-8.

    Raises:
        DataPlaneError: ``obj`` holds a value JSON cannot represent (``name`` says which document).
    """
    try:
        text = json.dumps(
            obj, sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False, default=_default
        )
    except (TypeError, ValueError) as exc:
        raise DataPlaneError(f"cannot serialise {name} to JSON: {exc}") from exc
    return (text + "\n").encode("utf-8")


def write_json_atomic(path: Path, obj: object) -> None:
    """Write ``obj`` as :func:`json_document` to ``path``, atomically.

    Raises:
        DataPlaneError: ``obj`` holds a value JSON cannot represent.
    """
    data = json_document(obj, path)
    with atomic_output(Path(path)) as tmp:
        tmp.write_bytes(data)


def read_json(path: Path) -> Any:
    """Read a JSON document strictly (no NaN or Infinity).

    Raises:
        DataPlaneError: the file cannot be read, or is not valid JSON (named by line and column).
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataPlaneError(f"cannot read JSON file {path}: {exc}") from exc
    return parse_json(data, path)


def parse_json(data: bytes, name: str | Path) -> Any:
    """Parse a JSON document strictly (no NaN or Infinity; a UTF-8 byte-order mark allowed).

    Raises:
        DataPlaneError: not UTF-8 or not valid JSON (``name``, line and column in the message).
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataPlaneError(f"cannot read JSON file {name}: {exc}") from exc
    try:
        return loads_strict(text)
    except json.JSONDecodeError as exc:
        raise _bad_json(name, exc.lineno, exc) from exc


class _ConstantFound(ValueError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _refuse_constant(name: str) -> Any:
    raise _ConstantFound(name)


def loads_strict(text: str) -> Any:
    """Parse strict JSON: like :func:`json.loads`, but ``NaN`` and ``Infinity`` are refused.

    Raises:
        json.JSONDecodeError: the text is not strict JSON (with line and column).
    """
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except _ConstantFound as exc:
        raise json.JSONDecodeError(
            f"{exc.name} is not valid JSON", text, max(text.find(exc.name), 0)
        ) from None


def is_blank(path: Path, encoding: str = DEFAULT_ENCODING, compression: Compression = "none") -> bool:
    """Whether a JSON Lines file holds no record at all: empty, or only blank lines (and a BOM).

    Args:
        path: the file.
        encoding: its character set (canonical, see :func:`~lakehouse.dataplane.csv_io.parse_encoding`).
        compression: ``gzip`` for a ``.jsonl.gz`` file (which is read to its end).

    Raises:
        DataPlaneError: the file cannot be read, or is a damaged gzip file.
    """
    if needs_decoding(encoding, compression):
        return _is_blank_text(path, encoding, compression)
    try:
        with open(path, "rb") as handle:
            first = True
            while chunk := handle.read(_BLANK_CHUNK):
                if first:
                    chunk, first = chunk.removeprefix(b"\xef\xbb\xbf"), False
                if chunk.strip():
                    return False
    except OSError as exc:
        raise DataPlaneError(f"cannot read JSON Lines file {path}: {exc.strerror or exc}") from exc
    return True


def _is_blank_text(path: Path, encoding: str, compression: Compression) -> bool:
    with open_text(path, encoding, compression) as handle:
        first = True
        while True:
            try:
                text = handle.read(_BLANK_CHUNK)
            except (EOFError, OSError, zlib.error) as exc:  # a damaged gzip: the reader says how
                logger.debug("%s: cannot be decompressed: %s", path, exc)
                return False
            if not text:
                return True
            if first:
                text, first = text.removeprefix("\ufeff"), False
            if text.strip():
                return False


def stage_jsonl(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, *, label: Path | None = None
) -> tuple[str, ...]:
    """Stage a JSON Lines extract as temp view ``table``: every value as VARCHAR, with line numbers.

    The view has :data:`~lakehouse.dataplane.csv_io.STAGE_LINE`, ``STAGE_ERROR``, ``STAGE_RAW``, then one
    VARCHAR column per key found in any object. A missing key or JSON ``null`` is NULL. Blank lines
    are skipped; a line that is not a JSON object becomes a row with ``STAGE_ERROR`` set. Release it
    with :func:`~lakehouse.dataplane.csv_io.drop_stage`.

    Args:
        con: DuckDB connection owning the temp objects.
        path: the JSONL file (UTF-8).
        table: name of the temp view to create.
        label: the path to name in errors (the source ``path`` is a decoded copy of), default ``path``.

    Returns:
        The keys found, in order of first appearance.

    Raises:
        SchemaMismatchError: a key uses the reserved prefix ``__lh_``.
        DataPlaneError: the file cannot be read or is not UTF-8.
    """
    shown = label or path
    if not path.is_file():
        raise DataPlaneError(f"JSON Lines source {shown} does not exist or is not a file")
    lines = quote_identifier(table + LINES_SUFFIX)
    try:
        # Split in SQL so every physical line keeps its number; blank lines are dropped afterwards.
        con.execute(
            f"CREATE TEMP TABLE {lines} AS "
            "WITH split AS (SELECT string_split(content, chr(10)) AS s FROM read_text(?)), "
            "numbered AS (SELECT unnest(range(1, len(s) + 1)) AS n, unnest(s) AS t FROM split), "
            "cleaned AS (SELECT n, CASE WHEN ends_with(t, chr(13)) THEN left(t, -1) ELSE t END AS t "
            "FROM numbered WHERE regexp_matches(t, '[^\\s\\x{FEFF}]')), "
            "bom AS (SELECT n, CASE WHEN n = 1 THEN ltrim(t, chr(65279)) ELSE t END AS t FROM cleaned), "
            "checked AS (SELECT n, t, json_valid(t) AS ok FROM bom) "
            f"SELECT n::BIGINT AS n, t, ok AND {_OBJECT_START} AS obj, "
            f"CASE WHEN NOT ok THEN 'unparseable JSON line' WHEN NOT {_OBJECT_START} "
            f"THEN 'not a JSON object: found ' || {_JSON_KIND} END AS err FROM checked",
            [reader_path(path)],
        )
        keys = _first_seen_keys(con, lines)
        reserved = [key for key in keys if key.lower().startswith(RESERVED_PREFIX)]
        if reserved:
            raise SchemaMismatchError(
                f"{shown}: key(s) {', '.join(reserved)} use the reserved prefix {RESERVED_PREFIX!r}"
            )
        clashing = repeated_names(keys)
        if clashing:
            raise SchemaMismatchError(
                f"{shown}: keys {', '.join(clashing)} differ only by case; column names are case-insensitive"
            )
        _explain_bad_lines(con, lines)
        if keys:
            spec = quote_literal(json.dumps(dict.fromkeys(keys, "VARCHAR")))
            values = "".join(f", v[{quote_literal(key)}] AS {quote_identifier(key)}" for key in keys)
            parsed = f"CASE WHEN obj THEN from_json(t, {spec}) END AS v"
        else:
            values, parsed = "", "NULL AS v"
        con.execute(
            f"CREATE TEMP VIEW {quote_identifier(table)} AS SELECT n AS {STAGE_LINE}, err AS {STAGE_ERROR}, "
            f"CASE WHEN err IS NOT NULL THEN left(t, {_RAW_LIMIT}) END AS {STAGE_RAW}{values} "
            f"FROM (SELECT n, t, err, {parsed} FROM {lines})"
        )
    except duckdb.Error as exc:
        drop_stage(con, table)
        if "utf-8" in str(exc).lower() or "unicode" in str(exc).lower():
            raise not_utf8(path) from exc
        raise DataPlaneError(
            f"cannot read JSON Lines file {shown}: {duckdb_message_naming(exc, path, shown)}"
        ) from exc
    except BaseException:
        drop_stage(con, table)
        raise
    return keys


def _first_seen_keys(con: duckdb.DuckDBPyConnection, lines: str) -> tuple[str, ...]:
    """Return the keys of all objects, ordered by the first line using them, then by position there."""
    first_lines = con.execute(
        f"SELECT k, min(n) FROM (SELECT n, unnest(json_keys(t)) AS k FROM {lines} WHERE obj) GROUP BY k"
    ).fetchall()
    by_line: dict[int, set[str]] = {}
    for key, line in first_lines:
        by_line.setdefault(int(line), set()).add(str(key))
    keys: list[str] = []
    for line in sorted(by_line):
        row = con.execute(f"SELECT json_keys(t) FROM {lines} WHERE n = ?", [line]).fetchone()
        ordered = [str(k) for k in row[0]] if row is not None else []
        keys.extend(k for k in dict.fromkeys(ordered) if k in by_line[line])
    return tuple(keys)


def _explain_bad_lines(con: duckdb.DuckDBPyConnection, lines: str) -> None:
    """Check suspicious lines with Python's strict parser and explain every unparseable line.

    DuckDB's parser accepts ``NaN``, ``Infinity`` and trailing commas, which strict JSON does not: lines
    containing them are re-parsed in Python, like the lines DuckDB refused (whose error message is
    taken from Python's parser). Only those few lines go through Python.
    """
    bad = con.execute(
        f"SELECT n, t FROM {lines} WHERE err = 'unparseable JSON line' "
        f"OR (err IS NULL AND {_LENIENT_JSON}) ORDER BY n"
    ).fetchall()
    numbers: list[int] = []
    messages: list[str] = []
    for number, text in bad:
        try:
            loads_strict(text)
        except json.JSONDecodeError as exc:
            numbers.append(int(number))
            messages.append(f"unparseable JSON line: {exc.msg} at column {exc.colno}")
    if not numbers:
        return
    view = f"__lh_bad_{uuid.uuid4().hex}"
    con.register(view, pa.table({"n": pa.array(numbers, pa.int64()), "m": pa.array(messages, pa.string())}))
    try:
        con.execute(
            f"UPDATE {lines} SET err = b.m, obj = false FROM {quote_identifier(view)} b WHERE {lines}.n = b.n"
        )
    finally:
        con.unregister(view)
