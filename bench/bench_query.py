"""Saved queries through the analysts' catalog versus ``read_parquet`` of the same files.

- project: every saved query of ``queries/`` through ``lakehouse.query.sandbox.run_query`` (the
  catalog file opened read-only, the sandbox, the limits, the catalog's views);
- baseline: the same SQL with each ``zone.dataset`` replaced by ``read_parquet([its files],
  hive_partitioning = true)``, in a bare in-memory DuckDB connection.

A second figure filters bronze ``jobs`` to one ``dt`` of N, and records how many of the view's files
DuckDB's profiler says it read (``EXPLAIN ANALYZE``: "Total Files Read"), so that the share of bytes
a one-day query reads can be compared with 1/N.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb

from bench import data
from bench._report import Figure, Target, alternate, log
from lakehouse.dataplane.sql import quote_literal
from lakehouse.dataplane.zones import DATA_ZONES, DataRoot
from lakehouse.query.sandbox import query_parameters, run_query

TARGET = Target("ratio_max", 1.05)
QUERIES = data.REPO / "queries"
_RELATION = re.compile(r"\b(bronze|silver|gold)\.([a-z_][a-z0-9_]*)\b")


def catalog_files(catalog: Path) -> dict[tuple[str, str], list[str]]:
    with duckdb.connect(str(catalog), read_only=True) as con:
        rows = con.execute("select zone, dataset, files from lakehouse.datasets where has_view").fetchall()
    return {(z, d): list(f) for z, d, f in rows}


def direct_sql(sql: str, files: dict[tuple[str, str], list[str]]) -> str:
    def replace(match: re.Match[str]) -> str:
        listed = ", ".join(quote_literal(f) for f in files[(match.group(1), match.group(2))])
        return f"read_parquet([{listed}], hive_partitioning = true, union_by_name = true)"

    return _RELATION.sub(replace, sql)


def run(settings: data.Settings) -> list[Figure]:
    figures: list[Figure] = []
    for scale in settings.scales:
        ds = data.extracts(scale, settings.days)
        root = data.built_root(settings, ds)
        files = catalog_files(root.catalog)
        allowed = [DataRoot.from_uri(str(root.data)).zone_dir(data.COMPANY, z) for z in DATA_ZONES]
        saved: list[tuple[str, str, dict[str, Any]]] = []
        for path in sorted(QUERIES.glob("*.sql")):
            sql = path.read_text()
            if any((m.group(1), m.group(2)) not in files for m in _RELATION.finditer(sql)):
                continue  # reads a dataset this build did not publish
            saved.append((path.stem, sql, dict.fromkeys(query_parameters(sql))))

        def project(
            saved: list[tuple[str, str, dict[str, Any]]] = saved,
            root: data.Root = root,
            allowed: list[Path] = allowed,
        ) -> None:
            for _name, sql, params in saved:
                run_query(root.catalog, sql, params, allowed)

        def baseline(saved: list[tuple[str, str, dict[str, Any]]] = saved, files: Any = files) -> None:
            for (
                _name,
                sql,
                params,
            ) in saved:  # a connection per query, as run_query opens the catalog per query
                with duckdb.connect() as con:
                    con.execute(direct_sql(sql, files), params).to_arrow_table()

        common: dict[str, Any] = {"scale": scale, "days": settings.days, "data_bytes": ds.size_bytes}
        log(f"query x{scale:g}: {len(saved)} saved queries")
        project()  # warm the OS cache for both sides
        p, b = alternate(project, baseline, max(settings.repeat, 3))
        figures.append(
            Figure(
                "saved_queries",
                f"{len(saved)} saved queries via catalog",
                "read_parquet of the same files",
                p,
                b,
                TARGET,
                **common,
                unit="queries",
                items=len(saved),
                extra={"queries": [s[0] for s in saved]},
            )
        )
        figures.append(_one_day(settings, root, files, allowed, common))
    return figures


def _one_day(
    settings: data.Settings,
    root: data.Root,
    files: dict[tuple[str, str], list[str]],
    allowed: list[Path],
    common: dict[str, Any],
) -> Figure:
    jobs = files[("bronze", "jobs")]
    days = sorted({m.group(1) for f in jobs if (m := re.search(r"dt=(\d{4}-\d{2}-\d{2})", f))})
    day = days[len(days) // 2]
    sql = f"select count(*) as n, sum(job_total) as total from bronze.jobs where dt = date '{day}'"

    def project() -> None:
        run_query(root.catalog, sql, None, allowed)

    def baseline() -> None:
        with duckdb.connect() as con:
            con.execute(direct_sql(sql, files)).fetchall()

    p, b = alternate(project, baseline, max(settings.repeat, 3))
    with duckdb.connect(str(root.catalog), read_only=True) as con:
        plan = "\n".join(str(r[-1]) for r in con.execute(f"explain analyze {sql}").fetchall())
    read = re.search(r"Total Files Read:\s*(\d+)", plan)
    files_read = int(read.group(1)) if read else None
    matching = [f for f in jobs if f"dt={day}" in f]
    sizes = {f: Path(f).stat().st_size for f in jobs}
    total_bytes = sum(sizes.values())
    # The files read are the matching ones when the count agrees (DuckDB reads whole row groups of them).
    bytes_read = sum(sizes[f] for f in matching) if files_read == len(matching) else None
    if files_read is not None and files_read == len(jobs):
        bytes_read = total_bytes
    return Figure(
        "one_dt_query",
        f"jobs where dt = one of {len(days)} days, via catalog",
        "read_parquet (hive dt)",
        p,
        b,
        TARGET,
        **common,
        unit="queries",
        items=1,
        extra={
            "days": len(days),
            "files_total": len(jobs),
            "files_matching": len(matching),
            "files_read": files_read,
            "bytes_total": total_bytes,
            "bytes_read": bytes_read,
            "fraction_read": None if bytes_read is None else bytes_read / total_bytes,
            "fraction_expected": 1 / len(days),
            "note": f"one dt of {len(days)}: DuckDB read {files_read} of {len(jobs)} bronze.jobs files"
            + ("" if bytes_read is None else f", {bytes_read / total_bytes:.1%} of the bytes")
            + f" (1/N = {1 / len(days):.1%})",
        },
    )
