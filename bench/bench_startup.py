"""CLI start-up: ``lakehouse query "select 1"`` as a subprocess versus bare DuckDB opening the
catalog file in a subprocess (``python -c "import duckdb; duckdb.connect(path, read_only=True)..."``).

The target (0.3 s) is on the CLI's own time; the ratio shows what the CLI adds to the interpreter
and DuckDB's import.
"""

from __future__ import annotations

import sys

from bench import data
from bench._report import Figure, Target, alternate, log

TARGET = Target("seconds_max", 0.3)


def run(settings: data.Settings) -> list[Figure]:
    figures = []
    for scale in settings.scales:
        ds = data.extracts(scale, settings.days)
        root = data.built_root(settings, ds)
        env = root.env()
        cli = [str(data.BIN / "lakehouse"), "query", "-c", data.COMPANY, "select 1"]
        bare = [
            sys.executable,
            "-c",
            f"import duckdb; duckdb.connect({str(root.catalog)!r}, read_only=True).execute('select 1')",
        ]
        log(f"startup x{scale:g}")
        data.run(cli, env)  # the catalog is fresh and the files are cached before the clock starts

        def project(cli: list[str] = cli, env: dict[str, str] = env) -> None:
            data.run(cli, env)

        def baseline(bare: list[str] = bare, env: dict[str, str] = env) -> None:
            data.run(bare, env)

        p, b = alternate(project, baseline, max(settings.repeat, 3))
        figures.append(
            Figure(
                "startup",
                'lakehouse query "select 1"',
                "python -c duckdb.connect(catalog)",
                p,
                b,
                TARGET,
                scale=scale,
                days=settings.days,
                data_bytes=ds.size_bytes,
                unit="runs",
                items=1,
            )
        )
    return figures
