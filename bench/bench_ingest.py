"""Bronze ingest versus DuckDB on the same files (the baselines): what strict validation costs on a
long file, and what a whole ingest (schema checks in slices, manifests, control-plane rows) costs on
a wide one, next to DuckDB's own COPY of it to Parquet."""

from __future__ import annotations

import csv
import random
import tempfile
from pathlib import Path

import duckdb

from bench._report import Figure, timed
from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.ingest import BronzeIngest
from lakehouse.dataplane.schemas import JOBS
from lakehouse.dataplane.sql import quote_literal, quote_reader_path
from lakehouse.dataplane.validate import read_source
from lakehouse.dataplane.zones import DataRoot
from lakehouse.db.migrate import upgrade
from lakehouse.runtime import dataset_store


def _write_jobs(path: Path, rows: int) -> None:
    rng = random.Random(1)
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(JOBS.column_names)
        for i in range(rows):
            out.writerow(
                [
                    f"JOB-{i:08d}",
                    f"CUS-{rng.randrange(10_000):07d}",
                    "repair",
                    rng.choice(["HVAC", "Plumbing", "Electrical"]),
                    f"T{rng.randrange(40)}",
                    rng.choice(["scheduled", "in_progress", "completed", "canceled"]),
                    "2026-09-01 08:00:00",
                    "2026-09-02 09:00:00",
                    "" if i % 3 else "2026-09-02 11:00:00",
                    f"{rng.uniform(50, 5000):.2f}",
                    "2026-09-02 11:00:00",
                ]
            )


def _write_wide(path: Path, columns: int, rows: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow([f"c{i}" for i in range(columns)])
        out.writerows([[r * i for i in range(columns)] for r in range(rows)])


def wide(columns: int = 2_000, rows: int = 3) -> Figure:
    """A whole ingest of a wide undeclared CSV (SQLite control plane) vs DuckDB's COPY to Parquet."""
    with tempfile.TemporaryDirectory(prefix="lakehouse-bench-") as tmp:
        path = Path(tmp) / "extract" / "2026-09-30" / "wide.csv"
        _write_wide(path, columns, rows)
        with duckdb.connect() as con:
            target = Path(tmp) / "copy.parquet"
            _, baseline = timed(
                lambda: con.execute(
                    f"COPY (SELECT * FROM read_csv({quote_reader_path(path)}, header = true)) "
                    f"TO {quote_literal(str(target))} (FORMAT parquet, COMPRESSION zstd)"
                )
            )
        url = f"sqlite:///{Path(tmp) / 'control.db'}"
        upgrade(url, "head")
        dal = DataAccessLayer.from_url(url)
        try:
            store = dataset_store(dal, DataRoot.from_uri(str(Path(tmp) / "data")))
            result, seconds = timed(lambda: BronzeIngest(store).run("bench", [path]))
            assert result.rows == rows
        finally:
            dal.close()
        return Figure(f"ingest of a {columns:,}-column CSV ({rows} rows)", seconds, columns, baseline)


def run(rows: int = 1_000_000) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="lakehouse-bench-") as tmp:
        path = Path(tmp) / "jobs.csv"
        _write_jobs(path, rows)
        with duckdb.connect() as con:
            _, baseline = timed(
                lambda: con.execute(
                    f"SELECT count(*) FROM read_csv({quote_reader_path(path)}, header = true)"
                ).fetchall()
            )
            read, strict = timed(lambda: read_source(con, path, JOBS, "csv"))
            assert read.good_rows == rows and not read.rejects
        figures = [Figure(f"strict validation of a {rows:,}-row jobs.csv", strict, rows, baseline)]
    return figures + [wide(2_000), wide(8_000)]
