"""``lakehouse build`` versus plain ``dbt build`` and the same SQL run directly, and the build
after one more day versus a full build.

All on the same bronze (the first ``days`` of a generated data set, ingested once):

- project: ``lakehouse build -c bench`` as a subprocess (write-audit-publish: dbt into a per-run
  DuckDB file, its tests, the export of silver/gold to Parquet with sha256 manifests, the events,
  the transcript extraction, the catalog);
- plain dbt: ``dbt build --vars "$LAKEHOUSE_DBT_VARS"`` as a subprocess, in the environment
  ``lakehouse dbt --print-env`` prints (the sandbox database over the same bronze views);
- raw SQL: the models and tests compiled once by ``dbt compile``, then executed in one DuckDB
  connection (views and ``CREATE TABLE ... AS``, every test as a ``count(*)``) and each silver and
  gold table ``COPY``'d to zstd Parquet.

"+1 day": a copy of the built root gets the data set's extra day ingested (not timed), then
``lakehouse build`` is timed (the project); the baseline is a full build of the same days on a
fresh bronze root (no build before it): the ratio is the share of a full build one more day costs.
Every timed ``lakehouse build`` starts from a fresh copy (a build of unchanged inputs is a no-op).

Peak memory: the peak resident set size (``ru_maxrss`` of ``os.wait4``) of each timed ``lakehouse
build`` and plain ``dbt build`` process (dbt runs inside ``lakehouse build``'s process), in MiB.
"""

from __future__ import annotations

import json
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from bench import data
from bench._report import Figure, Target, log, rotate
from lakehouse.dataplane.sql import quote_identifier, quote_literal

VS_DBT = Target("ratio_max", 1.15)
VS_RAW = Target("ratio_max", 2.0)
ONE_DAY = Target("ratio_max", 0.10)
PEAK_MEMORY = Target("ratio_max", 1.2)
MIB = 1024 * 1024


def sandbox_env(root: data.Root) -> dict[str, str]:
    """The environment ``lakehouse dbt --print-env`` prints (parsed from its export lines)."""
    out = data.lakehouse(root, "dbt", "-c", data.COMPANY, "--print-env").stdout
    env = root.env()
    for line in out.splitlines():
        if line.startswith("export "):
            name, _, value = line[len("export ") :].partition("=")
            env[name] = shlex.split(value)[0] if value else ""
    return env


def plain_dbt(env: dict[str, str], command: str = "build") -> data.Completed:
    return data.run([str(data.BIN / "dbt"), command, "--vars", env["LAKEHOUSE_DBT_VARS"]], env)


class RawSql:
    """The project's compiled models and tests, run in one DuckDB connection, outputs to Parquet."""

    def __init__(self, manifest: dict[str, Any], pristine_db: Path, work: Path) -> None:
        self.pristine = pristine_db
        self.work = work
        nodes = {
            uid: n
            for uid, n in manifest["nodes"].items()
            if n.get("resource_type") in {"model", "test"} and n.get("compiled_code")
        }
        self.order = _topological(nodes)
        self.nodes = nodes

    def reset(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        self.work.mkdir(parents=True)
        shutil.copy(self.pristine, self.work / self.pristine.name)

    def __call__(self) -> None:
        out = self.work / "parquet"
        out.mkdir()
        with duckdb.connect(str(self.work / self.pristine.name)) as con:
            for uid in self.order:
                node = self.nodes[uid]
                sql = node["compiled_code"]
                if node["resource_type"] == "test":
                    con.execute(f"SELECT count(*) FROM ({sql}) AS t").fetchall()
                    continue
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(node['schema'])}")
                relation = f"{quote_identifier(node['schema'])}.{quote_identifier(node.get('alias') or node['name'])}"
                kind = "VIEW" if node["config"].get("materialized") == "view" else "TABLE"
                con.execute(f"DROP VIEW IF EXISTS {relation}")
                con.execute(f"CREATE OR REPLACE {kind} {relation} AS {sql}")
            for uid in self.order:
                node = self.nodes[uid]
                zone = (node["config"].get("meta") or {}).get("zone")
                if node["resource_type"] != "model" or zone not in {"silver", "gold"}:
                    continue
                relation = f"{quote_identifier(node['schema'])}.{quote_identifier(node.get('alias') or node['name'])}"
                target = out / f"{zone}-{node['name']}.parquet"
                con.execute(
                    f"COPY (SELECT * FROM {relation}) TO {quote_literal(str(target))} "
                    "(FORMAT parquet, COMPRESSION zstd)"
                )


def _topological(nodes: dict[str, dict[str, Any]]) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(uid: str) -> None:
        if uid in seen:
            return
        seen.add(uid)
        for dep in nodes[uid].get("depends_on", {}).get("nodes", []):
            if dep in nodes:
                visit(dep)
        order.append(uid)

    # models first, then tests, each in dependency order
    for uid in sorted(nodes, key=lambda u: (nodes[u]["resource_type"] != "model", u)):
        visit(uid)
    return order


def run(settings: data.Settings) -> list[Figure]:
    figures: list[Figure] = []
    for scale in settings.scales:
        ds = data.extracts(scale, settings.days)
        bronze = data.bronze_root(settings, ds)
        rows = data.BRONZE_ROWS[(scale, settings.days)]
        common: dict[str, Any] = {
            "scale": scale,
            "days": settings.days,
            "data_bytes": ds.size_bytes,
            "items": rows,
        }

        # plain dbt works in a sandbox of its own copy; raw SQL starts from that sandbox's database
        dbt_root = bronze.copy(settings.work / f"dbt-x{scale:g}")
        env = sandbox_env(dbt_root)
        db = Path(env["LAKEHOUSE_DBT_DB_PATH"])
        pristine = settings.work / f"raw-x{scale:g}" / "pristine" / db.name
        pristine.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(db, pristine)
        plain_dbt(env, "compile")
        manifest = json.loads((Path(env["DBT_TARGET_PATH"]) / "manifest.json").read_text())
        raw = RawSql(manifest, pristine, settings.work / f"raw-x{scale:g}" / "run")

        build_dir = settings.work / f"build-x{scale:g}"

        def fresh(bronze: data.Root = bronze, build_dir: Path = build_dir) -> None:
            # a fresh copy of the bronze root each time: a build of unchanged inputs publishes nothing
            bronze.copy(build_dir)

        build_rss: list[float] = []
        dbt_rss: list[float] = []

        def build(build_dir: Path = build_dir, rss: list[float] = build_rss) -> None:
            rss.append(data.lakehouse(data.Root(build_dir), "build", "-c", data.COMPANY).peak_rss / MIB)

        def dbt(env: dict[str, str] = env, rss: list[float] = dbt_rss) -> None:
            rss.append(plain_dbt(env).peak_rss / MIB)

        def raw_sql(raw: RawSql = raw) -> None:
            raw()

        log(
            f"build x{scale:g}: lakehouse build / plain dbt build / raw SQL, {settings.build_repeat} time(s) each"
        )
        p, b, r = rotate([build, dbt, raw_sql], settings.build_repeat, [fresh, None, raw.reset])
        figures.append(Figure("build_vs_dbt", "lakehouse build", "plain dbt build", p, b, VS_DBT, **common))
        figures.append(
            Figure(
                "build_vs_raw",
                "lakehouse build",
                "raw SQL in one DuckDB + COPY",
                p,
                r,
                VS_RAW,
                **common,
                extra={"models_and_tests": len(raw.order)},
            )
        )
        figures.append(
            Figure(
                "peak_memory",
                "lakehouse build peak memory",
                "plain dbt build",
                build_rss,
                dbt_rss,
                PEAK_MEMORY,
                quantity="MiB",
                **common,
            )
        )
        build_root = data.Root(build_dir)
        data.BUILT[(scale, settings.days)] = build_root
        shutil.rmtree(dbt_root.path, ignore_errors=True)

        if settings.quick:
            log("build: the +1 day figure is left out of --quick (two more builds)")
            continue
        # one more day: on a copy of the built root (its previous build is there to build on), versus a
        # full build of the same days on a fresh root
        inc, full = settings.work / f"inc-x{scale:g}", settings.work / f"full-x{scale:g}"

        def one_more_day(inc: Path = inc, build_root: data.Root = build_root, ds: data.Extracts = ds) -> None:
            data.ingest(build_root.copy(inc), [ds.extra_day])

        def all_days(full: Path = full, bronze: data.Root = bronze, ds: data.Extracts = ds) -> None:
            data.ingest(bronze.copy(full), [ds.extra_day])

        def build_in(folder: Path) -> Callable[[], object]:
            return lambda: data.lakehouse(data.Root(folder), "build", "-c", data.COMPANY)

        log(f"build x{scale:g}: after one more day vs a full build, {settings.build_repeat} time(s) each")
        inc_times, full_times = rotate(
            [build_in(inc), build_in(full)], settings.build_repeat, [one_more_day, all_days]
        )
        shutil.rmtree(inc, ignore_errors=True)
        shutil.rmtree(full, ignore_errors=True)
        figures.append(
            Figure(
                "one_more_day",
                "build after +1 day",
                "full build",
                inc_times,
                full_times,
                ONE_DAY,
                **common,
            )
        )
    return figures
