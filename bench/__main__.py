"""``python -m bench``: run every benchmark and print its figures.

The baselines are run in the same process, so the ratios compare like with like. PostgreSQL figures
are included when ``LAKEHOUSE_BENCH_PG_URL`` is set (a database the benchmark may write into).
"""

from __future__ import annotations

import os
import sys

from bench import bench_events, bench_ingest


def main() -> int:
    figures = []
    url, tmp = bench_events.sqlite_url()
    with tmp:
        figures += bench_events.run(url, "sqlite")
    pg = os.environ.get("LAKEHOUSE_BENCH_PG_URL")
    if pg:
        figures += bench_events.run(pg, "postgresql")
    figures += bench_ingest.run()
    print(f"{'benchmark':<48} {'time':>10}  {'throughput':>14}")
    for figure in figures:
        print(figure.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
