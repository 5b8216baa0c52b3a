"""Output of query results: a terminal table, CSV, JSON or Parquet.

A result is a pyarrow Table or a RecordBatchReader (see :func:`lakehouse.query.sandbox.stream_query`).
``csv``, ``json`` and ``parquet`` are written batch by batch, so a streamed result is never held whole;
they go to the console's file (stdout) or to ``out`` (``parquet`` needs ``out``). A file is written
atomically: temporary file in the same folder, fsync, rename; a failure leaves the old file as it was.
``table`` prints a rich table of at most :data:`MAX_TABLE_ROWS` rows and says how many were left out
(of a stream it reads one row more than it shows, and says only that more were left out).

JSON is an array of objects, one per line (JSON Lines, ``jsonl``: one object per line, no array).
Dates, times and timestamps are ISO 8601 strings; numbers stay numbers: a DECIMAL value is an integer
when it is integral, else a double when that keeps every digit (up to 15 significant digits: money,
and sums of money), else its exact text so no digit is lost (see :func:`json_decimal`);
NaN and infinities become null; BLOBs are hex strings; LIST, STRUCT and MAP values become JSON
arrays and objects (in CSV, their JSON text).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import math
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Final, Literal, TypeAlias, get_args

import pyarrow as pa
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lakehouse.dataplane.atomic import atomic_output
from lakehouse.errors import QueryError, UsageError

logger = logging.getLogger(__name__)

OutputFormat = Literal["table", "csv", "json", "jsonl", "parquet"]
FORMATS: Final[tuple[OutputFormat, ...]] = get_args(OutputFormat)
#: The format of an ``--out`` file, by its extension.
EXTENSIONS: Final[dict[str, OutputFormat]] = {
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".parquet": "parquet",
}
MAX_TABLE_ROWS: Final = 50
MAX_CELL_CHARS: Final = 80
# Every decimal of up to 15 significant digits survives a trip through a double unchanged.
_MAX_EXACT_DECIMAL_DIGITS: Final = 15

_Converter = Callable[[object], object]
Result: TypeAlias = pa.Table | pa.RecordBatchReader


def render(result: Result, fmt: OutputFormat, out: Path | None, console: Console) -> int:
    """Write a query result in the chosen format.

    Args:
        result: the result, whole (a Table) or streamed (a RecordBatchReader, read once).
        fmt: ``table`` (terminal only), ``csv``, ``json``, ``jsonl`` or ``parquet`` (needs ``out``).
        out: file to write, or None for the console.
        console: where the terminal table, CSV or JSON text and notes go.

    Returns:
        The number of rows written (for ``table``: the rows read, at most ``MAX_TABLE_ROWS + 1``
        of a stream).

    Raises:
        QueryError: ``fmt`` is unknown, ``parquet`` without ``out``, or ``table`` with ``out``; or
            the streamed query failed (nothing is written to ``out`` then).
        DataPlaneError: ``out`` cannot be written.
    """
    check_output(fmt, out)
    if fmt == "table":
        return _print_table(result, console)
    reader = result.to_reader() if isinstance(result, pa.Table) else result
    counter = _RowCounter(reader)
    if fmt == "parquet":
        assert out is not None  # checked above
        with atomic_output(Path(out)) as tmp:
            _write_parquet(counter.schema, counter, tmp)
    else:
        chunks = {"csv": _csv_chunks, "json": _json_chunks, "jsonl": _jsonl_chunks}[fmt](
            counter.schema, counter
        )
        if out is None:
            for chunk in chunks:
                console.file.write(chunk.decode("utf-8"))
            console.file.flush()
            return counter.rows
        with atomic_output(Path(out)) as tmp, open(tmp, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
    logger.info("wrote %d row(s) as %s to %s", counter.rows, fmt, out)
    console.print(f"wrote {counter.rows} row(s) to {out}", style="dim", highlight=False)
    return counter.rows


def check_output(fmt: str, out: Path | None) -> None:
    """Refuse a format/destination pair that cannot work, before any query runs.

    Raises:
        QueryError: ``fmt`` is unknown, ``parquet`` without ``out``, or ``table`` with ``out``.
    """
    if fmt not in FORMATS:
        raise QueryError(f"unknown output format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "table" and out is not None:
        raise QueryError(
            "the table format is for the terminal: use -o csv, json, jsonl or parquet with --out"
        )
    if fmt == "parquet" and out is None:
        raise QueryError("the parquet format needs a file: add --out FILE.parquet")


def choose_format(output: str | None, out: Path | None) -> OutputFormat:
    """The format of ``lakehouse query``: ``-o/--output`` if given, else the extension of ``--out``,
    else ``table``; ``text`` is ``table`` (the other commands' name for the terminal).

    Raises:
        UsageError: an unknown format; ``-o`` contradicting the extension of ``--out``; an ``--out``
            whose extension names no format without ``-o``; ``table`` with ``--out``; ``parquet``
            without it.
    """
    by_name: dict[str, OutputFormat] = {f: f for f in FORMATS}
    by_name["text"] = "table"
    if output is not None and output not in by_name:
        raise UsageError(f"unknown output format {output!r}: use -o {', '.join(FORMATS)}")
    requested = None if output is None else by_name[output]
    if out is None:
        if requested == "parquet":
            raise UsageError("-o parquet needs a file: add --out FILE.parquet")
        return requested or "table"
    inferred = EXTENSIONS.get(out.suffix.lower())
    if requested is None:
        if inferred is None:
            raise UsageError(
                f"cannot tell the format of --out {out}: its extension is none of {', '.join(EXTENSIONS)}; "
                "rename the file, or give -o csv|json|jsonl|parquet"
            )
        return inferred
    if requested == "table":
        raise UsageError("-o table is for the terminal: with --out use -o csv, json, jsonl or parquet")
    if inferred is not None and inferred != requested:
        raise UsageError(
            f"-o {requested} contradicts --out {out} (a {out.suffix.lower()} file is {inferred}): "
            "drop -o, or make the two agree"
        )
    return requested


def to_rich_table(table: pa.Table, max_rows: int = MAX_TABLE_ROWS) -> Table:
    """Return a rich Table of the first ``max_rows`` rows of ``table``."""
    result = Table(show_lines=False, highlight=False)
    for field in table.schema:
        numeric = (
            pa.types.is_integer(field.type)
            or pa.types.is_floating(field.type)
            or pa.types.is_decimal(field.type)
        )
        result.add_column(Text(field.name), justify="right" if numeric else "left", overflow="fold")
    for row in table.slice(0, max_rows).to_pylist():
        result.add_row(*(_cell(value) for value in row.values()))
    return result


def row_count_note(total: int, max_rows: int = MAX_TABLE_ROWS, more: bool = False) -> str:
    """Return the line printed under a terminal table: the row count and how many were left out.

    Args:
        total: rows of the result (``more=False``), or rows read so far (``more=True``).
        max_rows: rows shown.
        more: the result has more rows than were read (their number is unknown).
    """
    hint = "use -o csv, json or parquet (with --out FILE) for all of them"
    if more:
        return f"showing the first {max_rows} rows (more not shown); {hint}"
    if total > max_rows:
        return f"showing the first {max_rows} of {total} rows ({total - max_rows} not shown); {hint}"
    return f"{total} row{'' if total == 1 else 's'}"


def to_csv_text(table: pa.Table) -> str:
    """Return ``table`` as CSV text with a header row; NULL is an empty field."""
    return b"".join(_csv_chunks(table.schema, table.to_batches())).decode("utf-8")


def to_json_text(table: pa.Table) -> str:
    """Return ``table`` as a JSON array of objects, one object per line."""
    return b"".join(_json_chunks(table.schema, table.to_batches())).decode("utf-8")


# --- writers ---------------------------------------------------------------------------------------


class _RowCounter:
    """Iterate over the batches of a reader, counting rows."""

    def __init__(self, reader: pa.RecordBatchReader) -> None:
        self.schema = reader.schema
        self.rows = 0
        self._reader = reader

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for batch in self._reader:
            self.rows += batch.num_rows
            yield batch


def _print_table(result: Result, console: Console, max_rows: int = MAX_TABLE_ROWS) -> int:
    total: int
    if isinstance(result, pa.Table):
        shown, total, more = result, result.num_rows, False
    else:
        batches: list[pa.RecordBatch] = []
        read = 0
        for batch in result:
            batches.append(batch)
            read += batch.num_rows
            if read > max_rows:
                break
        shown = pa.Table.from_batches(batches, schema=result.schema).slice(0, max_rows + 1)
        total, more = shown.num_rows, shown.num_rows > max_rows
    console.print(to_rich_table(shown, max_rows))
    console.print(row_count_note(max_rows if more else total, max_rows, more), style="dim", highlight=False)
    return total


def _write_parquet(schema: pa.Schema, batches: Iterable[pa.RecordBatch], path: Path) -> None:
    import pyarrow.parquet as pq  # only for parquet output (pyarrow's Parquet support is a slow import)

    with pq.ParquetWriter(path, schema) as writer:
        for batch in batches:
            if batch.num_rows:
                writer.write_batch(batch)


def _csv_chunks(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """Yield CSV bytes: the header row, then each batch's rows."""
    import pyarrow.csv as pa_csv  # only for CSV output

    options = pa_csv.WriteOptions(quoting_style="needed", include_header=False)
    text_schema = _csv_schema(schema)
    header = io.BytesIO()
    pa_csv.write_csv(text_schema.empty_table(), header, pa_csv.WriteOptions(quoting_style="needed"))
    yield header.getvalue()
    for batch in batches:
        if batch.num_rows:
            buffer = io.BytesIO()
            pa_csv.write_csv(_csv_ready(batch, text_schema), buffer, options)
            yield buffer.getvalue()


def _json_chunks(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """Yield a JSON array of objects, one object per line, a batch at a time."""
    converters = [_json_converter(field.type) for field in schema]
    names = schema.names
    separator = "[\n"
    for batch in batches:
        columns = [column.to_pylist() for column in batch.columns]
        lines = []
        for values in zip(*columns, strict=True):
            row = {
                name: convert(value) for name, convert, value in zip(names, converters, values, strict=True)
            }
            lines.append(separator + json.dumps(row, ensure_ascii=False, allow_nan=False))
            separator = ",\n"
        if lines:
            yield "".join(lines).encode("utf-8")
    yield b"[]\n" if separator == "[\n" else b"\n]\n"


def _jsonl_chunks(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """Yield JSON Lines: one object per line, a batch at a time (nothing for no rows)."""
    converters = [_json_converter(field.type) for field in schema]
    names = schema.names
    for batch in batches:
        columns = [column.to_pylist() for column in batch.columns]
        lines = [
            json.dumps(
                {
                    name: convert(value)
                    for name, convert, value in zip(names, converters, values, strict=True)
                },
                ensure_ascii=False,
                allow_nan=False,
            )
            + "\n"
            for values in zip(*columns, strict=True)
        ]
        if lines:
            yield "".join(lines).encode("utf-8")


def json_decimal(value: Decimal) -> int | float | str | None:
    """A DECIMAL as JSON data: an integer when it is integral; else a double when that keeps every
    digit (up to 15 significant digits); else its exact text, so no digit is lost. NaN is null."""
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return int(value)
    if len(value.normalize().as_tuple().digits) <= _MAX_EXACT_DECIMAL_DIGITS:
        return float(value)
    return str(value)


# --- value conversion ------------------------------------------------------------------------------


def _json_converter(type_: pa.DataType) -> _Converter:
    if pa.types.is_dictionary(type_):
        return _json_converter(type_.value_type)
    return _null_safe(_json_value)


def _null_safe(convert: _Converter) -> _Converter:
    return lambda value: None if value is None else convert(value)


def _json_value(value: object) -> object:
    """Turn a value of ``to_pylist()`` into plain JSON data (never NaN)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return json_decimal(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple) and not hasattr(value, "_fields"):
        if value and all(isinstance(item, tuple) and len(item) == 2 for item in value):
            # A MAP comes back as a list of (key, value) pairs.
            keys = [item[0] for item in value]
            if all(isinstance(k, str) for k in keys):
                return {k: _json_value(v) for k, v in value}
        return [_json_value(item) for item in value]
    if isinstance(value, pa.MonthDayNano):
        return {"months": value.months, "days": value.days, "nanoseconds": value.nanoseconds}
    return str(value)


def _csv_schema(schema: pa.Schema) -> pa.Schema:
    """The schema the Arrow CSV writer gets: dictionaries decoded, unwritable types as text."""
    fields = []
    for field in schema:
        type_ = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        fields.append(pa.field(field.name, pa.string() if _needs_text(type_) else type_))
    return pa.schema(fields)


def _csv_ready(batch: pa.RecordBatch, text_schema: pa.Schema) -> pa.RecordBatch:
    """Replace the columns the Arrow CSV writer cannot write (or writes badly) by text."""
    columns = []
    for field, column, target in zip(batch.schema, batch.columns, text_schema, strict=True):
        if pa.types.is_dictionary(field.type):
            column = column.cast(field.type.value_type)
        if target.type != column.type:
            values = [None if v is None else _csv_text(_json_value(v)) for v in column.to_pylist()]
            column = pa.array(values, pa.string())
        columns.append(column)
    return pa.RecordBatch.from_arrays(columns, schema=text_schema)


def _needs_text(type_: pa.DataType) -> bool:
    return bool(
        pa.types.is_nested(type_)
        or pa.types.is_interval(type_)
        or pa.types.is_binary(type_)
        or pa.types.is_large_binary(type_)
        or pa.types.is_fixed_size_binary(type_)
        or pa.types.is_duration(type_)
    )


def _csv_text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _cell(value: object) -> Text:
    if value is None:
        return Text("NULL", style="dim")
    if isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, str | int | float | Decimal | dt.date | dt.time):
        text = str(value)
    else:
        converted = _json_value(value)
        text = converted if isinstance(converted, str) else json.dumps(converted, ensure_ascii=False)
    text = " ".join(text.split()) if "\n" in text or "\t" in text else text
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + "…"
    return Text(text)
