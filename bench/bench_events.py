"""Events index: the set-based ``upsert_events_index`` + ``resolve_missing_events`` versus a bulk
load of the same rows (COPY on PostgreSQL, ``executemany`` on SQLite), and versus a row-by-row ORM
loop (one SELECT and one INSERT/UPDATE per event) on a smaller number of events, per event.

PostgreSQL runs only when ``LAKEHOUSE_BENCH_PG_URL`` names a scratch database (its
``events_index`` is emptied); SQLite always runs, on fewer events.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import delete, select

from bench import data
from bench._report import Figure, Target, alternate, log
from lakehouse.dal import DataAccessLayer
from lakehouse.db.migrate import upgrade
from lakehouse.db.models import EventIndex
from lakehouse.db.records import DetectedEvent
from lakehouse.db.types import utcnow

MILLION = Target("seconds_max", 15.0)
VS_ROW_BY_ROW = Target("speedup_min", 20.0)
_COLUMNS = (
    "id, event_id, company, event_type, entity_type, entity_id, severity, status, "
    "first_seen_at, last_seen_at, source_file, details_json"
)


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


def _bulk_load(dal: DataAccessLayer, events: list[DetectedEvent]) -> None:
    """The baseline: the same rows loaded as they are (COPY on PostgreSQL), no upsert, no resolve."""
    now = utcnow()
    rows = [
        (
            uuid.uuid4(),
            e.event_id,
            e.company,
            e.event_type,
            e.entity_type,
            e.entity_id,
            e.severity,
            "active",
            now,
            now,
            e.source_file,
            json.dumps(e.details),
        )
        for e in events
    ]
    with dal._engine.begin() as conn:
        raw = conn.connection.driver_connection
        if conn.dialect.name == "postgresql":
            with raw.cursor() as cursor:  # type: ignore[union-attr]
                with cursor.copy(f"COPY events_index ({_COLUMNS}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        else:
            marks = ", ".join("?" * 12)
            cursor = raw.cursor()  # type: ignore[union-attr]
            cursor.executemany(
                f"INSERT INTO events_index ({_COLUMNS}) VALUES ({marks})",
                [(r[0].hex, *r[1:8], r[8].isoformat(), r[9].isoformat(), *r[10:]) for r in rows],
            )


def _clear(dal: DataAccessLayer) -> None:
    with dal._engine.begin() as conn:
        conn.execute(delete(EventIndex))


def measure(url: str, label: str, n: int, row_by_row_n: int, repeat: int) -> list[Figure]:
    upgrade(url, "head")
    dal = DataAccessLayer.from_url(url)
    try:
        events = _events(n, 1)
        # half the ids stay current: resolve marks the other half resolved
        current = [e.event_id for e in events[::2]]
        upserts: list[float] = []

        def project() -> None:
            from bench._report import timed

            _, seconds = timed(lambda: dal.upsert_events_index(events))
            upserts.append(seconds)
            dal.resolve_missing_events(current, "overdue_invoice", "acme")

        log(f"events [{label}]: {n:,} upserted + resolved vs a bulk load, {repeat} time(s)")
        p, b = alternate(project, lambda: _bulk_load(dal, events), repeat, before=lambda: _clear(dal))
        small = _events(row_by_row_n, 1)
        log(f"events [{label}]: row-by-row ORM loop of {row_by_row_n:,}")
        rbr, _ = alternate(lambda: _row_by_row(dal, small), None, 1, before=lambda: _clear(dal))
        _clear(dal)
        return [
            Figure(
                "events",
                f"[{label}] upsert+resolve {n:,} events",
                "COPY" if label == "postgresql" else "executemany INSERT",
                p,
                b,
                # 15 s for a million; prorated for fewer (BENCH_FULL=1 or BENCH_EVENTS=1000000 runs the million)
                Target("seconds_max", MILLION.value * n / 1_000_000),
                unit="events",
                items=n,
            ),
            Figure(
                "events_vs_row_by_row",
                f"[{label}] upsert {n:,} events, per event",
                f"row-by-row ORM loop of {row_by_row_n:,}",
                upserts,
                rbr,
                VS_ROW_BY_ROW,
                unit="events",
                items=n,
                baseline_items=row_by_row_n,
            ),
        ]
    finally:
        dal.close()


def run(settings: data.Settings) -> list[Figure]:
    figures = []
    with tempfile.TemporaryDirectory(prefix="lakehouse-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        sqlite_n = min(settings.events_n, 100_000)
        figures += measure(url, "sqlite", sqlite_n, min(settings.row_by_row_n, 2_000), settings.repeat)
    if settings.pg_url:
        figures += measure(
            settings.pg_url, "postgresql", settings.events_n, settings.row_by_row_n, settings.repeat
        )
    else:
        log("events: PostgreSQL skipped (set LAKEHOUSE_BENCH_PG_URL to a scratch database)")
    return figures
