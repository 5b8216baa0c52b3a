"""``python -m bench``: the benchmarks of issue 10, as figures (not pass/fail tests).

Each figure runs the project's path and its baseline on the same generated data, alternating,
``BENCH_REPEAT`` times each, and reports the medians, the throughput and the ratio next to the
target. Results go to ``bench/results/`` (JSON, and a PNG plot when matplotlib is installed); the
table goes to stdout, progress to stderr.

Environment:
  BENCH_DAYS     days of generated data per data set (default 30; 365 with BENCH_FULL=1)
  BENCH_SCALES   comma-separated scales (default 0.25,1,5; 0.25,1,5,10 with BENCH_FULL=1)
  BENCH_REPEAT   repetitions of each side (default 3; the build figures 2, 3 with BENCH_FULL=1)
  BENCH_FULL=1   the full runs: 365 days, scale 10 too, 1,000,000 events, 1,000 ingests for the index
  BENCH_EVENTS   events of the PostgreSQL events figure (default 100,000; 1,000,000 with BENCH_FULL=1)
  BENCH_INDEX_INGESTS  daily ingests of the file-index figure (default 200; 1,000 with BENCH_FULL=1)
  LAKEHOUSE_BENCH_PG_URL  a scratch PostgreSQL database for the events figures (else SQLite only)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench import bench_build, bench_events, bench_index, bench_ingest, bench_query, bench_startup
from bench._report import Figure, log, markdown_table, plot, read_json, table, write_json
from bench.data import Settings

#: The figures, in the order they run (build before query and startup: they reuse its built roots).
BENCHMARKS: dict[str, tuple[Callable[[Settings], list[Figure]], str]] = {
    "ingest": (bench_ingest.run, "BronzeIngest vs DuckDB COPY to zstd Parquet"),
    "build": (bench_build.run, "lakehouse build vs plain dbt build and raw SQL; +1 day vs a full build"),
    "query": (bench_query.run, "saved queries via the catalog vs read_parquet; a one-dt query's files read"),
    "startup": (bench_startup.run, 'lakehouse query "select 1" vs python + duckdb.connect(catalog)'),
    "events": (bench_events.run, "1M events upsert+resolve vs COPY, and vs a row-by-row ORM loop"),
    "index": (bench_index.run, "file index after many daily ingests: ingest, catalog refresh, datasets"),
}
RESULTS = Path(__file__).resolve().parent / "results"


def settings_from(args: argparse.Namespace, work: Path) -> Settings:
    env = os.environ
    full = env.get("BENCH_FULL", "") not in {"", "0"}
    if args.quick:
        settings = Settings(
            scales=[0.02],
            days=3,
            repeat=1,
            work=work,
            build_repeat=1,
            quick=True,
            index_ingests=5,
            events_n=5_000,
            row_by_row_n=300,
        )
    else:
        settings = Settings(
            scales=[0.25, 1, 5, 10] if full else [0.25, 1, 5],
            days=365 if full else 30,
            repeat=3,
            work=work,
            build_repeat=3 if full else 2,
            full=full,
            index_ingests=1_000 if full else 200,
            events_n=1_000_000 if full else 100_000,
        )
    if env.get("BENCH_DAYS"):
        settings.days = int(env["BENCH_DAYS"])
    if env.get("BENCH_SCALES"):
        settings.scales = [float(s) for s in env["BENCH_SCALES"].split(",") if s.strip()]
    if env.get("BENCH_REPEAT"):
        settings.repeat = settings.build_repeat = int(env["BENCH_REPEAT"])
    if env.get("BENCH_EVENTS"):
        settings.events_n = int(env["BENCH_EVENTS"])
    if env.get("BENCH_INDEX_INGESTS"):
        settings.index_ingests = int(env["BENCH_INDEX_INGESTS"])
    settings.pg_url = env.get("LAKEHOUSE_BENCH_PG_URL") or None
    return settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
        epilog="benchmarks: " + "; ".join(f"{k}: {v}" for k, (_, v) in BENCHMARKS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only", nargs="+", choices=list(BENCHMARKS), metavar="NAME", help="run only these benchmarks"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny data, one repetition, no +1 day build (about a minute): checks the harness",
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help=f"folder of the JSON and PNG (default {RESULTS})"
    )
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG plot")
    parser.add_argument(
        "--replot", type=Path, metavar="JSON", help="only redraw the plot (and the table) of a results file"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the work folder (data roots) for inspection"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.replot:
        saved = read_json(args.replot)
        print(table(saved))
        png = plot(args.replot.with_suffix(".png"), saved)
        if png is not None:
            print(f"plot: {png}")
        return 0
    work = Path(tempfile.mkdtemp(prefix="lakehouse-bench-"))
    settings = settings_from(args, work)
    names = args.only or list(BENCHMARKS)
    log(f"settings: {settings.describe()}; work folder {work}")
    started = time.perf_counter()
    figures: list[Figure] = []
    failed: list[str] = []
    try:
        for name in [n for n in BENCHMARKS if n in names]:
            t0 = time.perf_counter()
            try:
                figures += BENCHMARKS[name][0](settings)
            except Exception as exc:  # one broken benchmark does not lose the others' figures
                failed.append(f"{name}: {type(exc).__name__}: {exc}")
                log(f"{name} FAILED: {type(exc).__name__}: {exc}")
            log(f"{name} done in {time.perf_counter() - t0:.0f} s")
    finally:
        if args.keep:
            log(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    described = settings.describe() | {
        "only": names,
        "elapsed_seconds": round(time.perf_counter() - started, 1),
        "failed": failed,
    }
    path = write_json(args.results / f"bench-{stamp}.json", figures, described)
    shutil.copy(path, args.results / "latest.json")
    print(table(figures))
    notes = [
        f"{f.name} x{f.scale:g}: {f.extra['note']}"
        for f in figures
        if "note" in f.extra and f.scale is not None
    ]
    for note in notes:
        print(f"note: {note}")
    (args.results / "latest.md").write_text(
        markdown_table(figures) + "\n" + "".join(f"\n- {n}" for n in notes) + "\n"
    )
    print(f"\nresults: {path} ({described['elapsed_seconds']} s)")
    if not args.no_plot:
        png = plot(args.results / f"bench-{stamp}.png", figures)
        if png is not None:
            shutil.copy(png, args.results / "latest.png")
            print(f"plot: {png}")
    for failure in failed:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
