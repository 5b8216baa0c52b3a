"""Notification delivery receipts."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakehouse.db.models import Notification
from lakehouse.db.records import NotificationRecord, NotificationSpec
from lakehouse.db.types import utcnow


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
        )
        self._session.add(row)
        self._session.flush()
        return _to_record(row)

    def list_notifications(self, task_id: str) -> list[NotificationRecord]:
        rows = self._session.scalars(
            select(Notification).where(Notification.task_id == task_id).order_by(Notification.sent_at)
        )
        return [_to_record(r) for r in rows]
