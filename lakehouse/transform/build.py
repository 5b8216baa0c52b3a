"""``lakehouse build``: dbt silver/gold with write-audit-publish, run manifests and events.

1. Take the company's build lease (two builds of one company never overlap).
2. Start a ``dbt_build`` pipeline run; its input manifest names the bronze versions read.
3. WRITE: dbt builds every model as a table in a fresh DuckDB file of the run (bronze views over
   committed files only). AUDIT: dbt's tests run against those tables in the same ``dbt build``.
   A build that can continue the last full one is incremental (transform/incremental.py,
   docs/incremental-builds.md): the bronze views list only the files that build did not read, and
   the silver models' tables are seeded with its versions.
4. PUBLISH, only if every model and test passed: each silver/gold model is exported to immutable
   Parquet files (silver: one per month of ``_bronze_dt``; a month unchanged since the last build
   is shared, not written), all committed as dataset versions in ONE control-plane transaction.
   Otherwise the run is marked failed with the failing nodes, nothing is published, and the
   previous versions stay current.
5. Detected events go to ``events_index``; the dbt artifacts are kept under ``manifests/dbt/<run_id>``,
   and a failed build keeps there the compiled SQL of its failing nodes (``failed/<unique_id>.sql``,
   and what dbt ran, ``failed/<unique_id>.run.sql``): the run's ``_work/`` folder is removed.

The dbt vars of a run (:func:`dbt_vars`) carry the company, the as-of date and the event rules of
``config/events/*.json``, their only home (``dbt_project.yml`` has no event thresholds).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb

from lakehouse.config import LakehouseConfig
from lakehouse.dataplane import duck
from lakehouse.dataplane.maintenance import WORK_DIR
from lakehouse.dataplane.manifest import FileEntry, run_manifest
from lakehouse.dataplane.pipeline_run import PipelineRun
from lakehouse.dataplane.recovery import recover_company
from lakehouse.dataplane.schemas import (
    RAW_SCHEMAS,
    Column,
    DatasetSchema,
    reserved_column_problems,
    schema_to_json,
)
from lakehouse.dataplane.sql import quote_identifier
from lakehouse.dataplane.store import DatasetStore, StagedVersion, current_of, version_summary
from lakehouse.dataplane.zones import validate_run_id
from lakehouse.db.records import DatasetVersionRecord
from lakehouse.errors import (
    BuildFailedError,
    DataPlaneError,
    DatasetNotFoundError,
    EmptyVersionError,
    TransformError,
)
from lakehouse.names import BUILT_ZONES, validate_slug
from lakehouse.transform.build_fingerprint import build_fingerprint, project_fingerprint, unchanged_since
from lakehouse.transform.dbt_runner import (
    PARSE_CACHE,
    DbtInvocation,
    NodeProgress,
    drop_stable_db_path,
    list_models,
    published_models,
    restore_parse_cache,
    run_dbt_build,
    save_parse_cache,
    stable_db_path,
    stable_profile_path,
)
from lakehouse.transform.events import EVENT_FACTS, events_from_facts, sync_events
from lakehouse.transform.extraction_run import ExtractResult, run_extraction
from lakehouse.transform.incremental import (
    Baseline,
    PreviousOutput,
    find_baseline,
    new_bronze_views,
    seed_tables,
    write_chunks,
)
from lakehouse.transform.staging_db import prepare_staging_db

logger = logging.getLogger(__name__)

#: Folder of a failed build's kept artifacts (``manifests/dbt/<run_id>/``) with its failing nodes' SQL.
FAILED_SQL_DIR = "failed"
#: The DuckDB file of a build in its ``_work/<run_id>/`` folder.
BUILD_DB = "build.duckdb"


def dbt_vars(config: LakehouseConfig, company: str, as_of: date) -> dict[str, Any]:
    """The dbt vars of a build (and of the ``lakehouse dbt`` sandbox).

    ``events`` are the rules of ``config/events/*.json`` (:meth:`LakehouseConfig.events_dbt_vars`),
    their only home: a dbt run without this var has every event rule disabled.
    """
    return {"company": company, "as_of": as_of.isoformat(), "events": config.events_dbt_vars()}


@dataclass
class BuildResult:
    run_id: str
    as_of: date
    invocation_id: str | None
    versions: list[dict[str, Any]] = field(default_factory=list)
    events: dict[str, dict[str, int]] = field(default_factory=dict)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    extraction: ExtractResult | None = None
    #: Warnings worth showing (e.g. which sources lag and by how many days).
    notes: list[str] = field(default_factory=list)
    #: Published but not current: the as-of is before the one already published.
    backfill: bool = False
    #: Nothing was published: the run id of the build whose versions are current and this build
    #: would only have made again (same inputs, project and config; see build_fingerprint.py).
    unchanged_since: str | None = None
    #: An incremental build: the run id of the build it continued (see incremental.py).
    incremental_from: str | None = None
    #: Bronze files read (all of them, or only the new ones of an incremental build).
    bronze_files_read: int = 0
    #: Files of the published versions written by this build, and those shared with the previous one.
    files_written: int = 0
    files_shared: int = 0


@dataclass(frozen=True)
class SourceReach:
    """How far each dbt source (a declared raw bronze dataset) has reached: its newest ``dt``."""

    newest: dict[str, date | None]

    @property
    def present(self) -> dict[str, date]:
        return {name: day for name, day in self.newest.items() if day is not None}

    @property
    def missing(self) -> list[str]:
        return sorted(name for name, day in self.newest.items() if day is None)

    def behind(self, as_of: date) -> dict[str, date | None]:
        """Sources whose newest day is before ``as_of`` (or that have no data)."""
        return {n: d for n, d in sorted(self.newest.items()) if d is None or d < as_of}

    def lag_note(self, as_of: date) -> str | None:
        """Which sources lag the newest one and by how many days, if they disagree."""
        present = self.present
        if not present:
            return None
        ahead = max(present.values())
        leaders = sorted(n for n, d in present.items() if d == ahead)
        lagging = [
            f"{n} lags {(ahead - d).days} day(s) ({d})" for n, d in sorted(present.items()) if d < ahead
        ]
        lagging += [f"{n} has no data" for n in self.missing]
        if not lagging:
            return None
        return (
            f"sources disagree: {', '.join(leaders)} reach(es) {ahead}, but "
            + "; ".join(lagging)
            + f"; building as of {as_of}"
        )


def source_reach(store: DatasetStore, company: str) -> SourceReach:
    """The newest ``dt`` of every dbt source of ``company`` (None where nothing is ingested)."""
    newest: dict[str, date | None] = dict.fromkeys(RAW_SCHEMAS)
    for version in store.dal.list_dataset_versions(company, zone="bronze"):
        if version.dataset_name not in newest:  # other bronze datasets are not dbt sources
            continue
        day = version.as_of
        if day is None:  # a version committed before as_of was recorded
            days = [date.fromisoformat(e.dt) for e in store.version_entries(version) if e.dt]
            day = max(days) if days else None
        known = newest[version.dataset_name]
        if day is not None and (known is None or day > known):
            newest[version.dataset_name] = day
    return SourceReach(newest)


def choose_as_of(reach: SourceReach, company: str, as_of: date | None, allow_partial: bool) -> date:
    """The as-of date of a build; see the README's as-of rules.

    Default: the newest day every source has reached (the minimum of their newest days). An explicit
    date past some source's newest day needs ``allow_partial``; a date past every source is refused.

    Raises:
        DataPlaneError: no bronze data, a missing source, or an as-of the sources have not reached.
    """
    present = reach.present
    if not present:
        raise DataPlaneError(f"company {company!r} has no bronze data yet: run `lakehouse ingest` first")
    if as_of is None:
        if reach.missing and not allow_partial:
            raise DataPlaneError(
                f"no bronze data for source(s) {', '.join(reach.missing)} of {company!r}: ingest them, "
                "or pass --allow-partial to build without them"
            )
        return min(present.values())
    newest = max(present.values())
    if as_of > newest:
        raise DataPlaneError(
            f"--as-of {as_of} is after the newest bronze data ({newest}) of {company!r}: ingest it first"
        )
    behind = reach.behind(as_of)
    if behind and not allow_partial:
        named = ", ".join(f"{n} (newest {d})" if d else f"{n} (no data)" for n, d in behind.items())
        raise DataPlaneError(
            f"--as-of {as_of} is past the newest data of source(s) {named}: ingest them, pick an earlier "
            "date, or pass --allow-partial to build on what is there"
        )
    return as_of


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
        allow_partial: bool = False,
        allow_empty: bool = False,
        run_id: str | None = None,
        full_refresh: bool = False,
    ) -> BuildResult:
        """Build, test and publish; see the module docstring and the README's as-of rules.

        A build whose inputs, dbt project and config are those of the last build, whose versions are
        all still current, publishes nothing (``result.unchanged_since`` names that build), unless
        ``full_refresh``.

        With ``extract``, the transcript extraction (its own ``transcript_pipeline`` run) follows a
        build that published the silver dataset it reads, under the same lock, as of the same date.
        ``run_id`` is the build run's id (default: a new one), e.g. the scheduler run that starts it.

        Raises:
            BuildFailedError: a model or test failed (nothing was published).
            LockBusyError: another build of the company holds the lock.
            DataPlaneError: the as-of is not one the sources have reached (see ``allow_partial``).
            EmptyVersionError: a dataset would become empty (see ``allow_empty``).
        """
        validate_slug("company", company)
        lock = f"build:{company}"
        # One catalog refresh for the build and the extraction that follows it.
        with (
            self.store.catalog_deferred(),
            PipelineRun(
                self.store,
                company,
                "dbt_build",
                lock=lock,
                wait_seconds=wait_seconds,
                on_wait=on_wait,
                run_id=run_id,
            ) as run,
        ):
            # Dead runs are marked failed and their leftovers (_work/, orphan files) removed first.
            recover_company(self.store, company, command="build")
            result = self._run_locked(
                run, select, as_of, progress, allow_partial, allow_empty, extract, full_refresh
            )
            # The extraction is a run of its own, under the build's lock (its run has finished).
            sources = {cfg.source.dataset for cfg in self.config.extraction}
            if extract and any(v["zone"] == "silver" and v["dataset"] in sources for v in result.versions):
                result.extraction = run_extraction(self.store, self.config, company, as_of=result.as_of)
            return result

    def _upstream(
        self,
        company: str,
        select: list[str],
        as_of: date,
        work: Path,
        variables: dict[str, Any],
        db_path: Path,
    ) -> tuple[list[str], dict[str, dict[str, list[str]]], list[dict[str, Any]]]:
        """For a ``--select`` build: the extra models to build and the upstream views to give dbt.

        Each silver/gold model the selection reads is given as its version of the same as-of; one that
        has no version at that as-of is built in this run too (never another as-of's version).
        ``variables`` and ``db_path`` are the build's (dbt's partial parse is shared with ``dbt ls``).
        """

        def listed(selection: list[str]) -> list[dict[str, Any]]:
            return list_models(self.project_dir, work / "target", variables, selection, db_path)

        chosen = {m["unique_id"] for m in listed(select)}
        ancestors = [
            m
            for m in listed([f"+{s}" for s in select])
            if m["unique_id"] not in chosen and m["zone"] in BUILT_ZONES
        ]
        extra: list[str] = []
        views: dict[str, dict[str, list[str]]] = {zone: {} for zone in BUILT_ZONES}
        read: list[dict[str, Any]] = []
        for model in ancestors:
            versions = [
                v
                for v in self.dal.list_dataset_versions(company, model["name"], model["zone"])
                if v.as_of == as_of
            ]
            if not versions:
                extra.append(model["name"])
                continue
            version = current_of(versions)
            views[model["zone"]][model["name"]] = [
                self.store.root.url(e.path) for e in self.store.version_entries(version)
            ]
            read.append(_version_input(version))
        return extra, views, read

    def _run_locked(
        self,
        run: PipelineRun,
        select: list[str] | None,
        as_of: date | None,
        progress: NodeProgress | None,
        allow_partial: bool,
        allow_empty: bool,
        extract: bool = True,
        full_refresh: bool = False,
    ) -> BuildResult:
        company, run_id = run.company, run.run_id
        reach = source_reach(self.store, company)
        chosen = choose_as_of(reach, company, as_of, allow_partial)
        partial = bool(reach.behind(chosen))
        # Which source lags explains a default as-of, or a partial build; an explicit one is the user's.
        notes = [n for n in [reach.lag_note(chosen)] if n and (as_of is None or partial)]
        for note in notes:
            logger.info("%s", note)  # the CLI prints the notes
        published_as_of = [
            v.as_of for v in self.dal.list_dataset_versions(company) if v.zone != "bronze" and v.as_of
        ]
        backfill = bool(published_as_of) and chosen < max(published_as_of)
        bronze_versions = self.dal.list_dataset_versions(company, zone="bronze")
        bronze = [_version_input(v) for v in bronze_versions]
        inputs: dict[str, Any] = {
            "as_of": chosen.isoformat(),
            "select": select or [],
            "bronze_versions": bronze,
            "source_reach": {n: d.isoformat() if d else None for n, d in reach.newest.items()},
            "partial": partial,
            "backfill": backfill,
        }
        work = run.scratch(self.store.root.company_dir(company) / WORK_DIR / run_id)
        variables = dbt_vars(self.config, company, chosen)
        extraction = [c.model_dump(mode="json") for c in self.config.extraction]
        inputs["project_fingerprint"] = project_fingerprint(
            variables=variables, extraction=extraction, project_dir=self.project_dir
        )
        inputs["fingerprint"] = build_fingerprint(
            as_of=chosen,
            select=select or [],
            bronze_versions=bronze,
            variables=variables,
            extraction=extraction,
            project_dir=self.project_dir,
        )
        extracted = [c.output_dataset for c in self.config.extraction] if extract and not select else []
        origin = (
            None
            if full_refresh
            else unchanged_since(self.store, company, inputs["fingerprint"], chosen, extracted)
        )
        if origin is not None:
            return self._unchanged(run, inputs, bronze, chosen, origin, notes, backfill)
        bronze_now = self._bronze_files(company, chosen)
        views: dict[str, dict[str, list[str]]] = {
            "bronze": {n: [self.store.root.url(e.path) for e in es] for n, es in bronze_now.items() if es}
        }
        baseline: Baseline | None = None
        if not full_refresh and not select:
            baseline, why = find_baseline(
                self.store, company, inputs["project_fingerprint"], chosen, bronze_now
            )
            if baseline is None:
                logger.info("full build: %s", why)
                inputs["full_build"] = why
            else:
                views["bronze"] = new_bronze_views(self.store, baseline)
                inputs["incremental_from"] = baseline.describe()
        # dbt re-parses the project unless its vars and profile are those of the previous run: the
        # as-of goes in the environment, the DuckDB file through a link the same for every run.
        dbt_variables = {k: v for k, v in variables.items() if k != "as_of"}
        parse_cache = work.parent / PARSE_CACHE
        restore_parse_cache(parse_cache, work / "target")
        to_build = select
        upstream: list[dict[str, Any]] = []
        if select:
            extra, upstream_views, upstream = self._upstream(
                company, select, chosen, work, dbt_variables, stable_profile_path(work.parent, BUILD_DB)
            )
            views.update(upstream_views)
            to_build = [*select, *extra]
            if extra:
                logger.info("also building %s: no version as of %s", ", ".join(extra), chosen)
                inputs["built_upstream"] = extra
        inputs["upstream_versions"] = upstream
        run.start(stage="silver_gold", inputs=inputs)
        work.mkdir(parents=True, exist_ok=True)
        db_path = work / BUILD_DB
        prepare_staging_db(db_path, views)
        if baseline is not None:
            with duck.connect(db_path) as con:
                seed_tables(con, self.store, baseline)
        try:
            invocation = run_dbt_build(
                self.project_dir,
                stable_db_path(work.parent, work, db_path.name),
                work / "target",
                dbt_variables,
                run_id,
                to_build,
                progress,
                as_of=variables["as_of"],
            )
        finally:
            drop_stable_db_path(work.parent)
        save_parse_cache(work / "target", parse_cache)
        failed_sql = (
            {} if invocation.success else self._keep_failed_sql(company, run_id, work / "target", invocation)
        )
        artifacts = self._keep_artifacts(company, run_id, work / "target", failed_sql)
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
            raise BuildFailedError(run_id, _failures(invocation, failed_sql), log)
        models = published_models(invocation)
        if select and not models:
            raise TransformError(
                f"--select {' '.join(select)} matched no silver or gold model: nothing to build or publish"
            )
        with duck.connect(db_path, read_only=True) as con:
            previous = {} if baseline is None else baseline.outputs
            staged = [
                run.stage(self._export(con, company, run_id, m, chosen, previous.get(m["name"])))
                for m in models
            ]
            facts = _event_facts(con, models)
        if not allow_empty:
            self._refuse_emptied(company, staged)
        records = run.publish()
        events: dict[str, dict[str, int]] = {}
        # The events sync and the run's success commit together: never events without a run that
        # says it detected them, nor a successful run whose events are half-applied.
        with self.dal.transaction():
            # Events describe the present: a backfill (an as-of before the published one) or a
            # partial build (a source behind the as-of) leaves them alone.
            if facts is not None and not backfill and not partial:
                evaluated = [r.event_type for r in self.config.events if r.enabled]
                events = sync_events(
                    self.dal, company, events_from_facts(facts, f"run:{run_id}"), evaluated, run_id
                )
            run.finish(
                run_manifest(
                    run_id=run_id,
                    company=company,
                    pipeline="dbt_build",
                    inputs=bronze + upstream,
                    outputs=[v.as_output() for v in staged],
                    as_of=chosen.isoformat(),
                    dbt_invocation_id=invocation.invocation_id,
                    dbt_artifacts=artifacts,
                    nodes=nodes,
                    events=events,
                    notes=notes,
                )
            )
        result = BuildResult(
            run_id, chosen, invocation.invocation_id, version_summary(records), events, nodes
        )
        result.notes = notes
        result.backfill = backfill
        result.incremental_from = None if baseline is None else baseline.run_id
        result.bronze_files_read = sum(len(files) for files in views["bronze"].values())
        result.files_shared = sum(1 for v in staged for f in v.files if not _written_by(f.path, run_id))
        result.files_written = sum(len(v.files) for v in staged) - result.files_shared
        return result

    def _bronze_files(self, company: str, as_of: date) -> dict[str, list[FileEntry]]:
        """Bronze dataset -> its committed files with ``dt`` on or before ``as_of`` (what a build reads)."""
        versions = self.dal.list_dataset_versions(company, zone="bronze")
        by_version = self.store.entries_of(versions)
        day = as_of.isoformat()
        files: dict[str, list[FileEntry]] = {}
        for v in versions:
            files.setdefault(v.dataset_name, []).extend(
                e for e in by_version[v.id] if e.dt is not None and e.dt <= day
            )
        return files

    def _unchanged(
        self,
        run: PipelineRun,
        inputs: dict[str, Any],
        bronze: list[dict[str, Any]],
        as_of: date,
        origin: str,
        notes: list[str],
        backfill: bool,
    ) -> BuildResult:
        """Record a build that publishes nothing: build ``origin`` made what it would make."""
        inputs["unchanged_since"] = origin
        run.start(stage="silver_gold", inputs=inputs)
        run.finish(
            run_manifest(
                run_id=run.run_id,
                company=run.company,
                pipeline="dbt_build",
                inputs=bronze,
                outputs=[],
                as_of=as_of.isoformat(),
                unchanged_since=origin,
                notes=notes,
            )
        )
        result = BuildResult(run.run_id, as_of, None)
        result.notes = notes
        result.backfill = backfill
        result.unchanged_since = origin
        return result

    def _refuse_emptied(self, company: str, staged: list[StagedVersion]) -> None:
        """Refuse to publish an empty version of a dataset whose current version has rows."""
        for v in staged:
            if v.row_count:
                continue
            try:
                current = self.store.resolve_version(company, v.zone, v.dataset)
            except DatasetNotFoundError:
                continue
            if current.row_count:
                raise EmptyVersionError(
                    f"{v.zone}.{v.dataset}", str(v.as_of), current.row_count, current.as_of
                )

    def _export(
        self,
        con: duckdb.DuckDBPyConnection,
        company: str,
        run_id: str,
        model: dict[str, Any],
        as_of: date,
        previous: PreviousOutput | None = None,
    ) -> StagedVersion:
        """Stage a model's table as a version, in chunks (see incremental.write_chunks); with the
        model's version of the previous build, its unchanged chunks are shared, not written."""
        relation = f"{quote_identifier(model['schema'])}.{quote_identifier(model['alias'])}"
        described = con.execute(f"DESCRIBE {relation}").fetchall()
        # `dt` and `dataset` are the partition folders of every published file: a model column of
        # that name would be silently replaced on read. (Silver carries bronze lineage on purpose.)
        problems = reserved_column_problems([str(c[0]) for c in described], lineage=False)
        if problems:
            raise TransformError(
                f"dbt model {model['unique_id']} has reserved column(s): {'; '.join(problems)}; "
                "rename them in the model (e.g. `as event_dt`)"
            )
        schema = schema_to_json(
            DatasetSchema(
                name=model["name"],
                version=model["schema_version"],
                columns=tuple(Column(str(c[0]), str(c[1]), nullable=c[2] != "NO") for c in described),
            )
        )
        version = StagedVersion(
            company=company,
            zone=model["zone"],
            dataset=model["name"],
            run_id=run_id,
            schema_version=model["schema_version"],
            schema=schema,
            extra={"dbt_unique_id": model["unique_id"]},
            as_of=as_of,
            key_column=model.get("unique_key"),
        )
        columns = [str(c[0]) for c in described]
        write_chunks(self.store, con, version, relation, columns, as_of, previous)
        return version

    def _artifacts_prefix(self, company: str, run_id: str) -> str:
        """``<company>/manifests/dbt/<run_id>/``: the dbt artifacts kept with a run (gc never removes them)."""
        return f"{self.store.root.zone_prefix(company, 'manifests')}dbt/{validate_run_id(run_id)}/"

    def _keep_artifacts(
        self, company: str, run_id: str, target: Path, failed_sql: dict[str, list[str]] | None = None
    ) -> list[str]:
        """Copy dbt's run results, manifest and log next to the run's other kept artifacts.

        The log names files under the run's ``_work/`` folder, which is removed when the run ends: a
        failed run's log gets a last line naming the kept copies of its failing nodes' SQL.
        """
        kept = []
        prefix = self._artifacts_prefix(company, run_id)
        objects = self.store.root.objects
        for name in ("run_results.json", "manifest.json", "logs/dbt.log"):
            source = target / name
            if source.exists():
                data = source.read_bytes()
                if name.endswith("dbt.log") and failed_sql:
                    lines = [
                        f"lakehouse: {target.parent} is removed when the run ends; the SQL of the "
                        "failing node(s) is kept:",
                        *(
                            f"  {uid}: {', '.join(objects.url(p) for p in paths)}"
                            for uid, paths in sorted(failed_sql.items())
                        ),
                    ]
                    data += ("\n" + "\n".join(lines) + "\n").encode()
                key = prefix + PurePosixPath(name).name
                objects.put_bytes(key, data, if_absent=True)
                kept.append(key)
        return kept

    def _keep_failed_sql(
        self, company: str, run_id: str, target: Path, invocation: DbtInvocation
    ) -> dict[str, list[str]]:
        """Keep the SQL of each failing node: unique_id -> kept files (relative to the data root).

        ``failed/<unique_id>.sql`` is the compiled SQL (``target/compiled/...``, or the run results'
        ``compiled_code``); ``failed/<unique_id>.run.sql`` is what dbt ran (``target/run/...``: the
        DDL around a model, the failure count around a test). A node that failed before it compiled
        (a Jinja error) has none.
        """
        prefix = f"{self._artifacts_prefix(company, run_id)}{FAILED_SQL_DIR}/"
        nodes = invocation.manifest.get("nodes", {})
        results = {r.get("unique_id"): r for r in invocation.run_results.get("results", [])}
        kept: dict[str, list[str]] = {}
        for failed in invocation.failed:
            uid = failed.unique_id
            name = _SAFE_FILE_NAME.sub("_", uid)
            compiled, ran = _compiled_files(target, nodes.get(uid, {}))
            code = compiled.read_bytes() if compiled is not None else None
            if code is None and results.get(uid, {}).get("compiled_code"):
                code = str(results[uid]["compiled_code"]).encode()
            files = []
            for suffix, data in ((".sql", code), (".run.sql", ran.read_bytes() if ran else None)):
                if data is None:
                    continue
                key = f"{prefix}{name}{suffix}"
                self.store.root.objects.put_bytes(key, data, if_absent=True)
                files.append(key)
            if files:
                kept[uid] = files
        return kept


def _written_by(path: str, run_id: str) -> bool:
    return Path(path).name.startswith(f"part-{run_id}-")


def _version_input(v: DatasetVersionRecord) -> dict[str, Any]:
    """A version read by a build, as an entry of its input manifest."""
    return {
        "zone": v.zone,
        "dataset": v.dataset_name,
        "version": v.version_tag,
        "as_of": v.as_of.isoformat() if v.as_of else None,
        "checksum": v.checksum,
        "rows": v.row_count,
    }


_SAFE_FILE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def _compiled_files(target: Path, node: dict[str, Any]) -> tuple[Path | None, Path | None]:
    """A node's compiled SQL under ``target/compiled/`` and what ran under ``target/run/``, if present."""
    compiled_path = node.get("compiled_path")
    if not compiled_path:
        return None, None
    compiled = Path(compiled_path)
    if not compiled.is_absolute():  # relative to the project: "<target-path>/compiled/..."
        parts = compiled.parts
        compiled = target.joinpath(*parts[parts.index("compiled") :]) if "compiled" in parts else target
    try:
        relative = compiled.relative_to(target / "compiled")
    except ValueError:
        return (compiled if compiled.is_file() else None), None
    ran = target / "run" / relative
    return (compiled if compiled.is_file() else None), (ran if ran.is_file() else None)


def _failures(invocation: DbtInvocation, failed_sql: dict[str, list[str]] | None = None) -> list[str]:
    kept = failed_sql or {}
    failed = [
        f"{n.unique_id}: {n.status}: {_shorten(n.message)}"
        + (f" (compiled SQL: {kept[n.unique_id][0]})" if n.unique_id in kept else "")
        for n in invocation.failed
    ]
    if not failed and invocation.error:
        failed = [invocation.error]
    return failed or ["dbt reported failure without a failing node; see the run's dbt log"]


def _event_facts(con: duckdb.DuckDBPyConnection, models: list[dict[str, Any]]) -> Any:
    for m in models:
        if m["name"] == EVENT_FACTS:
            relation = f"{quote_identifier(m['schema'])}.{quote_identifier(m['alias'])}"
            return con.sql(f"SELECT * FROM {relation}").to_arrow_table()
    return None


def _shorten(message: str | None, width: int = 160) -> str:
    flat = " ".join(str(message or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
