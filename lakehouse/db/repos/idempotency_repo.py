"""Idempotency keys: claim a key atomically so a side effect runs once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from lakehouse.db.models import IdempotencyKey, table_of
from lakehouse.db.repos._upsert import dialect_insert


class SqlIdempotencyRepo:
    """Queries over ``idempotency_keys``."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def claim(
        self, key: str, scope: str, run_id: str | None, now: datetime, expires_at: datetime | None
    ) -> bool:
        """Claim ``key``; True for the one caller that got it.

        ``INSERT ... ON CONFLICT DO NOTHING`` decides between concurrent first claims; a key whose
        claim has expired is taken over with a conditional UPDATE, so again only one caller wins.
        """
        table = table_of(IdempotencyKey)
        stmt = (
            dialect_insert(self._session, table)
            .values(key=key, scope=scope, run_id=run_id, created_at=now, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=[table.c.key])
            .returning(table.c.key)
        )
        # RETURNING, not rowcount: psycopg reports -1 for a conflicting INSERT ... DO NOTHING.
        if self._session.execute(stmt).first() is not None:
            return True
        takeover = self._session.execute(
            update(table)
            .where(table.c.key == key, table.c.expires_at.is_not(None), table.c.expires_at <= now)
            .values(scope=scope, run_id=run_id, created_at=now, expires_at=expires_at)
            .returning(table.c.key)
        )
        return takeover.first() is not None

    def release(self, key: str, run_id: str | None) -> None:
        """Drop a claim (after the side effect failed), so a later caller may try again."""
        table = table_of(IdempotencyKey)
        cond = table.c.key == key
        if run_id is not None:  # only the holder's own claim
            cond = cond & (table.c.run_id == run_id)
        self._session.execute(delete(table).where(cond))

    def renew(self, key: str, run_id: str, expires_at: datetime) -> bool:
        """Move the expiry of ``run_id``'s own claim of ``key``; False if it no longer holds it."""
        table = table_of(IdempotencyKey)
        result = self._session.execute(
            update(table)
            .where(table.c.key == key, table.c.run_id == run_id)
            .values(expires_at=expires_at)
            .returning(table.c.key)
        )
        return result.first() is not None

    def holder(self, key: str, now: datetime) -> str | None:
        """The run_id holding an unexpired claim of ``key`` ("" if it has none), or None if unclaimed."""
        table = table_of(IdempotencyKey)
        row = self._session.execute(
            select(table.c.run_id, table.c.expires_at).where(table.c.key == key)
        ).first()
        if row is None or (row.expires_at is not None and row.expires_at <= now):
            return None
        return str(row.run_id or "")
