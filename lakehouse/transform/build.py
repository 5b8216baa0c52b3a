"""``lakehouse build``: dbt silver/gold with write-audit-publish, run manifests and events.

1. Take the company's build lease (two builds of one company never overlap).
2. Start a ``dbt_build`` pipeline run; its input manifest names the bronze versions read.
3. WRITE: dbt builds every model as a table in a fresh DuckDB file of the run (bronze views over
   committed files only). AUDIT: dbt's tests run against those tables in the same ``dbt build``.
4. PUBLISH, only if every model and test passed: each silver/gold model is exported to immutable
   Parquet files and all of them are committed as dataset versions in ONE control-plane transaction.
   Otherwise the run is marked failed with the failing nodes, nothing is published, and the
   previous versions stay current.
5. Detected events go to ``events_index``; the dbt artifacts are kept under ``manifests/dbt/<run_id>``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from lakehouse.config import LakehouseConfig
from lakehouse.datasets import WORK_DIR, DatasetStore, StagedVersion, version_summary
from lakehouse.errors import BuildFailedError, DataPlaneError, TransformError
from lakehouse.ids import new_run_id
from lakehouse.io.atomic import atomic_write_bytes
from lakehouse.io.parquet_io import sql_identifier
from lakehouse.io.zones import validate_slug
from lakehouse.manifest import run_manifest
from lakehouse.schemas import RAW_SCHEMAS
from lakehouse.transform.build_lock import company_lock
from lakehouse.transform.dbt_runner import DbtInvocation, NodeProgress, published_models, run_dbt_build
from lakehouse.transform.events import events_from_facts, sync_events
from lakehouse.transform.profiles import ExtractResult, run_extraction
from lakehouse.transform.staging_db import prepare_staging_db

logger = logging.getLogger(__name__)

EVENT_FACTS = "event_facts"


@dataclass
class BuildResult:
    run_id: str
    as_of: date
    invocation_id: str | None
    versions: list[dict[str, Any]] = field(default_factory=list)
    events: dict[str, dict[str, int]] = field(default_factory=dict)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    extraction: ExtractResult | None = None


def newest_bronze_dt(store: DatasetStore, company: str) -> date:
    """The newest ``dt`` of the bronze datasets dbt reads: the default as-of date (not the wall clock)."""
    newest: date | None = None
    for version in store.dal.list_dataset_versions(company, zone="bronze"):
        if version.dataset_name not in RAW_SCHEMAS:  # other bronze datasets are not dbt sources
            continue
        for entry in store.version_entries(version):
            if entry.dt is not None:
                day = date.fromisoformat(entry.dt)
                newest = day if newest is None or day > newest else newest
    if newest is None:
        raise DataPlaneError(f"company {company!r} has no bronze data yet: run `lakehouse ingest` first")
    return newest


class DbtBuild:
    """Builds silver and gold for one company with dbt and publishes them as dataset versions."""

    def __init__(self, store: DatasetStore, config: LakehouseConfig, project_dir: Path) -> None:
        self.store = store
        self.dal = store.dal
        self.config = config
        self.project_dir = project_dir.resolve()
        if not (self.project_dir / "dbt_project.yml").is_file():
            raise DataPlaneError(f"no dbt project at {self.project_dir} (set LAKEHOUSE_DBT_PROJECT_DIR)")

    def run(
        self,
        company: str,
        select: list[str] | None = None,
        as_of: date | None = None,
        wait_seconds: float = 0.0,
        progress: NodeProgress | None = None,
        on_wait: Callable[[str], None] | None = None,
        extract: bool = True,
    ) -> BuildResult:
        """Build, test and publish; see the module docstring.

        With ``extract``, the transcript extraction (its own ``transcript_pipeline`` run) follows a
        build that published the silver dataset it reads, under the same lease.

        Raises:
            BuildFailedError: a model or test failed (nothing was published).
            LockBusyError: another build of the company holds the lease.
        """
        validate_slug("company", company)
        run_id = new_run_id()
        with company_lock(self.dal, f"build:{company}", run_id, wait_seconds, on_wait):
            result = self._run_locked(company, run_id, select, as_of, progress)
            sources = {cfg.source.dataset for cfg in self.config.extraction}
            if extract and any(v["zone"] == "silver" and v["dataset"] in sources for v in result.versions):
                result.extraction = run_extraction(self.store, self.config, company)
            return result

    def _run_locked(
        self,
        company: str,
        run_id: str,
        select: list[str] | None,
        as_of: date | None,
        progress: NodeProgress | None,
    ) -> BuildResult:
        newest = newest_bronze_dt(self.store, company)
        if as_of is not None and as_of > newest:
            raise DataPlaneError(
                f"--as-of {as_of} is after the newest bronze data ({newest}) of {company!r}: ingest it first"
            )
        as_of = as_of or newest
        views = self.store.current_views(company)
        bronze = [
            {"dataset": v.dataset_name, "version": v.version_tag, "checksum": v.checksum, "rows": v.row_count}
            for v in self.dal.list_dataset_versions(company, zone="bronze")
        ]
        inputs = {"as_of": as_of.isoformat(), "select": select or [], "bronze_versions": bronze}
        self.dal.start_pipeline_run(
            company, "dbt_build", stage="silver_gold", input_manifest=inputs, run_id=run_id
        )
        work = self.store.root.company_dir(company) / WORK_DIR / run_id
        staged: list[StagedVersion] = []
        committed: list[dict[str, Any]] = []
        try:
            work.mkdir(parents=True, exist_ok=True)
            db_path = work / "build.duckdb"
            prepare_staging_db(db_path, views)
            variables = {
                "company": company,
                "as_of": as_of.isoformat(),
                "events": self.config.events_dbt_vars(),
            }
            invocation = run_dbt_build(
                self.project_dir, db_path, work / "target", variables, run_id, select, progress
            )
            artifacts = self._keep_artifacts(company, run_id, work / "target")
            nodes = [
                {
                    "unique_id": n.unique_id,
                    "status": n.status,
                    "execution_time": round(n.execution_time, 3),
                    "message": n.message,
                }
                for n in invocation.nodes
            ]
            if not invocation.success:
                log = next((a for a in artifacts if a.endswith("dbt.log")), None)
                raise BuildFailedError(run_id, _failures(invocation), log)
            models = published_models(invocation)
            if select and not models:
                raise TransformError(
                    f"--select {' '.join(select)} matched no silver or gold model: nothing to build or publish"
                )
            with duckdb.connect(str(db_path), read_only=True) as con:
                staged = [self._export(con, company, run_id, m, as_of) for m in models]
                facts = _event_facts(con, models)
            records = self.store.publish(staged)
            committed = [
                {"zone": r.zone, "dataset": r.dataset_name, "version": r.version_tag} for r in records
            ]
            events: dict[str, dict[str, int]] = {}
            # Events describe the present: a backfill (an as-of before the newest data) leaves them alone.
            if facts is not None and as_of == newest:
                evaluated = [r.event_type for r in self.config.events if r.enabled]
                events = sync_events(
                    self.dal, company, events_from_facts(facts, f"run:{run_id}"), evaluated, run_id
                )
            versions = version_summary(records)
            outputs = [v.as_output() for v in staged]
            manifest = run_manifest(
                run_id=run_id,
                company=company,
                pipeline="dbt_build",
                inputs=bronze,
                outputs=outputs,
                as_of=as_of.isoformat(),
                dbt_invocation_id=invocation.invocation_id,
                dbt_artifacts=artifacts,
                nodes=nodes,
                events=events,
            )
            self.store.write_run_manifest(company, manifest)
            self.dal.finish_pipeline_run(run_id, "success", manifests=manifest)
            return BuildResult(run_id, as_of, invocation.invocation_id, versions, events, nodes)
        except BaseException as exc:
            self._fail(run_id, exc, committed)  # first: the run must not stay "running"
            if not committed:
                self.store.discard(staged)
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _fail(self, run_id: str, exc: BaseException, committed: list[dict[str, Any]]) -> None:
        details: dict[str, Any] = {"message": " ".join(str(exc).split())}
        if isinstance(exc, BuildFailedError):
            details["failed_nodes"] = exc.failures
        if committed:
            # The outputs were committed before a later step (events) failed: they stay current.
            details["published_versions"] = committed
        self.dal.fail_pipeline_run(run_id, exc, **details)

    def _export(
        self, con: duckdb.DuckDBPyConnection, company: str, run_id: str, model: dict[str, Any], as_of: date
    ) -> StagedVersion:
        relation = f"{sql_identifier(model['schema'])}.{sql_identifier(model['alias'])}"
        described = con.execute(f"DESCRIBE {relation}").fetchall()
        schema = {
            "name": model["name"],
            "version": model["schema_version"],
            "primary_key": None,
            "columns": [
                {"name": c[0], "type": c[1], "nullable": c[2] != "NO", "enum": None}
                for c in described
                if c[0] != "dt"
            ],
        }
        version = StagedVersion(
            company=company,
            zone=model["zone"],
            dataset=model["name"],
            run_id=run_id,
            schema_version=model["schema_version"],
            schema=schema,
            extra={"dbt_unique_id": model["unique_id"], "as_of": as_of.isoformat()},
        )
        columns = ", ".join(sql_identifier(str(c[0])) for c in described if c[0] != "dt")
        # A stable row order: a rebuild of the same data writes the same rows in the same order.
        self.store.write_file(con, version, f"SELECT {columns} FROM {relation} ORDER BY ALL", as_of)
        return version

    def _keep_artifacts(self, company: str, run_id: str, target: Path) -> list[str]:
        kept = []
        folder = self.store.root.manifests_dir(company) / "dbt" / run_id
        for name in ("run_results.json", "manifest.json", "logs/dbt.log"):
            source = target / name
            if source.exists():
                kept_path = folder / Path(name).name
                atomic_write_bytes(kept_path, source.read_bytes(), overwrite=False)
                kept.append(self.store.root.relative(kept_path))
        return kept


def _failures(invocation: DbtInvocation) -> list[str]:
    failed = [f"{n.unique_id}: {n.status}: {_shorten(n.message)}" for n in invocation.failed]
    if not failed and invocation.error:
        failed = [invocation.error]
    return failed or ["dbt reported failure without a failing node; see the run's dbt log"]


def _event_facts(con: duckdb.DuckDBPyConnection, models: list[dict[str, Any]]) -> Any:
    for m in models:
        if m["name"] == EVENT_FACTS:
            relation = f"{sql_identifier(m['schema'])}.{sql_identifier(m['alias'])}"
            return con.sql(f"SELECT * FROM {relation}").to_arrow_table()
    return None


def _shorten(message: str | None, width: int = 160) -> str:
    flat = " ".join(str(message or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
