"""Output of query results: terminal table, CSV, JSON and Parquet round trips."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from rich.console import Console

from lakehouse.errors import QueryError
from lakehouse.query.render import MAX_TABLE_ROWS, OutputFormat, render


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, color_system=None, force_terminal=False), buffer


@pytest.fixture
def result() -> pa.Table:
    return pa.table(
        {
            "month": pa.array([dt.date(2024, 1, 1), dt.date(2024, 2, 1), None], pa.date32()),
            "business_unit": ["HVAC", 'Plumbing, "Inc"', None],
            "invoiced_total": pa.array([Decimal("1234.50"), Decimal("0.10"), None], pa.decimal128(12, 2)),
            "count": pa.array([3, 0, None], pa.int64()),
            "last_at": pa.array([dt.datetime(2024, 1, 31, 17, 30), None, None], pa.timestamp("us")),
            "rate": [0.25, float("nan"), None],
            "paid": [True, False, None],
        }
    )


def test_csv_round_trips_through_stdout(result: pa.Table) -> None:
    console, buffer = _console()

    render(result, "csv", None, console)

    back = pa_csv.read_csv(
        io.BytesIO(buffer.getvalue().encode()),
        convert_options=pa_csv.ConvertOptions(column_types=result.schema, strings_can_be_null=True),
    )
    assert back.column("month").equals(result.column("month"))
    assert back.column("business_unit").to_pylist() == ["HVAC", 'Plumbing, "Inc"', None]
    assert back.column("invoiced_total").to_pylist() == [Decimal("1234.50"), Decimal("0.10"), None]
    assert back.column("last_at").equals(result.column("last_at"))
    assert back.column("paid").equals(result.column("paid"))
    assert next(csv.reader(io.StringIO(buffer.getvalue()))) == result.column_names


def test_csv_writes_nested_values_as_json_text(tmp_path: Path) -> None:
    table = pa.table({"tags": [["a", "b"], None], "blob": [b"\x00\xff", None]})
    out = tmp_path / "nested.csv"

    render(table, "csv", out, _console()[0])

    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows == [{"tags": '["a", "b"]', "blob": "00ff"}, {"tags": "", "blob": ""}]


def test_json_is_an_array_of_objects(result: pa.Table, tmp_path: Path) -> None:
    out = tmp_path / "out" / "result.json"

    render(result, "json", out, _console()[0])

    rows = json.loads(out.read_text(encoding="utf-8"))
    assert rows[0] == {
        "month": "2024-01-01",
        "business_unit": "HVAC",
        "invoiced_total": 1234.5,
        "count": 3,
        "last_at": "2024-01-31T17:30:00",
        "rate": 0.25,
        "paid": True,
    }
    assert rows[1]["rate"] is None  # NaN is not JSON
    assert rows[2] == dict.fromkeys(result.column_names)
    assert [Decimal(str(r["invoiced_total"])) for r in rows[:2]] == [Decimal("1234.5"), Decimal("0.1")]


def test_json_keeps_wide_decimals_exact_and_nested_values_structured() -> None:
    table = pa.table(
        {
            "big": pa.array([Decimal("12345678901234567890.1234567890")], pa.decimal128(38, 10)),
            "info": pa.array([{"brand": "Trane", "age": 14}]),
            "attrs": pa.array([[("k", 1)]], pa.map_(pa.string(), pa.int64())),
        }
    )
    console, buffer = _console()

    render(table, "json", None, console)

    assert json.loads(buffer.getvalue()) == [
        {"big": "12345678901234567890.1234567890", "info": {"brand": "Trane", "age": 14}, "attrs": {"k": 1}}
    ]


def test_json_of_no_rows_is_an_empty_array() -> None:
    console, buffer = _console()
    render(pa.table({"a": pa.array([], pa.int64())}), "json", None, console)
    assert json.loads(buffer.getvalue()) == []


def test_parquet_round_trips(result: pa.Table, tmp_path: Path) -> None:
    out = tmp_path / "result.parquet"

    render(result, "parquet", out, _console()[0])

    back = pq.read_table(out)
    assert back.schema == result.schema
    assert back.drop_columns(["rate"]).equals(result.drop_columns(["rate"]))
    assert back.column("rate").to_pylist()[0] == 0.25 and back.column("rate").to_pylist()[2] is None
    assert [p.name for p in tmp_path.iterdir()] == ["result.parquet"]


def test_parquet_needs_out(result: pa.Table) -> None:
    with pytest.raises(QueryError, match="--out"):
        render(result, "parquet", None, _console()[0])


def test_table_format_is_terminal_only(result: pa.Table, tmp_path: Path) -> None:
    with pytest.raises(QueryError, match="terminal"):
        render(result, "table", tmp_path / "x.txt", _console()[0])


def test_unknown_format_is_refused(result: pa.Table) -> None:
    with pytest.raises(QueryError, match="unknown output format"):
        render(result, "xml", None, _console()[0])  # type: ignore[arg-type]


def test_writing_a_file_replaces_it_whole(result: pa.Table, tmp_path: Path) -> None:
    out = tmp_path / "result.csv"
    out.write_text("old content that is much longer than the new one\n" * 100)
    console, buffer = _console()

    render(result.slice(0, 1), "csv", out, console)

    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows == [
        result.column_names,
        ["2024-01-01", "HVAC", "1234.50", "3", "2024-01-31 17:30:00.000000", "0.25", "true"],
    ]
    assert "wrote 1 row(s)" in buffer.getvalue()
    assert [p.name for p in tmp_path.iterdir()] == ["result.csv"]


def test_table_shows_values_and_counts_rows(result: pa.Table) -> None:
    console, buffer = _console()

    render(result, "table", None, console)

    text = buffer.getvalue()
    assert "business_unit" in text and 'Plumbing, "Inc"' in text
    assert "1234.50" in text and "NULL" in text and "2024-01-31 17:30:00" in text
    assert "3 rows" in text


def test_table_caps_rows_and_says_how_many_were_cut() -> None:
    table = pa.table({"n": list(range(MAX_TABLE_ROWS + 7))})
    console, buffer = _console()

    render(table, "table", None, console)

    text = buffer.getvalue()
    assert f"showing the first {MAX_TABLE_ROWS} of {MAX_TABLE_ROWS + 7} rows (7 not shown)" in text
    assert str(MAX_TABLE_ROWS - 1) in text
    assert str(MAX_TABLE_ROWS + 6) not in text


def test_table_prints_values_literally() -> None:
    console, buffer = _console()
    render(pa.table({"note": ["[bold]not markup[/bold]", "line1\nline2"]}), "table", None, console)
    text = buffer.getvalue()
    assert "[bold]not markup[/bold]" in text
    assert "line1 line2" in text


# --- streamed results ------------------------------------------------------------------------------

_BATCHES = 24
_BATCH_ROWS = 5_000


def _stream(peaks: list[int], fail_after: int | None = None) -> pa.RecordBatchReader:
    """A reader of _BATCHES batches of ~4 MB each that records the Arrow memory in use as it goes."""
    schema = pa.schema([("n", pa.int64()), ("text", pa.string()), ("tags", pa.list_(pa.string()))])

    def batches() -> Iterator[pa.RecordBatch]:
        for i in range(_BATCHES):
            if fail_after is not None and i == fail_after:
                raise QueryError("query failed: Invalid Input Error: boom")
            start = i * _BATCH_ROWS
            numbers = list(range(start, start + _BATCH_ROWS))
            yield pa.record_batch(
                [
                    pa.array(numbers, pa.int64()),
                    pa.array([f"{n:0800d}" for n in numbers]),
                    pa.array([["a", str(n)] for n in numbers]),
                ],
                schema=schema,
            )
            peaks.append(pa.total_allocated_bytes())

    return pa.RecordBatchReader.from_batches(schema, batches())


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_streamed_results_are_written_batch_by_batch(fmt: OutputFormat, tmp_path: Path) -> None:
    out = tmp_path / f"result.{fmt}"
    peaks: list[int] = []
    baseline = pa.total_allocated_bytes()
    batch_bytes = pa.Table.from_batches([next(iter(_stream([])))]).nbytes

    written = render(_stream(peaks), fmt, out, _console()[0])

    assert written == _BATCHES * _BATCH_ROWS
    # A writer that collected the result would hold all 24 batches at the end; this one holds a few.
    assert max(peaks) - baseline < 6 * batch_bytes
    if fmt == "parquet":
        back = pq.read_table(out)
    elif fmt == "csv":
        back = pa_csv.read_csv(out, convert_options=pa_csv.ConvertOptions(column_types={"text": pa.string()}))
    else:
        back = pa.Table.from_pylist(json.loads(out.read_text(encoding="utf-8")))
    assert back.num_rows == written
    assert back.column("n").to_pylist() == list(range(written))
    assert back.column("text")[written - 1].as_py() == f"{written - 1:0800d}"
    tags = back.column("tags")[7].as_py()
    assert (json.loads(tags) if fmt == "csv" else tags) == ["a", "7"]
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_streamed_text_to_stdout_is_complete(fmt: OutputFormat) -> None:
    console, buffer = _console()

    render(_stream([]), fmt, None, console)

    text = buffer.getvalue()
    if fmt == "json":
        assert len(json.loads(text)) == _BATCHES * _BATCH_ROWS
    else:
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0] == ["n", "text", "tags"] and len(rows) == 1 + _BATCHES * _BATCH_ROWS


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_a_stream_that_fails_leaves_the_old_file(fmt: OutputFormat, tmp_path: Path) -> None:
    out = tmp_path / f"result.{fmt}"
    out.write_text("old\n")

    with pytest.raises(QueryError, match="boom"):
        render(_stream([], fail_after=3), fmt, out, _console()[0])

    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


def test_an_empty_stream_writes_a_header_or_an_empty_array(tmp_path: Path) -> None:
    schema = pa.schema([("a", pa.int64()), ("b", pa.string())])
    empty = pa.RecordBatchReader.from_batches(schema, iter([]))
    render(empty, "csv", tmp_path / "e.csv", _console()[0])
    assert (tmp_path / "e.csv").read_text() == '"a","b"\n'
    render(
        pa.RecordBatchReader.from_batches(schema, iter([])), "parquet", tmp_path / "e.parquet", _console()[0]
    )
    assert pq.read_table(tmp_path / "e.parquet").schema == schema
    console, buffer = _console()
    render(pa.RecordBatchReader.from_batches(schema, iter([])), "json", None, console)
    assert buffer.getvalue() == "[]\n"


def test_a_streamed_table_reads_only_what_it_shows() -> None:
    peaks: list[int] = []
    console, buffer = _console()

    render(_stream(peaks), "table", None, console)

    text = buffer.getvalue()
    assert f"showing the first {MAX_TABLE_ROWS} rows (more not shown)" in text
    assert len(peaks) <= 1  # the first batch already had more rows than the table shows


def test_a_short_stream_is_shown_whole_with_its_count() -> None:
    console, buffer = _console()
    reader = pa.RecordBatchReader.from_batches(
        pa.schema([("n", pa.int64())]), iter([pa.record_batch([pa.array([1, 2])], names=["n"])] * 3)
    )

    assert render(reader, "table", None, console) == 6

    assert "6 rows" in buffer.getvalue()
