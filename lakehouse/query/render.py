"""Output of query results: a terminal table, CSV, JSON or Parquet.

``table`` prints a rich table of at most :data:`MAX_TABLE_ROWS` rows and says how many were left out.
``csv`` and ``json`` go to the console's file (stdout) or to ``out``; ``parquet`` needs ``out``. A
file is written atomically (temporary file in the same folder, fsync, rename).

JSON is an array of objects, one per line. Dates, times and timestamps are ISO 8601 strings;
DECIMAL columns of up to 15 digits (money) are numbers, wider ones strings so no digit is lost;
NaN and infinities become null; BLOBs are hex strings; LIST, STRUCT and MAP values become JSON
arrays and objects (in CSV, their JSON text).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import math
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Final, Literal, get_args

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lakehouse.errors import QueryError
from lakehouse.io.atomic import atomic_output

logger = logging.getLogger(__name__)

OutputFormat = Literal["table", "csv", "json", "parquet"]
FORMATS: Final[tuple[OutputFormat, ...]] = get_args(OutputFormat)
MAX_TABLE_ROWS: Final = 50
MAX_CELL_CHARS: Final = 80
# Every decimal of up to 15 significant digits survives a trip through a double unchanged.
_MAX_EXACT_DECIMAL_DIGITS: Final = 15

_Converter = Callable[[object], object]


def render(table: pa.Table, fmt: OutputFormat, out: Path | None, console: Console) -> None:
    """Write a query result in the chosen format.

    Args:
        table: the result.
        fmt: ``table`` (terminal only), ``csv``, ``json`` or ``parquet`` (needs ``out``).
        out: file to write, or None for the console.
        console: where the terminal table, CSV or JSON text and notes go.

    Raises:
        QueryError: ``fmt`` is unknown, ``parquet`` without ``out``, or ``table`` with ``out``.
        DataPlaneError: ``out`` cannot be written.
    """
    if fmt not in FORMATS:
        raise QueryError(f"unknown output format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "table":
        if out is not None:
            raise QueryError(
                "the table format is for the terminal: use --format csv, json or parquet with --out"
            )
        console.print(to_rich_table(table))
        console.print(row_count_note(table.num_rows), style="dim", highlight=False)
        return
    if fmt == "parquet":
        if out is None:
            raise QueryError("the parquet format needs a file: add --out FILE.parquet")
        with atomic_output(Path(out)) as tmp:
            pq.write_table(table, tmp)
    else:
        text = to_csv_text(table) if fmt == "csv" else to_json_text(table)
        if out is None:
            console.file.write(text)
            console.file.flush()
            return
        with atomic_output(Path(out)) as tmp:
            tmp.write_text(text, encoding="utf-8")
    logger.info("wrote %d row(s) as %s to %s", table.num_rows, fmt, out)
    console.print(f"wrote {table.num_rows} row(s) to {out}", style="dim", highlight=False)


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


def row_count_note(total: int, max_rows: int = MAX_TABLE_ROWS) -> str:
    """Return the line printed under a terminal table: the row count and how many were left out."""
    if total > max_rows:
        return (
            f"showing the first {max_rows} of {total} rows ({total - max_rows} not shown); "
            "use --format csv, json or parquet for all of them"
        )
    return f"{total} row{'' if total == 1 else 's'}"


def to_csv_text(table: pa.Table) -> str:
    """Return ``table`` as CSV text with a header row; NULL is an empty field."""
    buffer = io.BytesIO()
    pa_csv.write_csv(_csv_ready(table), buffer, pa_csv.WriteOptions(quoting_style="needed"))
    return buffer.getvalue().decode("utf-8")


def to_json_text(table: pa.Table) -> str:
    """Return ``table`` as a JSON array of objects, one object per line."""
    converters = [_json_converter(field.type, top_level=True) for field in table.schema]
    names = table.schema.names
    lines = []
    for batch in table.to_batches():
        columns = [column.to_pylist() for column in batch.columns]
        for values in zip(*columns, strict=True):
            row = {
                name: convert(value) for name, convert, value in zip(names, converters, values, strict=True)
            }
            lines.append(json.dumps(row, ensure_ascii=False, allow_nan=False))
    if not lines:
        return "[]\n"
    return "[\n" + ",\n".join(lines) + "\n]\n"


# --- value conversion ------------------------------------------------------------------------------


def _json_converter(type_: pa.DataType, top_level: bool = False) -> _Converter:
    if pa.types.is_dictionary(type_):
        return _json_converter(type_.value_type, top_level)
    if pa.types.is_decimal(type_) and top_level and type_.precision <= _MAX_EXACT_DECIMAL_DIGITS:
        return _null_safe(lambda v: float(v) if isinstance(v, Decimal) else v)
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
        return str(value)
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


def _csv_ready(table: pa.Table) -> pa.Table:
    """Replace the columns the Arrow CSV writer cannot write (or writes badly) by text."""
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        type_ = field.type
        if pa.types.is_dictionary(type_):
            column = column.cast(type_.value_type)
            type_ = type_.value_type
        if _needs_text(type_):
            values = [None if v is None else _csv_text(_json_value(v)) for v in column.to_pylist()]
            column = pa.chunked_array([pa.array(values, pa.string())])
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.schema.names)


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
