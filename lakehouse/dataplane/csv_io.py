"""Strict CSV helpers: atomic writes, strict reads, and staging a CSV extract into DuckDB.

Staging (:func:`stage_csv`) exposes every value of a CSV extract as VARCHAR in a DuckDB temp view,
together with the exact 1-based physical line each record starts on (the header is line 1), so the
validator (:mod:`lakehouse.dataplane.validate`) can type-check it in one vectorised pass and name lines.

DuckDB does not report line numbers for the rows it reads. For the usual file, where every record
sits on its own line, lines follow from the row order and DuckDB's own reject list. When quoted values
span lines (transcripts), lines follow from the row order plus the line breaks inside earlier values.
Both derivations are checked against the file's physical line count; when that does not add up
(blank lines, which DuckDB skips, malformed rows together with multi-line values, a lone ``\\r``
line ending), the file is parsed again with Python's :mod:`csv` module, which tracks lines exactly.

How a text extract's bytes are read is the caller's choice: the field separator (:func:`parse_delimiter`),
the character set (:func:`parse_encoding`) and gzip compression. A source that is not plain UTF-8
(another character set, or gzip-compressed) is first streamed into a temporary UTF-8 copy
(:func:`decoded_copy`) that keeps every line break, so every reader here, DuckDB's included, sees
UTF-8 text whose lines are the source's lines; errors name the source, not the copy. DuckDB's own
``read_csv(encoding=...)`` knows only utf-8, utf-16 and latin-1, does not check a gzip stream's end
(a truncated ``.csv.gz`` reads as a few rows, silently, in 1.5.5), and ``read_text`` (JSON Lines
staging) decodes nothing but UTF-8: hence the copy.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import logging
import os
import tempfile
import uuid
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, Final, Literal, cast

import duckdb
import pyarrow as pa

from lakehouse.dataplane.atomic import atomic_output
from lakehouse.dataplane.sql import duckdb_message, quote_identifier, quote_literal, reader_path
from lakehouse.errors import DataPlaneError, DataRefusedError, InvalidArgumentError, SchemaMismatchError

logger = logging.getLogger(__name__)

RESERVED_PREFIX: Final = "__lh_"
"""Source column names may not start with this prefix: staging uses it for its own columns."""

# Layout of a staged source: these three columns, then one column per source column.
STAGE_LINE: Final = "__lh_line"
"""BIGINT: 1-based physical line (CSV, JSONL) or row number (Parquet) of the record."""
STAGE_ERROR: Final = "__lh_error"
"""VARCHAR: why the whole record is unusable (malformed row), NULL for a well-formed record."""
STAGE_RAW: Final = "__lh_raw"
"""VARCHAR: the raw text of a malformed record, for the reject report; NULL otherwise."""

# A staged source is a temp view over temp tables named ``<view><suffix>``.
ROWS_SUFFIX: Final = "__rows"
REJECTS_SUFFIX: Final = "__rejects"
LINES_SUFFIX: Final = "__lines"
STAGE_TABLE_SUFFIXES: Final = (ROWS_SUFFIX, REJECTS_SUFFIX, LINES_SUFFIX)

_CSV_FIELD_LIMIT: Final = 1 << 30
_READ_CHUNK: Final = 1 << 20

Compression = Literal["none", "gzip"]
"""How a source file's bytes are compressed: told by its name (``.gz``: gzip)."""
DEFAULT_DELIMITER: Final = ","
DEFAULT_ENCODING: Final = "utf-8"
_DELIMITER_NAMES: Final = {"tab": "\t", "\\t": "\t"}
_DELIMITER_EXPECTED: Final = (
    "one character: a punctuation mark such as ',', ';' or '|', or a tab ('tab' or '\\t'); "
    "not a letter, digit, space, quote or line break"
)
#: Python codecs that are no character set of a file (they transform text or refuse everything).
_NOT_CHARSETS: Final = frozenset(
    {"charmap", "idna", "punycode", "raw-unicode-escape", "unicode-escape", "undefined", "utf-7"}
)
COMMON_ENCODINGS: Final = ("utf-8", "utf-16", "utf-16-le", "utf-16-be", "latin-1", "cp1252", "iso-8859-15")
"""Character sets named in messages; any other one of Python's codecs is read too (see :func:`parse_encoding`)."""


# --- how a text extract is read ----------------------------------------------------------------------


def parse_delimiter(value: str) -> str:
    """The CSV field separator ``value`` names: one character, or ``tab`` / ``\\t`` for a tab.

    Raises:
        InvalidArgumentError: ``value`` is empty, longer than one character, or a letter, digit,
            space, quote (``"``) or line break (no CSV could be read with it).
    """
    if not isinstance(value, str):
        raise InvalidArgumentError("delimiter", value, _DELIMITER_EXPECTED)
    char = _DELIMITER_NAMES.get(value.lower(), value)
    usable = char == "\t" or (
        len(char) == 1 and char.isascii() and char.isprintable() and not char.isalnum() and char not in ' "'
    )
    if not usable:
        raise InvalidArgumentError("delimiter", value, _DELIMITER_EXPECTED)
    return char


def parse_encoding(value: str) -> str:
    """The canonical name of the character set ``value`` names (``latin-1`` -> ``iso8859-1``).

    Any character set of Python's codecs is accepted (``utf-8``, ``utf-16``, ``latin-1``,
    ``cp1252``, ``iso-8859-15``, ``shift_jis``, ...); ``utf-8-sig`` is ``utf-8`` (a byte order
    mark is skipped either way).

    Raises:
        InvalidArgumentError: ``value`` names no character set (or a codec that is not one, such as
            ``rot13`` or ``unicode-escape``).
    """
    try:
        info = codecs.lookup(value) if isinstance(value, str) and value.strip() else None
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        raise InvalidArgumentError(
            "encoding",
            value,
            f"a character set: {', '.join(COMMON_ENCODINGS)}, or another one of Python's codecs "
            "(e.g. shift_jis, koi8-r)",
        )
    return "utf-8" if info.name == "utf-8-sig" else info.name


def needs_decoding(encoding: str, compression: Compression) -> bool:
    """Whether a source in ``encoding`` (canonical) and ``compression`` is read through a UTF-8 copy."""
    return compression != "none" or encoding != DEFAULT_ENCODING


def _reading_codec(encoding: str) -> str:
    return "utf-8-sig" if encoding == DEFAULT_ENCODING else encoding


def _gzip_problem(path: Path, exc: BaseException) -> DataRefusedError:
    """The error for a gzip file that cannot be decompressed to its end."""
    if isinstance(exc, EOFError):
        reason = "it ends before its compressed stream does (truncated, or damaged)"
    else:
        reason = f"its compressed data is damaged ({str(exc) or type(exc).__name__})"
    return DataRefusedError(
        f"{path}: not a complete gzip file: {reason}; nothing was ingested: copy or compress the "
        "extract again"
    )


@contextlib.contextmanager
def _raw_bytes(path: Path, compression: Compression) -> Iterator[IO[bytes]]:
    """The bytes of a source, decompressed; an empty ``.gz`` file is refused (no gzip is empty)."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise DataPlaneError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        if compression == "none":
            yield handle
            return
        if os.fstat(handle.fileno()).st_size == 0:
            raise DataRefusedError(
                f"{path}: not a complete gzip file: it is empty (0 bytes); nothing was ingested: "
                "copy or compress the extract again"
            )
        with gzip.GzipFile(fileobj=handle, mode="rb") as unzipped:
            yield cast(IO[bytes], unzipped)


def _read_chunk(path: Path, handle: IO[bytes]) -> bytes:
    try:
        return handle.read(_READ_CHUNK)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _gzip_problem(path, exc) from exc
    except OSError as exc:
        raise DataPlaneError(f"cannot read {path}: {exc.strerror or exc}") from exc


@contextlib.contextmanager
def open_text(
    path: Path, encoding: str = DEFAULT_ENCODING, compression: Compression = "none"
) -> Iterator[io.TextIOWrapper]:
    """A text source opened as text, decompressed and decoded, undecodable bytes replaced
    (``U+FFFD``) and line endings kept as they are: for showing its lines, not for checking them.

    Raises:
        DataPlaneError: the file cannot be opened, or is an empty gzip file.
    """
    with _raw_bytes(path, compression) as raw:
        text = io.TextIOWrapper(raw, encoding=_reading_codec(encoding), errors="replace", newline="")
        try:
            yield text
        finally:
            text.detach()


def _undecodable(
    path: Path, encoding: str, compression: Compression, state: tuple[bytes, int], chunk: bytes,
    exc: UnicodeDecodeError, lines: int, offset: int,
) -> DataPlaneError:  # fmt: skip
    """The error for bytes that are not ``encoding`` text, naming the line they are on."""
    held = state[0] if isinstance(state[0], bytes) else b""
    cut = max(exc.start - len(held), 0)  # where the bad bytes start in ``chunk``
    before = codecs.getincrementaldecoder(_reading_codec(encoding))("replace")
    with contextlib.suppress(Exception):
        before.setstate(state)
    line = lines + before.decode(chunk[:cut]).count("\n")
    bad = (held + chunk)[exc.start : exc.start + 1]
    where = " of the decompressed text" if compression == "gzip" else ""
    if encoding == DEFAULT_ENCODING:
        charset, hint = "UTF-8", _NOT_UTF8_HINT
    else:
        charset, hint = encoding, "pass the extract's real encoding with --encoding"
    return DataRefusedError(
        f"{path}: line {line}: not {charset} text (byte 0x{bad.hex()} at offset {offset + cut:,}{where}: "
        f"{exc.reason}): {hint}"
    )


def _nul_found(path: Path, line: int) -> DataRefusedError:
    return DataRefusedError(
        f"{path}: line {line}: NUL byte in a text extract (a binary or damaged file, or the wrong "
        "--encoding?): fix or re-export it"
    )


@contextlib.contextmanager
def decoded_copy(
    path: Path,
    encoding: str = DEFAULT_ENCODING,
    compression: Compression = "none",
    scratch_dir: Path | None = None,
) -> Iterator[Path]:
    """The source as a plain UTF-8 file: ``path`` itself when it is one, else a temporary copy.

    The copy is streamed (decompressed and transcoded a chunk at a time), keeps every line break
    (so its line N is the source's line N) and drops a leading byte order mark; it is removed when
    the block ends. The whole source is read before the block starts: a damaged source is refused
    before any of it is used.

    Args:
        path: the source file.
        encoding: its character set, canonical (see :func:`parse_encoding`).
        compression: ``gzip`` to decompress it.
        scratch_dir: the folder of the copy (created if need be); the system's temporary folder
            when None.

    Raises:
        DataPlaneError: a gzip source is empty, truncated or damaged; its text is not ``encoding``
            (the line is named); it holds a NUL character (the line is named); it cannot be read.
    """
    if not needs_decoding(encoding, compression):
        yield path
        return
    if scratch_dir is not None:
        scratch_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".lh-decoded-", suffix=".txt", dir=scratch_dir)
    copy = Path(name)
    try:
        decoder = codecs.getincrementaldecoder(_reading_codec(encoding))("strict")
        lines, offset = 1, 0  # the line the next chunk starts on, the offset of its first byte
        with open(fd, "w", encoding="utf-8", newline="") as out, _raw_bytes(path, compression) as source:
            while True:
                chunk = _read_chunk(path, source)
                state = decoder.getstate()
                try:
                    text = decoder.decode(chunk, final=not chunk)
                except UnicodeDecodeError as exc:
                    raise _undecodable(path, encoding, compression, state, chunk, exc, lines, offset) from exc
                nul = text.find("\x00")
                if nul >= 0:
                    raise _nul_found(path, lines + text.count("\n", 0, nul))
                lines += text.count("\n")
                offset += len(chunk)
                out.write(text)
                if not chunk:
                    break
        yield copy
    finally:
        copy.unlink(missing_ok=True)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str | int | float | Decimal):
        return str(value)
    raise DataPlaneError(f"cannot write a {type(value).__name__} value {value!r} to CSV")


def write_csv(path: Path, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> int:
    """Write rows as a CSV file with a header, atomically.

    Values are written as text: None as an empty field, booleans as ``true``/``false``, dates and
    datetimes in ISO format.

    Args:
        path: final path of the file.
        rows: one mapping per row; a key missing from a row writes an empty field.
        columns: the header, in order.

    Returns:
        The number of data rows written.

    Raises:
        DataPlaneError: a row has a key not in ``columns``, a value has an unsupported type, or the
            columns are empty or repeated.
    """
    header = list(columns)
    if not header or len(set(header)) != len(header):
        raise DataPlaneError(f"CSV columns must be non-empty and unique, got {header!r}")
    known = set(header)
    count = 0
    with atomic_output(Path(path)) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            extra = set(row) - known
            if extra:
                raise DataPlaneError(f"row {count + 1} for {path} has unknown column(s) {sorted(extra)}")
            writer.writerow([_cell(row.get(name)) for name in header])
            count += 1
    return count


def read_csv(path: Path) -> list[dict[str, str]]:
    """Read a small CSV file with a header into one dict per row, strictly.

    Raises:
        DataPlaneError: the file is missing, empty, has a repeated column, or a row whose field count
            differs from the header (named by line).
    """
    header: list[str] | None = None
    rows: list[dict[str, str]] = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            last_line = 0
            for record in reader:
                line, last_line = last_line + 1, reader.line_num
                if header is None:
                    header = record
                    if not header or len(set(header)) != len(header):
                        raise DataPlaneError(f"{path}: line 1: empty or repeated column names {header!r}")
                    continue
                if not record:
                    continue
                if len(record) != len(header):
                    raise DataPlaneError(
                        f"{path}: line {line}: expected {len(header)} fields, found {len(record)}"
                    )
                rows.append(dict(zip(header, record, strict=True)))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataPlaneError(f"cannot read CSV {path}: {exc}") from exc
    if header is None:
        raise DataPlaneError(f"{path} is empty: expected a header line")
    return rows


def read_csv_header(
    path: Path, delimiter: str = DEFAULT_DELIMITER, *, label: Path | None = None
) -> tuple[tuple[str, ...], int]:
    """Return the header names of a CSV file (surrounding spaces stripped) and how many lines it spans.

    Args:
        path: the CSV file (UTF-8).
        delimiter: its field separator (see :func:`parse_delimiter`).
        label: the path to name in errors (the source ``path`` is a decoded copy of), default ``path``.

    Raises:
        SchemaMismatchError: the file is empty, or the header has an empty or repeated name.
        DataPlaneError: the file cannot be read or decoded as UTF-8.
    """
    shown = label or path
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter, strict=True)
            record = next(reader, None)
            header_lines = reader.line_num
    except UnicodeDecodeError as exc:
        raise not_utf8(path) from exc
    except (OSError, csv.Error) as exc:
        raise DataPlaneError(f"cannot read the header of CSV {shown}: {exc}") from exc
    path = shown
    if not record:
        raise SchemaMismatchError(
            f"{path}: line 1: no header; a CSV extract must start with its column names"
        )
    names = tuple(name.strip() for name in record)
    if any(not name for name in names):
        raise SchemaMismatchError(f"{path}: line 1: the header has an empty column name")
    reserved = [name for name in names if name.lower().startswith(RESERVED_PREFIX)]
    if reserved:
        raise SchemaMismatchError(
            f"{path}: line 1: column name(s) {', '.join(reserved)} use the reserved prefix {RESERVED_PREFIX!r}"
        )
    repeated = repeated_names(names)
    if repeated:
        raise SchemaMismatchError(
            f"{path}: line 1: repeated column name(s) {', '.join(repeated)} (names are case-insensitive)"
        )
    return names, header_lines


_NOT_UTF8_HINT: Final = "save the extract as UTF-8, or pass its encoding (e.g. --encoding latin-1)"


def not_utf8(path: Path) -> DataRefusedError:
    """The error for a text extract that is not UTF-8, naming its first bad byte and that byte's line."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0  # of the chunk in the file
    lines = 1  # the line the chunk starts on
    with open(path, "rb") as handle:
        if handle.read(2) in (b"\xff\xfe", b"\xfe\xff"):
            return DataRefusedError(
                f"{path}: the file is UTF-16 text: save the extract as UTF-8 or pass --encoding utf-16"
            )
        handle.seek(0)
        while chunk := handle.read(_READ_CHUNK):
            held = decoder.getstate()[0]  # the start of a character cut by the previous chunk
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = offset - len(held) + exc.start
                data = held + chunk
                byte = data[exc.start : exc.start + 1]
                line = lines + chunk[: max(bad - offset, 0)].count(b"\n")
                return DataRefusedError(
                    f"{path}: line {line}: not UTF-8 text (byte 0x{byte.hex()} at offset {bad:,}): "
                    f"{_NOT_UTF8_HINT}"
                )
            lines += chunk.count(b"\n")
            offset += len(chunk)
    held = decoder.getstate()[0]
    if held:  # the file ends inside a character
        return DataRefusedError(
            f"{path}: line {lines}: not UTF-8 text (byte 0x{held[:1].hex()} at offset {offset - len(held):,} "
            f"starts a character the file ends in): {_NOT_UTF8_HINT}"
        )
    return DataRefusedError(f"{path}: not UTF-8 text: {_NOT_UTF8_HINT}")


def repeated_names(names: Iterable[str]) -> list[str]:
    """The names that occur more than once when case is ignored (as DuckDB ignores it), sorted."""
    names = list(names)
    counts = Counter(name.lower() for name in names)
    return sorted({name for name in names if counts[name.lower()] > 1})


def count_physical_lines(path: Path) -> int:
    """Count the lines of a file: ``\\n`` characters, plus one for a last line without one."""
    count = 0
    last = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(_READ_CHUNK):
            count += chunk.count(b"\n")
            last = chunk
    if last and not last.endswith(b"\n"):
        count += 1
    return count


def duckdb_message_naming(exc: BaseException, path: Path, shown: Path) -> str:
    """A DuckDB error's message, naming the source ``shown`` where it names the file read, ``path``."""
    message = duckdb_message(exc)
    return (
        message
        if path == shown
        else message.replace(reader_path(path), str(shown)).replace(str(path), str(shown))
    )


def drop_stage(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop a staged source (the view ``table`` and the temp tables behind it); missing parts are skipped."""
    con.execute(f"DROP VIEW IF EXISTS {quote_identifier(table)}")
    for suffix in STAGE_TABLE_SUFFIXES:
        con.execute(f"DROP TABLE IF EXISTS {quote_identifier(table + suffix)}")


def stage_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    delimiter: str = DEFAULT_DELIMITER,
    *,
    label: Path | None = None,
) -> tuple[str, ...]:
    """Stage a CSV extract as temp view ``table``: every value as VARCHAR, with exact line numbers.

    The view has :data:`STAGE_LINE`, :data:`STAGE_ERROR`, :data:`STAGE_RAW`, then one VARCHAR
    column per header name. Empty fields are NULL. A record with the wrong number of fields, an
    unterminated quote or invalid UTF-8 becomes a row with :data:`STAGE_ERROR` set. Release it with
    :func:`drop_stage`.

    Args:
        con: DuckDB connection owning the temp objects.
        path: the CSV file (UTF-8, ``"`` quotes, header on line 1).
        table: name of the temp view to create.
        delimiter: the field separator (see :func:`parse_delimiter`), a comma by default.
        label: the path to name in errors (the source ``path`` is a decoded copy of), default ``path``.

    Returns:
        The header names, in file order.

    Raises:
        SchemaMismatchError: the file has no header or a bad one.
        DataPlaneError: the file cannot be read.
    """
    shown = label or path
    if not path.is_file():
        raise DataPlaneError(f"CSV source {shown} does not exist or is not a file")
    header, header_lines = read_csv_header(path, delimiter, label=label)
    physical = count_physical_lines(path)
    try:
        if header_lines == 1:
            with _insertion_order_preserved(con):
                if _stage_with_duckdb(con, path, table, header, physical, delimiter, shown):
                    return header
        logger.info(
            "%s: records span lines or blank lines present; tracking lines with the csv module", shown
        )
        _stage_with_python(con, path, table, header, delimiter, shown)
    except BaseException:
        drop_stage(con, table)
        raise
    return header


@contextlib.contextmanager
def _insertion_order_preserved(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Make DuckDB keep file order for the block: line numbers are derived from row order."""
    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    if row is not None and bool(row[0]):
        yield
        return
    con.execute("SET preserve_insertion_order = true")
    try:
        yield
    finally:
        con.execute("SET preserve_insertion_order = false")


def _stage_with_duckdb(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    header: tuple[str, ...],
    physical: int,
    delimiter: str,
    shown: Path,
) -> bool:
    """Stage through DuckDB's reader; return False when lines cannot be derived from row order.

    Each record then sits on one line, so the k-th good row is on the k-th line DuckDB did not reject:
    line = k + 2 + (number of rejected lines before it), found with an ASOF join on the rejected lines.
    """
    rows, rejects = quote_identifier(table + ROWS_SUFFIX), quote_identifier(table + REJECTS_SUFFIX)
    suffix = uuid.uuid4().hex
    duck_rejects, duck_scans = f"__lh_rj_{suffix}", f"__lh_rs_{suffix}"
    columns = ", ".join(f"{quote_literal(name)}: 'VARCHAR'" for name in header)
    try:
        con.execute(
            f"CREATE TEMP TABLE {rows} AS SELECT * FROM read_csv(?, header = true, "
            f"delim = {quote_literal(delimiter)}, quote = '\"', escape = '\"', comment = '', auto_detect = false, "
            f"columns = {{{columns}}}, ignore_errors = true, store_rejects = true, "
            f"rejects_table = {quote_literal(duck_rejects)}, rejects_scan = {quote_literal(duck_scans)})",
            [reader_path(path)],
        )
        con.execute(
            f"CREATE TEMP TABLE {rejects} AS SELECT line::BIGINT AS line, "
            f"'malformed CSV row: ' || first(error_message) AS message, first(csv_line) AS raw "
            f"FROM {quote_identifier(duck_rejects)} GROUP BY line"
        )
    except duckdb.Error as exc:
        raise DataPlaneError(f"cannot read CSV {shown}: {duckdb_message_naming(exc, path, shown)}") from exc
    finally:
        for name in (duck_rejects, duck_scans):
            con.execute(f"DROP TABLE IF EXISTS {quote_identifier(name)}")
    good = _scalar_int(con, f"SELECT count(*) FROM {rows}")
    bad = _scalar_int(con, f"SELECT count(*) FROM {rejects}")
    names = ", ".join(f"r.{quote_identifier(name)}" for name in header)
    nulls = ", ".join("NULL" for _ in header)
    if 1 + good + bad != physical:
        if bad == 0 and _stage_multiline(con, table, header, good, physical):
            return True
        drop_stage(con, table)
        return False
    if bad == 0:
        con.execute(
            f"CREATE TEMP VIEW {quote_identifier(table)} AS SELECT r.rowid + 2 AS {STAGE_LINE}, "
            f"NULL::VARCHAR AS {STAGE_ERROR}, NULL::VARCHAR AS {STAGE_RAW}, {names} FROM {rows} r"
        )
        return True
    con.execute(
        f"CREATE TEMP VIEW {quote_identifier(table)} AS "
        f"WITH ranked AS (SELECT line, row_number() OVER (ORDER BY line) AS n FROM {rejects}), "
        f"steps AS (SELECT line - 1 - n AS good_before, max(n) AS n FROM ranked GROUP BY good_before), "
        f"numbered AS (SELECT rowid AS __lh_k, * FROM {rows}) "
        f"SELECT r.__lh_k + 2 + coalesce(s.n, 0) AS {STAGE_LINE}, NULL::VARCHAR AS {STAGE_ERROR}, "
        f"NULL::VARCHAR AS {STAGE_RAW}, {names} "
        f"FROM numbered r ASOF LEFT JOIN steps s ON r.__lh_k >= s.good_before "
        f"UNION ALL SELECT line, message, raw, {nulls} FROM {rejects}"
    )
    return True


def _stage_multiline(
    con: duckdb.DuckDBPyConnection, table: str, header: tuple[str, ...], good: int, physical: int
) -> bool:
    """Stage a file whose quoted values span lines, when DuckDB rejected nothing and no line is blank.

    A record then starts one line after the previous one, plus the line breaks inside the previous
    records' values: a running sum over the rows in file order. The totals are checked first, so a
    blank line (which DuckDB skips) sends the file to the csv module instead.
    """
    rows = quote_identifier(table + ROWS_SUFFIX)
    breaks = " + ".join(
        f"coalesce(strlen({quote_identifier(name)}) - strlen(replace({quote_identifier(name)}, chr(10), '')), 0)"
        for name in header
    )
    embedded = _scalar_int(con, f"SELECT coalesce(sum({breaks}), 0) FROM {rows}")
    if 1 + good + embedded != physical:
        return False
    names = ", ".join(f"r.{quote_identifier(name)}" for name in header)
    con.execute(
        f"CREATE TEMP VIEW {quote_identifier(table)} AS "
        f"WITH counted AS (SELECT rowid AS __lh_k, {breaks} AS __lh_breaks, * FROM {rows}) "
        f"SELECT r.__lh_k + 2 + coalesce(sum(r.__lh_breaks) OVER (ORDER BY r.__lh_k "
        f"ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS {STAGE_LINE}, "
        f"NULL::VARCHAR AS {STAGE_ERROR}, NULL::VARCHAR AS {STAGE_RAW}, {names} FROM counted r"
    )
    return True


def _scalar_int(con: duckdb.DuckDBPyConnection, query: str) -> int:
    row = con.execute(query).fetchone()
    return int(row[0]) if row is not None else 0


def _stage_with_python(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    header: tuple[str, ...],
    delimiter: str,
    shown: Path,
) -> None:
    width = len(header)
    lines: list[int] = []
    errors: list[str | None] = []
    raws: list[str | None] = []
    values: list[list[str | None]] = [[] for _ in header]
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)  # long transcripts exceed the 128 KiB default

    def add(line: int, error: str | None, raw: str | None, record: Sequence[str | None]) -> None:
        lines.append(line)
        errors.append(error)
        raws.append(raw)
        for column, value in zip(values, record, strict=True):
            column.append(value)

    empty: list[str | None] = [None] * width
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, delimiter=delimiter, strict=True)
            next(reader)
            last_line = reader.line_num
            while True:
                start = last_line + 1
                try:
                    record = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    last_line = reader.line_num
                    add(start, f"malformed CSV row: {exc}", None, empty)
                    continue
                last_line = reader.line_num
                if not record:
                    continue  # blank line
                if len(record) != width:
                    message = f"malformed CSV row: expected {width} fields, found {len(record)}"
                    add(start, message, _join_record(record, delimiter), empty)
                    continue
                add(start, None, None, [value if value != "" else None for value in record])
    except UnicodeDecodeError as exc:
        raise not_utf8(path) from exc
    except OSError as exc:
        raise DataPlaneError(f"cannot read CSV {shown}: {exc}") from exc
    arrays: dict[str, pa.Array] = {
        STAGE_LINE: pa.array(lines, pa.int64()),
        STAGE_ERROR: pa.array(errors, pa.string()),
        STAGE_RAW: pa.array(raws, pa.string()),
    }
    for name, column in zip(header, values, strict=True):
        arrays[name] = pa.array(column, pa.string())
    view = f"__lh_csv_{uuid.uuid4().hex}"
    rows = quote_identifier(table + ROWS_SUFFIX)
    con.register(view, pa.table(arrays))
    try:
        con.execute(f"CREATE TEMP TABLE {rows} AS SELECT * FROM {quote_identifier(view)}")
    finally:
        con.unregister(view)
    con.execute(f"CREATE TEMP VIEW {quote_identifier(table)} AS SELECT * FROM {rows}")


def _join_record(record: Sequence[str], delimiter: str = DEFAULT_DELIMITER) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="").writerow(record)
    return buffer.getvalue()
