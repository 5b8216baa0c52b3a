"""Events lifecycle: detected events (gold ``event_facts``) -> ``events_index`` through the DAL."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import DetectedEvent

logger = logging.getLogger(__name__)


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
