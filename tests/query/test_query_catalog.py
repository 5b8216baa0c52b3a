"""The per-company DuckDB catalog: views over explicit current files, dt pruning, atomic replace."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from lakehouse.errors import DataPlaneError, InvalidNameError
from lakehouse.query.catalog import write_catalog


def _part(zone_dir: Path, dataset: str, day: str, select_sql: str, name: str = "part-0.parquet") -> Path:
    folder = zone_dir / f"dataset={dataset}" / f"dt={day}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    con = duckdb.connect()
    try:
        con.execute(f"copy ({select_sql}) to '{str(path).replace(chr(39), chr(39) * 2)}' (format parquet)")
    finally:
        con.close()
    return path


def _rows(catalog: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _rows_in_new_process(catalog: Path, sql: str) -> str:
    code = (
        "import sys, duckdb; con = duckdb.connect(sys.argv[1], read_only=True); "
        "print(con.execute(sys.argv[2]).fetchall())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(catalog), sql], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def company(tmp_path: Path) -> Path:
    return tmp_path / "data" / "acme"


def test_views_read_only_the_listed_files(company: Path) -> None:
    silver = company / "silver"
    first = _part(silver, "jobs", "2024-01-01", "select 'j1' as job_id, 10 as total")
    second = _part(silver, "jobs", "2024-01-02", "select 'j2' as job_id, 20 as total")
    # An uncommitted file of a run in progress sits in the same folder and must stay invisible.
    _part(silver, "jobs", "2024-01-02", "select 'uncommitted' as job_id, 99 as total", name="part-x.parquet")
    catalog = company / "catalog.duckdb"

    write_catalog(catalog, {"silver": {"jobs": [first, second]}})

    assert _rows(catalog, "select job_id, total from silver.jobs order by job_id") == [("j1", 10), ("j2", 20)]


def test_dt_is_a_date_column_and_the_dataset_partition_column_is_dropped(company: Path) -> None:
    path = _part(company / "gold", "revenue_by_month", "2024-03-01", "select date '2024-03-01' as month")
    catalog = company / "catalog.duckdb"

    write_catalog(catalog, {"gold": {"revenue_by_month": [path]}})

    columns = _rows(catalog, "select column_name, column_type from (describe gold.revenue_by_month)")
    assert columns == [("month", "DATE"), ("dt", "DATE")]
    assert _rows(catalog, "select dt from gold.revenue_by_month") == [(dt.date(2024, 3, 1),)]


def test_filter_on_dt_does_not_open_other_partitions(company: Path) -> None:
    silver = company / "silver"
    days = ["2024-01-01", "2024-01-02", "2024-01-03"]
    files = [_part(silver, "calls", day, f"select 'c-{day}' as call_id") for day in days]
    catalog = company / "catalog.duckdb"
    write_catalog(catalog, {"silver": {"calls": files}})
    # Corrupt one partition after the catalog was built: only a query that needs it may fail.
    files[2].write_bytes(b"not a parquet file")

    assert _rows(catalog, "select call_id from silver.calls where dt = '2024-01-02'") == [("c-2024-01-02",)]
    assert _rows(catalog, "select count(*) from silver.calls where dt < date '2024-01-03'") == [(2,)]
    with pytest.raises(duckdb.Error, match="dt=2024-01-03"):
        _rows(catalog, "select count(*) from silver.calls")


def test_files_with_different_schemas_are_unioned_by_name(company: Path) -> None:
    bronze = company / "bronze"
    old = _part(bronze, "customers", "2024-01-01", "select 'c1' as customer_id, 'Ann' as name")
    new = _part(
        bronze, "customers", "2024-01-02", "select 'Bob' as name, 'c2' as customer_id, 'x@y.z' as email"
    )
    catalog = company / "catalog.duckdb"

    write_catalog(catalog, {"bronze": {"customers": [old, new]}})

    rows = _rows(catalog, "select customer_id, name, email from bronze.customers order by customer_id")
    assert rows == [("c1", "Ann", None), ("c2", "Bob", "x@y.z")]
    assert _rows(catalog, "select union_by_name from lakehouse.datasets where dataset = 'customers'") == [
        (True,)
    ]


def test_replacing_the_catalog_keeps_open_readers_on_the_old_version(company: Path) -> None:
    gold = company / "gold"
    v1 = _part(gold, "totals", "2024-01-01", "select 1 as version", name="part-v1.parquet")
    v2 = _part(gold, "totals", "2024-01-01", "select 2 as version", name="part-v2.parquet")
    catalog = company / "catalog.duckdb"
    write_catalog(catalog, {"gold": {"totals": [v1]}})
    reader = duckdb.connect(str(catalog), read_only=True)
    try:
        assert reader.execute("select version from gold.totals").fetchall() == [(1,)]

        write_catalog(catalog, {"gold": {"totals": [v2]}})

        assert reader.execute("select version from gold.totals").fetchall() == [(1,)]
        # Another analyst process opening the catalog now gets the new version. (In this process
        # DuckDB would hand back the instance `reader` still holds.)
        assert _rows_in_new_process(catalog, "select version from gold.totals") == "[(2,)]"
    finally:
        reader.close()
    assert _rows(catalog, "select version from gold.totals") == [(2,)]
    assert sorted(p.name for p in company.iterdir()) == ["catalog.duckdb", "gold"]


def test_dataset_without_files_gets_no_view_but_is_listed(company: Path) -> None:
    jobs = _part(company / "silver", "jobs", "2024-01-01", "select 1 as a")
    catalog = company / "catalog.duckdb"

    write_catalog(catalog, {"silver": {"jobs": [jobs], "estimates": []}})

    views = _rows(catalog, "select schema_name, view_name from duckdb_views() where not internal")
    assert views == [("silver", "jobs")]
    listed = _rows(
        catalog, "select dataset, has_view, file_count, files from lakehouse.datasets order by dataset"
    )
    assert listed == [("estimates", False, 0, []), ("jobs", True, 1, [str(jobs)])]


def test_empty_mapping_writes_a_catalog_with_the_schemas(company: Path) -> None:
    catalog = company / "catalog.duckdb"

    write_catalog(catalog, {})

    schemas = _rows(catalog, "select schema_name from duckdb_schemas() where database_name = 'catalog'")
    assert {"bronze", "silver", "gold", "lakehouse"} <= {s for (s,) in schemas}
    assert _rows(catalog, "select count(*) from lakehouse.datasets") == [(0,)]
    assert _rows(catalog, "select format_version from lakehouse.catalog_info") == [(2,)]


def test_views_use_absolute_paths_and_work_from_any_folder(
    company: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _part(company / "silver", "jobs", "2024-01-01", "select 7 as a")
    catalog = company / "catalog.duckdb"
    write_catalog(catalog, {"silver": {"jobs": [path]}})
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    assert _rows(catalog, "select a from silver.jobs") == [(7,)]
    assert _rows(catalog, "select comment from duckdb_views() where view_name = 'jobs'") == [
        ("silver dataset jobs: 1 file(s), dt 2024-01-01..2024-01-01 (current version)",)
    ]


def test_paths_with_quotes_are_quoted_safely(tmp_path: Path) -> None:
    company = tmp_path / "it's data" / "acme"
    path = _part(company / "silver", "jobs", "2024-01-01", "select 'ok' as a")
    catalog = company / "catalog.duckdb"

    write_catalog(catalog, {"silver": {"jobs": [path]}})

    assert _rows(catalog, "select a from silver.jobs") == [("ok",)]


@pytest.mark.parametrize(
    ("views", "error", "match"),
    [
        ({"silver": {"jobs": [Path("relative/part-0.parquet")]}}, DataPlaneError, "not absolute"),
        ({"manifests": {"jobs": []}}, DataPlaneError, "unknown catalog zone"),
        ({"silver": {"Bad Name": []}}, InvalidNameError, "invalid dataset name"),
        ({"silver": {"jobs": [Path("/data/dt=2024-01-01/part-[1].parquet")]}}, DataPlaneError, "glob"),
        (
            {"silver": {"jobs": [Path("/d/part-0.parquet"), Path("/d/part-0.parquet")]}},
            DataPlaneError,
            "more than once",
        ),
    ],
    ids=["relative", "zone", "dataset-name", "glob", "twice"],
)
def test_invalid_input_is_refused(
    company: Path, views: dict[str, dict[str, list[Path]]], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        write_catalog(company / "catalog.duckdb", views)


def test_unreadable_file_fails_the_build_and_keeps_the_old_catalog(company: Path) -> None:
    good = _part(company / "silver", "jobs", "2024-01-01", "select 1 as a")
    catalog = company / "catalog.duckdb"
    write_catalog(catalog, {"silver": {"jobs": [good]}})
    before = catalog.read_bytes()
    broken = good.parent / "part-broken.parquet"
    broken.write_bytes(b"garbage")

    with pytest.raises(DataPlaneError, match="part-broken.parquet"):
        write_catalog(catalog, {"silver": {"jobs": [good, broken]}})

    assert catalog.read_bytes() == before
    assert not [p for p in os.listdir(company) if p.startswith(".tmp-")]


def test_a_rebuild_reads_the_footers_of_new_files_only(
    company: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lakehouse.query import catalog as catalog_module

    bronze = company / "bronze"
    days = [_part(bronze, "jobs", f"2024-01-0{n}", f"select 'j{n}' as job_id, {n} as total") for n in (1, 2)]
    catalog = company / "catalog.duckdb"
    write_catalog(catalog, {"bronze": {"jobs": days}})
    read: list[str] = []
    original = catalog_module._file_columns

    def counting(zone: str, dataset: str, path: str) -> tuple[tuple[str, str], ...]:
        read.append(path)
        return original(zone, dataset, path)

    monkeypatch.setattr(catalog_module, "_file_columns", counting)
    third = _part(bronze, "jobs", "2024-01-03", "select 'j3' as job_id, 3 as total")
    write_catalog(catalog, {"bronze": {"jobs": [*days, third]}})
    assert read == [str(third)]  # the two files of the previous catalog are not opened again
    assert _rows(catalog, "select job_id from bronze.jobs order by 1") == [("j1",), ("j2",), ("j3",)]

    # a new file with other columns makes the view union by name (and records no shared columns)
    read.clear()
    fourth = _part(bronze, "jobs", "2024-01-04", "select 'j4' as job_id, 4 as total, 'x' as note")
    write_catalog(catalog, {"bronze": {"jobs": [*days, third, fourth]}})
    assert read == [str(fourth)]
    assert _rows(catalog, "select union_by_name, columns from lakehouse.datasets") == [(True, None)]
    assert _rows(catalog, "select count(note) from bronze.jobs") == [(1,)]
    read.clear()
    write_catalog(catalog, {"bronze": {"jobs": [*days, third, fourth]}})
    assert len(read) == 4  # no recorded columns: every footer is read
