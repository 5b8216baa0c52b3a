"""The events index: set-based upserts and resolution of events that were not seen again."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, MetaData, Table, Text, Uuid, case, exists, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from lakehouse.db.models import EventIndex, table_of
from lakehouse.db.records import DetectedEvent, EventRecord
from lakehouse.db.repos._upsert import dialect_insert
from lakehouse.db.repos._upsert import rowcount as _rowcount
from lakehouse.db.types import utcnow

#: Rows per INSERT statement: 12 parameters a row stays far below SQLite's and PostgreSQL's limits.
UPSERT_BATCH = 1000
#: Ids per executemany batch when staging ids on SQLite.
STAGE_BATCH = 50_000

_staging_metadata = MetaData()
_current_ids = Table(
    "_lh_current_event_ids",
    _staging_metadata,
    Column("event_id", Text, primary_key=True),
    prefixes=["TEMPORARY"],
)
#: The columns an upsert writes, in COPY order.
_UPSERT_COLUMNS = (
    "id",
    "event_id",
    "company",
    "event_type",
    "entity_type",
    "entity_id",
    "severity",
    "status",
    "first_seen_at",
    "last_seen_at",
    "source_file",
    "details_json",
)
#: PostgreSQL: the events of one upsert, COPYed in, then merged by one INSERT ... SELECT.
_staged_events = Table(
    "_lh_staged_events",
    _staging_metadata,
    Column("id", Uuid),
    Column("event_id", Text, primary_key=True),
    Column("company", Text),
    Column("event_type", Text),
    Column("entity_type", Text),
    Column("entity_id", Text),
    Column("severity", Text),
    Column("status", Text),
    Column("first_seen_at", DateTime(timezone=True)),
    Column("last_seen_at", DateTime(timezone=True)),
    Column("source_file", Text),
    Column("details_json", postgresql.JSONB),
    prefixes=["TEMPORARY"],
)


def _to_event(row: EventIndex) -> EventRecord:
    return EventRecord(
        event_id=row.event_id,
        company=row.company,
        event_type=row.event_type,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        severity=row.severity,
        status=row.status,
        first_seen_at=row.first_seen_at,
        last_seen_at=row.last_seen_at,
        source_file=row.source_file,
        details=dict(row.details_json or {}),
    )


def _batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SqlEventRepo:
    """Queries over ``events_index``."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def upsert_events_index(self, events: Sequence[DetectedEvent], now: datetime | None = None) -> int:
        """Insert new events as active and refresh known ones, one statement per batch.

        A known event keeps ``first_seen_at``, moves ``last_seen_at``, takes the new severity,
        details and source, and becomes active again if it had been resolved (archived stays archived).

        Returns:
            The number of events written.
        """
        seen_at = now or utcnow()
        table = table_of(EventIndex)
        latest: dict[str, DetectedEvent] = {e.event_id: e for e in events}  # last report of an id wins
        rows = [
            {
                "id": uuid.uuid4(),
                "event_id": e.event_id,
                "company": e.company,
                "event_type": e.event_type,
                "entity_type": e.entity_type,
                "entity_id": e.entity_id,
                "severity": e.severity,
                "status": "active",
                "first_seen_at": seen_at,
                "last_seen_at": seen_at,
                "source_file": e.source_file,
                "details_json": e.details,
            }
            for e in latest.values()
        ]
        insert = dialect_insert(self._session, table)
        excluded = insert.excluded
        set_ = {
            "severity": excluded.severity,
            "entity_type": excluded.entity_type,
            "entity_id": excluded.entity_id,
            "last_seen_at": excluded.last_seen_at,
            "source_file": excluded.source_file,
            "details_json": excluded.details_json,
            "status": case((table.c.status == "archived", "archived"), else_="active"),
        }
        if self._session.connection().dialect.name == "postgresql":
            self._copy_upsert(rows, set_)
            return len(rows)
        stmt = insert.on_conflict_do_update(index_elements=[table.c.event_id], set_=set_).returning(
            table.c.event_id
        )
        # One statement compiled once; with RETURNING, SQLAlchemy's "insertmanyvalues" sends it as
        # one multi-row INSERT ... ON CONFLICT per batch of UPSERT_BATCH rows on both dialects.
        for batch in _batches(rows, UPSERT_BATCH):
            self._session.execute(
                stmt.execution_options(insertmanyvalues_page_size=UPSERT_BATCH), list(batch)
            ).all()
        return len(rows)

    def _copy_upsert(self, rows: Sequence[dict[str, Any]], set_: dict[str, Any]) -> None:
        """PostgreSQL: COPY the rows into a temporary table, then one ``INSERT ... SELECT ... ON
        CONFLICT DO UPDATE`` (a bulk load and one statement, instead of a statement per batch)."""
        connection = self._session.connection()
        _staged_events.drop(connection, checkfirst=True)
        _staged_events.create(connection)
        try:
            raw = connection.connection.driver_connection
            columns = ", ".join(_UPSERT_COLUMNS)
            with raw.cursor() as cursor:  # type: ignore[union-attr]
                with cursor.copy(f"COPY _lh_staged_events ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(
                            [json.dumps(row[c]) if c == "details_json" else row[c] for c in _UPSERT_COLUMNS]
                        )
            table = table_of(EventIndex)
            insert = postgresql.insert(table).from_select(
                list(_UPSERT_COLUMNS), select(*(_staged_events.c[c] for c in _UPSERT_COLUMNS))
            )
            connection.execute(insert.on_conflict_do_update(index_elements=[table.c.event_id], set_=set_))
        finally:
            _staged_events.drop(connection, checkfirst=True)

    def resolve_missing_events(self, current_event_ids: Iterable[str], event_type: str, company: str) -> int:
        """Resolve every active event of ``event_type`` and ``company`` whose id is not current.

        The current ids are staged in a temporary table (COPY on PostgreSQL), so a million ids cost
        one bulk load and one UPDATE, never a statement with a million parameters.

        Returns:
            How many events were resolved.
        """
        ids = sorted(set(current_event_ids))
        connection = self._session.connection()
        _current_ids.drop(connection, checkfirst=True)
        _current_ids.create(connection)
        try:
            if connection.dialect.name == "postgresql":
                raw = connection.connection.driver_connection
                with raw.cursor() as cursor:  # type: ignore[union-attr]
                    with cursor.copy("COPY _lh_current_event_ids (event_id) FROM STDIN") as copy:
                        for event_id in ids:
                            copy.write_row((event_id,))
            else:
                for batch in _batches(ids, STAGE_BATCH):
                    connection.execute(_current_ids.insert(), [{"event_id": i} for i in batch])
            table = table_of(EventIndex)
            still_current = exists(
                select(_current_ids.c.event_id).where(_current_ids.c.event_id == table.c.event_id)
            )
            result = connection.execute(
                update(table)
                .where(
                    table.c.company == company,
                    table.c.event_type == event_type,
                    table.c.status == "active",
                    ~still_current,
                )
                .values(status="resolved")
            )
            return _rowcount(result)
        finally:
            _current_ids.drop(connection, checkfirst=True)

    def list_events(
        self,
        company: str,
        status: str | None = None,
        event_type: str | None = None,
        limit: int | None = None,
    ) -> list[EventRecord]:
        query = select(EventIndex).where(EventIndex.company == company)
        if status is not None:
            query = query.where(EventIndex.status == status)
        if event_type is not None:
            query = query.where(EventIndex.event_type == event_type)
        query = query.order_by(EventIndex.event_type, EventIndex.first_seen_at, EventIndex.event_id)
        if limit is not None:
            query = query.limit(limit)
        return [_to_event(r) for r in self._session.scalars(query)]

    def count_by_type(self, company: str, status: str = "active") -> dict[str, int]:
        from sqlalchemy import func

        rows = self._session.execute(
            select(EventIndex.event_type, func.count())
            .where(EventIndex.company == company, EventIndex.status == status)
            .group_by(EventIndex.event_type)
            .order_by(EventIndex.event_type)
        )
        return {str(t): int(n) for t, n in rows}
