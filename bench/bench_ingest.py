"""Strict bronze validation versus DuckDB's plain CSV read (the baseline): what strictness costs."""

from __future__ import annotations

import csv
import random
import tempfile
from pathlib import Path

import duckdb

from bench._report import Figure, timed
from lakehouse.io.sql import quote_reader_path
from lakehouse.io.validate import read_source
from lakehouse.schemas import JOBS


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
        return [Figure(f"strict validation of a {rows:,}-row jobs.csv", strict, rows, baseline)]
