"""Events index: set-based upsert/resolve versus a row-by-row ORM loop (the baseline)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import select

from bench._report import Figure, timed
from lakehouse.dal import DataAccessLayer
from lakehouse.db.migrate import upgrade
from lakehouse.db.models import EventIndex
from lakehouse.db.records import DetectedEvent
from lakehouse.db.types import utcnow


def _events(n: int, generation: int) -> list[DetectedEvent]:
    return [
        DetectedEvent(
            event_id=f"acme:overdue_invoice:INV-{i:07d}",
            company="acme",
            event_type="overdue_invoice",
            entity_type="invoice",
            entity_id=f"INV-{i:07d}",
            severity="high",
            details={"balance": i % 997, "generation": generation},
        )
        for i in range(n)
    ]


def _row_by_row(dal: DataAccessLayer, events: list[DetectedEvent]) -> None:
    """The baseline: what an ORM loop does, one SELECT and one INSERT/UPDATE per event."""
    with dal._session() as session:
        now = utcnow()
        for e in events:
            row = session.scalars(select(EventIndex).where(EventIndex.event_id == e.event_id)).first()
            if row is None:
                session.add(
                    EventIndex(
                        event_id=e.event_id,
                        company=e.company,
                        event_type=e.event_type,
                        entity_type=e.entity_type,
                        entity_id=e.entity_id,
                        severity=e.severity,
                        status="active",
                        first_seen_at=now,
                        last_seen_at=now,
                        details_json=e.details,
                    )
                )
            else:
                row.last_seen_at = now
                row.details_json = e.details
                row.status = "active"
            session.flush()


def run(url: str, label: str, n: int = 20_000) -> list[Figure]:
    upgrade(url, "head")
    dal = DataAccessLayer.from_url(url)
    try:
        with dal._engine.begin() as conn:
            conn.execute(EventIndex.__table__.delete())
        _, baseline = timed(lambda: _row_by_row(dal, _events(n, 1)))
        with dal._engine.begin() as conn:
            conn.execute(EventIndex.__table__.delete())
        _, insert_s = timed(lambda: dal.upsert_events_index(_events(n, 1)))
        _, update_s = timed(lambda: dal.upsert_events_index(_events(n, 2)))
        current = [f"acme:overdue_invoice:INV-{i:07d}" for i in range(0, 1_000_000, 2)]
        current += [f"acme:other:{i}" for i in range(500_000)]
        _, resolve_s = timed(lambda: dal.resolve_missing_events(current, "overdue_invoice", "acme"))
        return [
            Figure(f"[{label}] upsert {n:,} new events", insert_s, n, baseline),
            Figure(f"[{label}] upsert {n:,} known events", update_s, n),
            Figure(f"[{label}] resolve with 1,000,000 current ids", resolve_s, 1_000_000),
        ]
    finally:
        dal.close()


def sqlite_url() -> tuple[str, tempfile.TemporaryDirectory[str]]:
    tmp = tempfile.TemporaryDirectory(prefix="lakehouse-bench-")
    return f"sqlite:///{Path(tmp.name) / 'bench.db'}", tmp
