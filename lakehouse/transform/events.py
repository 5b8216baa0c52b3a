"""Events lifecycle: detected events (gold ``event_facts``) -> ``events_index`` through the DAL."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from lakehouse.config.models import LakehouseConfig
from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.manifest import run_manifest
from lakehouse.dataplane.pipeline_run import PipelineRun
from lakehouse.dataplane.store import DatasetStore
from lakehouse.db.records import DetectedEvent

logger = logging.getLogger(__name__)

#: The gold dataset of detected events (the dbt model ``event_facts``).
EVENT_FACTS = "event_facts"


def events_from_facts(table: pa.Table, source: str) -> list[DetectedEvent]:
    """Turn ``event_facts`` rows into events; ``details`` (a JSON text) becomes ``details_json``."""
    events = []
    for row in table.to_pylist():
        details: Any = row.get("details")
        if isinstance(details, str):
            details = json.loads(details) if details else {}
        details = dict(details or {})
        if row.get("customer_id") is not None:
            details.setdefault("customer_id", row["customer_id"])
        if row.get("as_of_date") is not None:
            details.setdefault("as_of_date", str(row["as_of_date"]))
        events.append(
            DetectedEvent(
                event_id=str(row["event_id"]),
                company=str(row["company"]),
                event_type=str(row["event_type"]),
                entity_type=str(row["entity_type"]),
                entity_id=str(row["entity_id"]),
                severity=str(row["severity"]),
                details=details,
                source_file=source,
            )
        )
    return events


def sync_events(
    dal: DataAccessLayer,
    company: str,
    events: list[DetectedEvent],
    evaluated_types: Iterable[str],
    run_id: str,
) -> dict[str, dict[str, int]]:
    """Upsert ``events`` and resolve those of each evaluated type that were not detected again.

    Returns:
        Per event type: how many were detected and how many were resolved.
    """
    dal.upsert_events_index(events, run_id=run_id)
    summary: dict[str, dict[str, int]] = {}
    for event_type in sorted(set(evaluated_types)):
        current = [e.event_id for e in events if e.event_type == event_type]
        resolved = dal.resolve_missing_events(current, event_type, company)
        summary[event_type] = {"detected": len(current), "resolved": resolved}
    logger.info("events of %s: %s", company, summary)
    return summary


def refresh_events(
    store: DatasetStore,
    config: LakehouseConfig,
    company: str,
    *,
    wait_seconds: float = 0.0,
    run_id: str | None = None,
) -> tuple[str, dict[str, dict[str, int]]]:
    """Sync ``events_index`` again from the current gold ``event_facts`` (an ``events_refresh`` run
    under the company's build lock): events it lists are upserted, the others of each enabled rule
    resolved, as a build does.

    Returns:
        The run id and, per event type, how many were detected and resolved.

    Raises:
        DatasetNotFoundError: no build has published ``event_facts`` yet (run ``lakehouse build``).
        LockBusyError: a build of the company holds the lock after ``wait_seconds``.
    """
    with PipelineRun(
        store, company, "events_refresh", lock=f"build:{company}", wait_seconds=wait_seconds, run_id=run_id
    ) as run:
        version = store.resolve_version(company, "gold", EVENT_FACTS)
        source = {"zone": "gold", "dataset": EVENT_FACTS, "version": version.version_tag}
        rid = run.start(stage="gold", inputs={"sources": [source]})
        facts = store.read_dataset(company, "gold", EVENT_FACTS, version.version_tag)
        evaluated = [r.event_type for r in config.events if r.enabled]
        with store.dal.transaction():
            summary = sync_events(store.dal, company, events_from_facts(facts, f"run:{rid}"), evaluated, rid)
            run.finish(
                run_manifest(
                    run_id=rid,
                    company=company,
                    pipeline="events_refresh",
                    inputs=[source],
                    outputs=[],
                    events=summary,
                )
            )
        return rid, summary
