"""Bronze ingest versus DuckDB's own COPY of the same files to zstd Parquet (the baseline).

The project's path is a whole ``BronzeIngest`` run of the generated day folders into a fresh data
root (strict validation, lineage columns, sha256 manifests, control-plane rows, the catalog); the
baseline is one DuckDB connection reading each file (``read_csv``/``read_json`` with type
inference) and writing it with ``COPY ... (FORMAT parquet, COMPRESSION zstd)``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from bench import data
from bench._report import Figure, Target, alternate, log
from lakehouse.dataplane.sql import quote_literal, quote_reader_path

TARGET = Target("ratio_max", 1.25)


def copy_to_parquet(files: list[Path], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        for i, f in enumerate(files):
            reader = "read_json" if f.name.endswith((".jsonl", ".ndjson")) else "read_csv"
            target = out / f"{i:05d}-{f.stem}.parquet"
            con.execute(
                f"COPY (SELECT * FROM {reader}({quote_reader_path(f)})) "
                f"TO {quote_literal(str(target))} (FORMAT parquet, COMPRESSION zstd)"
            )


def run(settings: data.Settings) -> list[Figure]:
    figures = []
    for scale in settings.scales:
        ds = data.extracts(scale, settings.days)
        files = ds.files()
        work = settings.work / f"ingest-x{scale:g}"
        rows: list[int] = []

        def reset(work: Path = work) -> None:
            shutil.rmtree(work, ignore_errors=True)
            data.new_root(work / "root")  # migrated before the clock starts

        def project(work: Path = work, ds: data.Extracts = ds, rows: list[int] = rows) -> None:
            rows.append(data.ingest(data.Root(work / "root"), ds.base_days))

        def baseline(work: Path = work, files: list[Path] = files) -> None:
            copy_to_parquet(files, work / "copy")

        log(f"ingest x{scale:g}: {len(files)} files, {ds.size_bytes / 1e6:.1f} MB")
        p, b = alternate(project, baseline, settings.repeat, before=reset)
        shutil.rmtree(work, ignore_errors=True)
        figures.append(
            Figure(
                "ingest",
                "ingest (BronzeIngest)",
                "DuckDB COPY to zstd Parquet",
                p,
                b,
                TARGET,
                scale=scale,
                days=settings.days,
                data_bytes=ds.size_bytes,
                items=rows[-1],
                extra={"files": len(files)},
            )
        )
    return figures
