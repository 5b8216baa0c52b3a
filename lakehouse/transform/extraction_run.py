"""The extraction pipeline run (``lakehouse extract``, pipeline ``transcript_pipeline``).

The matcher itself (fields out of transcript text) is :mod:`lakehouse.transform.extraction`; this
module runs it as a pipeline run: read, extract, publish gold profile datasets.

Each ``config/extraction/*.json`` reads the current silver version of its source dataset, extracts its
fields from the text column, and publishes ``gold/dataset=<output_dataset>`` (one row per entity with
each field's latest value and the call it came from) as a new dataset version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

from lakehouse.config import LakehouseConfig
from lakehouse.config.models import ExtractionConfig
from lakehouse.dataplane import duck
from lakehouse.dataplane.manifest import run_manifest
from lakehouse.dataplane.pipeline_run import PipelineRun
from lakehouse.dataplane.schemas import Column, DatasetSchema, schema_to_json
from lakehouse.dataplane.store import DatasetStore, StagedVersion, version_summary
from lakehouse.db.records import DatasetVersionRecord
from lakehouse.names import validate_slug
from lakehouse.transform.extraction import build_profiles

logger = logging.getLogger(__name__)

PROFILE_SCHEMA_VERSION = "1"


@dataclass
class ExtractResult:
    run_id: str | None
    versions: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _version_as_of(store: DatasetStore, version: DatasetVersionRecord) -> date:
    if version.as_of is not None:
        return version.as_of
    days = [date.fromisoformat(e.dt) for e in store.version_entries(version) if e.dt]
    return max(days) if days else version.created_at.date()


def run_extraction(
    store: DatasetStore,
    config: LakehouseConfig,
    company: str,
    as_of: date | None = None,
    *,
    lock: bool = False,
    wait_seconds: float = 0.0,
    on_wait: Callable[[str], None] | None = None,
    run_id: str | None = None,
) -> ExtractResult:
    """Run every extraction config of ``config`` for ``company`` as one ``transcript_pipeline`` run.

    Each reads the current silver version of its source (or, with ``as_of``, the one current as of
    that date) and publishes its profiles with that version's as-of date.

    Args:
        lock: take the company's build lock for the run (``lakehouse extract``); a build calls this
            under its own lock.
        wait_seconds: with ``lock``, how long to wait for a build that holds it.
        on_wait: with ``lock``, told who holds it when the wait starts.
        run_id: the run's id (default: a new one), e.g. the scheduler run that starts it.

    Raises:
        DatasetNotFoundError: the source silver dataset was never built (run ``lakehouse build``).
        LockBusyError: with ``lock``, a build of the company holds it.
    """
    validate_slug("company", company)
    result = ExtractResult(run_id=None)
    if not config.extraction:
        result.skipped.append("no config/extraction/*.json")
        return result
    with PipelineRun(
        store,
        company,
        "transcript_pipeline",
        lock=f"build:{company}" if lock else None,
        wait_seconds=wait_seconds,
        on_wait=on_wait,
        run_id=run_id,
    ) as run:
        # Under the lock (if any): the sources are the versions current when the run starts.
        sources = []
        read: dict[str, DatasetVersionRecord] = {}
        for cfg in config.extraction:
            version = store.resolve_version(company, "silver", cfg.source.dataset, as_of)
            read[cfg.name] = version
            sources.append(
                {
                    "extraction": cfg.name,
                    "zone": "silver",
                    "dataset": cfg.source.dataset,
                    "version": version.version_tag,
                    "as_of": _version_as_of(store, version).isoformat(),
                    "checksum": version.checksum,
                }
            )
        result.run_id = run.start(stage="gold", inputs={"sources": sources})
        with duck.connect() as con:
            for cfg in config.extraction:
                run.stage(_extract_one(store, con, company, run.run_id, cfg, read[cfg.name]))
        records = run.publish()
        result.versions = version_summary(records)
        run.finish(
            run_manifest(
                run_id=run.run_id,
                company=company,
                pipeline="transcript_pipeline",
                inputs=sources,
                outputs=[v.as_output() for v in run.staged],
            )
        )
        return result


def _extract_one(
    store: DatasetStore,
    con: duckdb.DuckDBPyConnection,
    company: str,
    run_id: str,
    cfg: ExtractionConfig,
    source: DatasetVersionRecord,
) -> StagedVersion:
    calls = store.read_dataset(company, "silver", cfg.source.dataset, source.version_tag)
    as_of = _version_as_of(store, source)
    profiles = build_profiles(calls, cfg)
    schema = schema_to_json(
        DatasetSchema(
            name=cfg.output_dataset,
            version=PROFILE_SCHEMA_VERSION,
            columns=tuple(Column(f.name, str(f.type), nullable=True) for f in profiles.schema),
            primary_key=cfg.source.entity_column,
        )
    )
    version = StagedVersion(
        company=company,
        zone="gold",
        dataset=cfg.output_dataset,
        run_id=run_id,
        schema_version=PROFILE_SCHEMA_VERSION,
        schema=schema,
        extra={"extraction": cfg.name, "calls_analyzed": calls.num_rows},
        as_of=as_of,
        key_column=cfg.source.entity_column,
    )
    store.write_file(con, version, profiles, as_of)
    logger.info(
        "%s: %d profile row(s) from %d call(s)", cfg.output_dataset, profiles.num_rows, calls.num_rows
    )
    return version
