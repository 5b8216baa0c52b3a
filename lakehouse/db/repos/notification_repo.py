"""Notification delivery receipts: one row per (channel, idempotency key), updated by each retry."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lakehouse.db.models import Notification, table_of
from lakehouse.db.records import NotificationRecord, NotificationSpec
from lakehouse.db.types import utcnow
from lakehouse.errors import NotFoundError


def _to_record(row: Notification) -> NotificationRecord:
    return NotificationRecord(
        id=row.id,
        task_id=row.task_id,
        channel=row.channel,
        target=row.target,
        message_type=row.message_type,
        status=row.status,
        payload=dict(row.payload_json or {}),
        provider_message_id=row.provider_message_id,
        sent_at=row.sent_at,
        idempotency_key=row.idempotency_key,
        attempts=row.attempts,
        error=row.error,
    )


class SqlNotificationRepo:
    """Queries over ``notifications``."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def record_notification(self, spec: NotificationSpec) -> NotificationRecord:
        row = Notification(
            task_id=spec.task_id,
            channel=spec.channel,
            target=spec.target,
            message_type=spec.message_type,
            payload_json=dict(spec.payload),
            sent_at=utcnow(),
            status=spec.status,
            provider_message_id=spec.provider_message_id,
            idempotency_key=spec.idempotency_key,
            attempts=spec.attempts,
            error=spec.error,
        )
        self._session.add(row)
        self._session.flush()
        return _to_record(row)

    def list_notifications(
        self,
        task_id: str | None = None,
        status: str | None = None,
        channel: str | None = None,
        limit: int | None = None,
    ) -> list[NotificationRecord]:
        query = select(Notification).order_by(Notification.sent_at, Notification.id)
        if task_id is not None:
            query = query.where(Notification.task_id == task_id)
        if status is not None:
            query = query.where(Notification.status == status)
        if channel is not None:
            query = query.where(Notification.channel == channel)
        if limit is not None:
            query = query.limit(limit)
        return [_to_record(r) for r in self._session.scalars(query)]

    def get(self, notification_id: uuid.UUID) -> NotificationRecord:
        row = self._session.get(Notification, notification_id)
        if row is None:
            raise NotFoundError("notification", str(notification_id))
        return _to_record(row)

    def find_by_key(self, channel: str, idempotency_key: str) -> NotificationRecord | None:
        """The receipt of ``idempotency_key`` on ``channel`` (a sent one first), or None."""
        row = self._session.scalars(
            select(Notification)
            .where(Notification.channel == channel, Notification.idempotency_key == idempotency_key)
            .order_by(Notification.status.desc(), Notification.sent_at)  # 'sent' > 'failed'
            .limit(1)
        ).first()
        return None if row is None else _to_record(row)

    def notified_tasks(self, task_id_prefix: str, channels: Sequence[str]) -> set[tuple[str, str]]:
        """``(task_id, channel)`` of every receipt whose task id starts with ``task_id_prefix``."""
        if not channels:
            return set()
        rows = self._session.execute(
            select(Notification.task_id, Notification.channel)
            .where(
                Notification.task_id.startswith(task_id_prefix, autoescape=True),
                Notification.channel.in_(list(channels)),
            )
            .distinct()
        )
        return {(str(t), str(c)) for t, c in rows}

    def update_attempt(
        self,
        notification_id: uuid.UUID,
        status: str,
        attempts: int,
        error: str | None,
        provider_message_id: str | None,
    ) -> NotificationRecord:
        """Record another attempt of a receipt: its outcome, request count and time."""
        values: dict[str, Any] = {
            "status": status,
            "attempts": attempts,
            "error": error,
            "sent_at": utcnow(),
        }
        if provider_message_id is not None:
            values["provider_message_id"] = provider_message_id
        table = table_of(Notification)
        result = self._session.execute(
            update(table).where(table.c.id == notification_id).values(**values).returning(table.c.id)
        )
        if result.first() is None:
            raise NotFoundError("notification", str(notification_id))
        self._session.expire_all()
        return self.get(notification_id)
