"""Every catalog view answers min/max of every column, min/max(dt) and count(distinct dt).

DuckDB 1.5.5 fails ``max(dt)`` over a hive partition column with ``INTERNAL Error: Attempted to access
index N within vector of size N-1`` whenever the scan reads one file (one file listed, or a filter on
``dt`` that leaves one). The views must never hit it, for any file count, with or without a filter.
Expected values come from the files themselves (pyarrow), not from DuckDB.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from lakehouse.dataplane.sql import quote_identifier
from lakehouse.errors import DataPlaneError
from lakehouse.query.catalog import ViewSource, write_catalog
from lakehouse.query.sandbox import run_query


@dataclass(frozen=True)
class Layout:
    """One dataset's files: each (day, table) pair is one file under ``dt=<day>/``."""

    zone: str
    dataset: str
    parts: tuple[tuple[str, pa.Table], ...]


def _rows(start: int, n: int, extra: bool = False, own_filename: bool = False) -> pa.Table:
    ids = list(range(start, start + n))
    columns: dict[str, pa.Array] = {
        "job_id": pa.array([f"j{i:04d}" for i in ids]),
        "amount": pa.array([Decimal(i) / 4 for i in ids], pa.decimal128(12, 2)),
        "visits": pa.array([None if i % 3 == 0 else i * 7 % 11 for i in ids], pa.int64()),
        "scheduled_on": pa.array([dt.date(2025, 1, 1) + dt.timedelta(days=i % 40) for i in ids], pa.date32()),
        "started_at": pa.array(
            [dt.datetime(2025, 2, 1, 8) + dt.timedelta(hours=i) for i in ids], pa.timestamp("us")
        ),
        "rate": pa.array([i / 7 for i in ids], pa.float64()),
        "paid": pa.array([i % 2 == 0 for i in ids]),
    }
    if extra:
        columns["email"] = pa.array([f"c{i}@example.com" for i in ids])
    if own_filename:
        columns["filename"] = pa.array([f"upload-{i}.csv" for i in ids])
    return pa.table(columns)


LAYOUTS = {
    "silver-one-file": Layout("silver", "jobs", (("2026-01-01", _rows(0, 5)),)),
    "silver-two-files-one-dt": Layout(
        "silver", "jobs", (("2026-01-01", _rows(0, 5)), ("2026-01-01", _rows(5, 4)))
    ),
    "gold-one-file": Layout("gold", "revenue_by_month", (("2026-01-31", _rows(10, 3)),)),
    "bronze-one-file": Layout("bronze", "jobs", (("2026-01-01", _rows(0, 2)),)),
    "bronze-one-day-two-files": Layout(
        "bronze", "jobs", (("2026-01-01", _rows(0, 2)), ("2026-01-01", _rows(2, 2)))
    ),
    "bronze-days": Layout(
        "bronze",
        "jobs",
        (
            ("2026-01-01", _rows(0, 3)),
            ("2026-01-02", _rows(3, 2)),
            ("2026-01-02", _rows(5, 1)),
            ("2026-01-05", _rows(6, 4)),
        ),
    ),
    "bronze-own-filename-column": Layout(
        "bronze",
        "uploads",
        (("2026-01-01", _rows(0, 2, own_filename=True)), ("2026-01-03", _rows(2, 3, own_filename=True))),
    ),
    "bronze-schema-drift": Layout(
        "bronze", "customers", (("2026-01-01", _rows(0, 3)), ("2026-01-02", _rows(3, 3, extra=True)))
    ),
}


def _write(zone_dir: Path, layout: Layout) -> list[Path]:
    files = []
    for n, (day, table) in enumerate(layout.parts):
        folder = zone_dir / f"dataset={layout.dataset}" / f"dt={day}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part-{n:05d}.parquet"
        pq.write_table(table, path)
        files.append(path)
    return files


def _expected(layout: Layout) -> pa.Table:
    """What the view should hold: the files' rows (unioned by name) with ``dt`` from each file's folder."""
    rows = pa.concat_tables([table for _, table in layout.parts], promote_options="default")
    days = [dt.date.fromisoformat(day) for day, table in layout.parts for _ in range(table.num_rows)]
    return rows.append_column("dt", pa.array(days, pa.date32()))


def _min_max(column: pa.ChunkedArray) -> tuple[object, object]:
    result = pc.min_max(column)
    return result["min"].as_py(), result["max"].as_py()


@pytest.fixture(params=sorted(LAYOUTS))
def view(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Layout, Path, duckdb.DuckDBPyConnection]]:
    layout = LAYOUTS[request.param]
    company = tmp_path / "data" / "acme"
    files = _write(company / layout.zone, layout)
    catalog = company / "catalog.duckdb"
    write_catalog(catalog, {layout.zone: {layout.dataset: files}})
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        yield layout, catalog, con
    finally:
        con.close()


def _name(layout: Layout) -> str:
    return f"{layout.zone}.{layout.dataset}"


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def test_dt_aggregates(view: tuple[Layout, Path, duckdb.DuckDBPyConnection]) -> None:
    layout, _catalog, con = view
    days = sorted({dt.date.fromisoformat(day) for day, _ in layout.parts})
    name = _name(layout)

    # One aggregate per statement: the 1.5.5 bug shows only when max(dt) is alone.
    assert _one(con, f"select max(dt) from {name}") == days[-1]
    assert _one(con, f"select min(dt) from {name}") == days[0]
    assert _one(con, f"select count(distinct dt) from {name}") == len(days)
    assert _one(con, f"select count(*) from {name}") == _expected(layout).num_rows


def test_min_and_max_of_every_column(view: tuple[Layout, Path, duckdb.DuckDBPyConnection]) -> None:
    layout, _catalog, con = view
    expected = _expected(layout)
    columns = [
        name for (name,) in con.execute(f"select column_name from (describe {_name(layout)})").fetchall()
    ]
    assert columns == expected.column_names

    for column in columns:
        quoted = quote_identifier(column)
        low, high = _min_max(expected.column(column))
        assert _one(con, f"select min({quoted}) from {_name(layout)}") == low, column
        assert _one(con, f"select max({quoted}) from {_name(layout)}") == high, column


def test_dt_is_a_date_column(view: tuple[Layout, Path, duckdb.DuckDBPyConnection]) -> None:
    layout, _catalog, con = view
    types = dict(con.execute(f"select column_name, column_type from (describe {_name(layout)})").fetchall())
    assert types["dt"] == "DATE"


def test_aggregates_on_a_dt_filter_that_leaves_one_file(
    view: tuple[Layout, Path, duckdb.DuckDBPyConnection],
) -> None:
    layout, _catalog, con = view
    expected = _expected(layout)
    name = _name(layout)
    for day in sorted({day for day, _ in layout.parts}):
        date = dt.date.fromisoformat(day)
        rows = expected.filter(pc.equal(expected.column("dt"), pa.scalar(date, pa.date32())))
        for where in (f"dt = date '{day}'", f"dt = '{day}'", f"dt between '{day}' and '{day}'"):
            assert _one(con, f"select max(dt) from {name} where {where}") == date, where
            assert _one(con, f"select min(dt) from {name} where {where}") == date, where
            assert _one(con, f"select count(distinct dt) from {name} where {where}") == 1, where
            assert _one(con, f"select count(*) from {name} where {where}") == rows.num_rows, where
            assert (
                _one(con, f"select max(job_id) from {name} where {where}")
                == _min_max(rows.column("job_id"))[1]
            )
    assert _one(con, f"select max(dt) from {name} where dt = date '1999-01-01'") is None


def test_group_by_dt_and_summarize(view: tuple[Layout, Path, duckdb.DuckDBPyConnection]) -> None:
    layout, _catalog, con = view
    counts: dict[dt.date, int] = {}
    for day, table in layout.parts:
        counts[dt.date.fromisoformat(day)] = counts.get(dt.date.fromisoformat(day), 0) + table.num_rows

    rows = con.execute(
        f"select dt, min(dt), max(dt), count(*) from {_name(layout)} group by dt order by dt"
    ).fetchall()
    assert rows == [(day, day, day, n) for day, n in sorted(counts.items())]
    summary = con.execute(f"select column_name, min, max from (summarize {_name(layout)})").fetchall()
    assert ("dt", str(min(counts)), str(max(counts))) in summary


def test_views_answer_through_the_sandbox(view: tuple[Layout, Path, duckdb.DuckDBPyConnection]) -> None:
    layout, catalog, _con = view
    zones = [catalog.parent / zone for zone in ("bronze", "silver", "gold")]
    days = sorted({dt.date.fromisoformat(day) for day, _ in layout.parts})

    last = run_query(catalog, f"select max(dt) as last from {_name(layout)}", None, zones)
    first = run_query(catalog, f"select min(dt) as first from {_name(layout)}", None, zones)

    assert last.to_pylist() == [{"last": days[-1]}]
    assert first.to_pylist() == [{"first": days[0]}]


# --- the per-view dt --------------------------------------------------------------------------------


def test_a_given_dt_is_the_views_dt(tmp_path: Path) -> None:
    company = tmp_path / "data" / "acme"
    layout = LAYOUTS["gold-one-file"]
    files = _write(company / "gold", layout)
    catalog = company / "catalog.duckdb"

    write_catalog(catalog, {"gold": {"revenue_by_month": ViewSource(files, dt=dt.date(2026, 1, 31))}})

    con = duckdb.connect(str(catalog), read_only=True)
    try:
        assert con.execute("select max(dt), min(dt), count(*) from gold.revenue_by_month").fetchone() == (
            dt.date(2026, 1, 31),
            dt.date(2026, 1, 31),
            3,
        )
    finally:
        con.close()


def test_a_given_dt_applies_to_files_outside_dt_folders(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "acme" / "gold" / "dataset=totals"
    folder.mkdir(parents=True)
    path = folder / "part-0.parquet"
    pq.write_table(pa.table({"n": [1, 2]}), path)
    catalog = tmp_path / "data" / "acme" / "catalog.duckdb"

    write_catalog(catalog, {"gold": {"totals": ViewSource([path], dt=dt.date(2026, 2, 1))}})

    con = duckdb.connect(str(catalog), read_only=True)
    try:
        assert con.execute("select column_name from (describe gold.totals)").fetchall() == [("n",), ("dt",)]
        assert con.execute("select max(dt), max(n) from gold.totals").fetchone() == (dt.date(2026, 2, 1), 2)
    finally:
        con.close()


def test_a_given_dt_before_a_files_folder_is_refused(tmp_path: Path) -> None:
    files = _write(tmp_path / "data" / "acme" / "gold", LAYOUTS["gold-one-file"])

    with pytest.raises(DataPlaneError, match=r"dt=2026-01-31, after the view's dt 2026-01-30"):
        write_catalog(
            tmp_path / "data" / "acme" / "catalog.duckdb",
            {"gold": {"revenue_by_month": ViewSource(files, dt=dt.date(2026, 1, 30))}},
        )


def test_a_snapshot_sharing_an_earlier_versions_files_shows_its_own_dt(tmp_path: Path) -> None:
    # an incremental build's version lists files an earlier version wrote under its dt folder
    files = _write(tmp_path / "data" / "acme" / "gold", LAYOUTS["gold-one-file"])
    catalog = tmp_path / "data" / "acme" / "catalog.duckdb"

    write_catalog(catalog, {"gold": {"revenue_by_month": ViewSource(files, dt=dt.date(2026, 2, 1))}})

    with duckdb.connect(str(catalog), read_only=True) as con:
        days = con.execute("select distinct dt from gold.revenue_by_month").fetchall()
    assert days == [(dt.date(2026, 2, 1),)]


def test_a_folder_dt_that_is_not_a_date_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "acme" / "bronze" / "dataset=jobs" / "dt=yesterday"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"n": [1]}), folder / "part-0.parquet")

    with pytest.raises(DataPlaneError, match="dt=yesterday"):
        write_catalog(
            tmp_path / "data" / "acme" / "catalog.duckdb", {"bronze": {"jobs": [folder / "part-0.parquet"]}}
        )


def test_files_with_their_own_dt_or_dataset_column(tmp_path: Path) -> None:
    company = tmp_path / "data" / "acme"
    layout = Layout(
        "bronze",
        "odd",
        (
            ("2026-01-01", pa.table({"dt": ["own"], "dataset": ["mine"], "n": [1]})),
            ("2026-01-02", pa.table({"dt": ["own"], "dataset": ["mine"], "n": [2]})),
        ),
    )
    files = _write(company / "bronze", layout)
    catalog = company / "catalog.duckdb"

    write_catalog(catalog, {"bronze": {"odd": files}, "silver": {"odd": files[:1]}})

    con = duckdb.connect(str(catalog), read_only=True)
    try:
        for view in ("bronze.odd", "silver.odd"):
            # The folder's dt wins over the file's own column; a file's own dataset column is kept.
            assert con.execute(f"select column_name from (describe {view})").fetchall() == [
                ("dataset",),
                ("n",),
                ("dt",),
            ], view
        assert con.execute("select min(dt), max(dt), max(dataset) from bronze.odd").fetchone() == (
            dt.date(2026, 1, 1),
            dt.date(2026, 1, 2),
            "mine",
        )
    finally:
        con.close()


def test_other_key_value_folders_are_not_columns(tmp_path: Path) -> None:
    company = tmp_path / "env=prod" / "data" / "acme"
    layout = LAYOUTS["bronze-days"]
    files = _write(company / "bronze", layout)
    catalog = company / "catalog.duckdb"

    write_catalog(catalog, {"bronze": {"jobs": files}, "silver": {"jobs": files[:1]}})

    con = duckdb.connect(str(catalog), read_only=True)
    try:
        for view in ("bronze.jobs", "silver.jobs"):
            columns = [
                name for (name,) in con.execute(f"select column_name from (describe {view})").fetchall()
            ]
            assert columns == _expected(layout).column_names, view
    finally:
        con.close()
