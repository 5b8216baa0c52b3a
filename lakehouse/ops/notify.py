"""Notifications with exactly-once intent: ready review gates, failures, new events.

A :class:`Message` has a key, ``<task_id>:<message_type>:<dedupe>``. For each channel that takes it,
:meth:`Notifier.send` follows one protocol, whoever calls it and however often:

1. **Claim** the key in ``idempotency_keys`` (scope ``notify:<channel>``) with a lease of
   ``SendPolicy.claim_ttl``. Only one caller gets it; every other one sends nothing and returns no receipt.
2. **Send** the payload with an ``Idempotency-Key`` header: a digest of the channel and the key, the same
   on every attempt ever made for this message on this channel.
3. **Record** the receipt in ``notifications`` (status ``sent`` or ``failed``, requests made as
   ``attempts``, the error, the receiver's message id, the payload) and make the claim permanent, in one
   transaction, only if this caller still holds its claim.

A caller that crashes between 1 and 3 leaves a claim that expires: the next send after the expiry claims
the key again and sends again with the same Idempotency-Key, so a receiver that honours the key
delivers once (the file channel honours it itself). A failed notification keeps its claim: it is sent
again only by :meth:`Notifier.retry_failed` (``lakehouse notify retry``, or the scheduler's
``notify_retry`` task), which updates the same receipt (one receipt per channel and key: ``attempts``
counts every request, retries included) and sends the stored payload with the same key, each retry
under a claim of its own (scope ``notify-retry:<channel>``) so that concurrent retries send once.

Fault hook (tests only): with ``LAKEHOUSE_FAULT_NOTIFY=after_send`` the process SIGKILLs itself right
after a send, before its receipt is recorded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse.config.loader import notification_warnings
from lakehouse.config.models import LakehouseConfig, NotificationsConfig
from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import EventRecord, MessageType, NotificationRecord, NotificationSpec
from lakehouse.ops.channels import Channel, Delivery, JsonlFileChannel, SendPolicy, WebhookChannel

logger = logging.getLogger(__name__)

FAULT_ENV = "LAKEHOUSE_FAULT_NOTIFY"
"""Test hook: ``after_send`` kills the process after a send, before its receipt is recorded."""
EVENT_TASK_PREFIX = "event:"


def _fault(point: str) -> None:
    if os.environ.get(FAULT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class Message:
    """One notification, distinct per (task, type, dedupe) whatever sends it and how often."""

    task_id: str
    """A review gate's task id, ``event:<event_id>``, or ``scheduler:<task_key>``."""
    message_type: MessageType
    dedupe: str
    """What makes this message distinct for the task, e.g. ``<head_commit>:ready``."""
    text: str
    """One human-readable line (the Slack ``text``)."""
    details: dict[str, Any] = field(default_factory=dict)
    """JSON-serialisable facts; a ``severity`` is filtered on by the channels' ``min_severity``."""

    @property
    def key(self) -> str:
        return f"{self.task_id}:{self.message_type}:{self.dedupe}"


def idempotency_key_for(channel: str, message_key: str) -> str:
    """The ``Idempotency-Key`` of a message on a channel: stable, header-safe, one per (channel, key)."""
    return hashlib.sha256(f"{channel}\n{message_key}".encode()).hexdigest()


@dataclass(frozen=True)
class RetryReport:
    """What :meth:`Notifier.retry_failed` did."""

    delivered: tuple[NotificationRecord, ...] = ()
    failed: tuple[NotificationRecord, ...] = ()
    """Sent again and failed again (their receipts, updated)."""
    exhausted: int = 0
    """Failed receipts left alone: ``attempts`` reached ``max_attempts``."""
    skipped: tuple[str, ...] = ()
    """Failed receipts not sent again, and why (channel not sending, retried by another caller)."""

    def __str__(self) -> str:
        tried = len(self.delivered) + len(self.failed)
        text = f"{tried} failed notification(s) sent again: {len(self.delivered)} delivered, {len(self.failed)} failed again"
        if self.exhausted:
            text += f"; {self.exhausted} past --max-attempts"
        if self.skipped:
            text += f"; {len(self.skipped)} skipped"
        return text


class Notifier:
    """Sends messages to the configured channels, each message once per channel (see the module doc).

    Build it with :meth:`from_config`. ``warnings`` lists the channels skipped and the deliveries that
    failed, for the caller to show.
    """

    def __init__(
        self,
        dal: DataAccessLayer,
        channels: tuple[Channel, ...],
        policy: SendPolicy | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self._dal = dal
        self.channels = channels
        self.policy = policy or SendPolicy()
        self.warnings: list[str] = list(warnings or [])

    @classmethod
    def from_config(
        cls,
        dal: DataAccessLayer,
        config: LakehouseConfig,
        data_root: Path,
        env: Mapping[str, str] | None = None,
        policy: SendPolicy | None = None,
    ) -> Notifier:
        """The notifier of ``config.global_.notifications``.

        Args:
            data_root: what a relative file-channel path is relative to (the data root folder).
            env: where the webhook URL's variable is read (default: ``os.environ``).
            policy: timeouts, retries and claim lease (default: :class:`SendPolicy`).

        An enabled channel that cannot send (its variable unset, email) is skipped with a warning.
        """
        policy = policy or SendPolicy()
        environ = os.environ if env is None else env
        notifications = config.global_.notifications
        warnings = [f"{loc}: {msg}" for loc, msg in notification_warnings(notifications, environ)]
        channels = _channels(notifications, data_root, environ, policy, warnings)
        for warning in warnings:
            logger.warning("%s", warning)
        return cls(dal, channels, policy, warnings)

    # --- sending -----------------------------------------------------------------------------------

    def send(self, message: Message) -> list[NotificationRecord]:
        """Send ``message`` to every channel that takes it and has not had it yet.

        Returns:
            The receipts written by this call, sent or failed; none for a channel where the message
            was sent (or is being sent) by another call.

        Raises:
            ControlPlaneError: the claim or the receipt could not be written (the claim is released).
        """
        receipts: list[NotificationRecord] = []
        for channel in self.channels:
            if channel.accepts(message):
                receipt = self._send_on(channel, message)
                if receipt is not None:
                    receipts.append(receipt)
        return receipts

    def _send_on(self, channel: Channel, message: Message) -> NotificationRecord | None:
        scope, key = f"notify:{channel.name}", message.key
        idem = idempotency_key_for(channel.name, key)
        holder = f"notify-{uuid.uuid4().hex}"
        if not self._dal.claim_idempotency_key(scope, key, ttl=self.policy.claim_ttl, run_id=holder):
            logger.debug("notifications.%s: %s sent or being sent by another caller", channel.name, key)
            return None
        try:
            if self._dal.find_notification(channel.name, idem) is not None:
                # Recorded under a claim that expired since (its receipt is the truth): no resend.
                with self._dal.transaction():
                    self._seal(scope, key, holder)
                return None
            payload = channel.payload(message, idem)
            delivery = channel.deliver(payload, idem)
            _fault("after_send")
            spec = NotificationSpec(
                task_id=message.task_id,
                channel=channel.name,
                target=channel.target,
                message_type=message.message_type,
                status="sent" if delivery.ok else "failed",
                payload=payload,
                provider_message_id=delivery.provider_message_id,
                idempotency_key=idem,
                attempts=delivery.attempts,
                error=delivery.error,
            )
            with self._dal.transaction():
                if not self._dal.renew_idempotency_key(scope, key, holder, self.policy.claim_ttl):
                    logger.warning(
                        "notifications.%s: the claim of %s expired during the send; the caller that "
                        "took it over records the receipt (raise SendPolicy.claim_ttl)",
                        channel.name,
                        key,
                    )
                    return None
                receipt = self._dal.record_notification(spec)
                self._seal(scope, key, holder)
        except BaseException:
            self._release_quietly(scope, key, holder)
            raise
        self._note_failure(channel, receipt, delivery)
        return receipt

    def _seal(self, scope: str, key: str, holder: str) -> None:
        """Make ``holder``'s claim permanent (call inside a transaction): the outcome is recorded."""
        self._dal.release_idempotency_key(scope, key, holder)
        self._dal.claim_idempotency_key(scope, key, ttl=None, run_id=holder)

    def _release_quietly(self, scope: str, key: str, holder: str) -> None:
        try:
            self._dal.release_idempotency_key(scope, key, holder)
        except Exception as exc:  # the original error matters more; the claim expires anyway
            logger.warning("cannot release the claim of %s/%s (it expires): %s", scope, key, exc)

    def _note_failure(self, channel: Channel, receipt: NotificationRecord, delivery: Delivery) -> None:
        if not delivery.ok:
            self.warnings.append(
                f"notifications.{channel.name}: {receipt.task_id} ({receipt.message_type}) not delivered: "
                f"{delivery.error}; recorded as failed notification {receipt.id} "
                "(`lakehouse notify retry` sends it again)"
            )

    # --- retrying ----------------------------------------------------------------------------------

    def retry_failed(self, max_attempts: int = 5) -> RetryReport:
        """Send again every failed notification, with its stored payload and the same Idempotency-Key.

        Args:
            max_attempts: leave alone a receipt whose ``attempts`` (requests made so far) reached this.

        Returns:
            What was delivered, what failed again, what was left alone and why.
        """
        by_name = {c.name: c for c in self.channels}
        delivered: list[NotificationRecord] = []
        failed: list[NotificationRecord] = []
        skipped: list[str] = []
        exhausted = 0
        for receipt in self._dal.list_notifications(status="failed"):
            channel = by_name.get(receipt.channel)
            if receipt.attempts >= max_attempts:
                exhausted += 1
            elif channel is None:
                skipped.append(
                    f"{receipt.id}: notifications.{receipt.channel} is not sending (see the warnings)"
                )
            elif receipt.idempotency_key is None:
                skipped.append(f"{receipt.id}: recorded without an idempotency key; not sent again")
            else:
                outcome = self._retry_one(channel, receipt, receipt.idempotency_key, max_attempts)
                if outcome is None:
                    skipped.append(f"{receipt.id}: sent again by another caller")
                else:
                    (delivered if outcome.status == "sent" else failed).append(outcome)
        return RetryReport(tuple(delivered), tuple(failed), exhausted, tuple(skipped))

    def _retry_one(
        self, channel: Channel, receipt: NotificationRecord, idem: str, max_attempts: int
    ) -> NotificationRecord | None:
        scope, holder = f"notify-retry:{channel.name}", f"notify-{uuid.uuid4().hex}"
        if not self._dal.claim_idempotency_key(scope, idem, ttl=self.policy.claim_ttl, run_id=holder):
            return None
        try:
            current = self._dal.get_notification(receipt.id)
            if current.status != "failed" or current.attempts >= max_attempts:
                self._dal.release_idempotency_key(scope, idem, holder)
                return None
            delivery = channel.deliver(current.payload, idem)
            _fault("after_send")
            with self._dal.transaction():
                if not self._dal.renew_idempotency_key(scope, idem, holder, self.policy.claim_ttl):
                    return None
                updated = self._dal.update_notification(
                    current.id,
                    "sent" if delivery.ok else "failed",
                    current.attempts + delivery.attempts,
                    delivery.error,
                    delivery.provider_message_id,
                )
                self._dal.release_idempotency_key(scope, idem, holder)
        except BaseException:
            self._release_quietly(scope, idem, holder)
            raise
        self._note_failure(channel, updated, delivery)
        return updated


def _channels(
    notifications: NotificationsConfig,
    data_root: Path,
    env: Mapping[str, str],
    policy: SendPolicy,
    warnings: list[str],
) -> tuple[Channel, ...]:
    """The channels that can send; a reason for each enabled one that cannot is added to ``warnings``
    (an unset variable and email are there already, from :func:`notification_warnings`)."""
    channels: list[Channel] = []
    slack = notifications.slack
    if slack is not None and slack.enabled:
        url = env.get(slack.url_env, "").strip()
        if url and not url.startswith(("https://", "http://")):
            warnings.append(f"notifications.slack.url_env: {slack.url_env} is not an http(s) URL; not sent")
        elif url:
            channels.append(WebhookChannel("slack", url, slack.channel, slack.min_severity, policy))
    file = notifications.file
    if file is not None and file.enabled:
        path = Path(file.path)
        channels.append(
            JsonlFileChannel(
                "file",
                path if path.is_absolute() else data_root / path,
                file.message_types,
                file.min_severity,
            )
        )
    return tuple(channels)


# --- events ----------------------------------------------------------------------------------------


def event_message(event: EventRecord, config: LakehouseConfig) -> Message:
    """The notification of a new event: ``event:<event_id>``, type ``info``, sent once per channel."""
    rule = config.event_rule(event.event_type)
    company = config.global_.company(event.company)
    who = company.display_name if company is not None else event.company
    what = f": {rule.description}" if rule is not None and rule.description else ""
    return Message(
        task_id=f"{EVENT_TASK_PREFIX}{event.event_id}",
        message_type="info",
        dedupe="new",
        text=f"{who}: new {event.severity} {event.event_type} event on {event.entity_type} {event.entity_id}{what}",
        details={
            "event_id": event.event_id,
            "company": event.company,
            "event_type": event.event_type,
            "entity_type": event.entity_type,
            "entity_id": event.entity_id,
            "severity": event.severity,
            "first_seen_at": event.first_seen_at.isoformat(),
            "details": event.details,
        },
    )


def notify_new_events(dal: DataAccessLayer, notifier: Notifier, config: LakehouseConfig, company: str) -> int:
    """Announce each active event of ``company`` whose rule sets ``notify``, once per event and channel.

    Safe to call after every build, from several processes at once: an event already announced on a
    channel (sent or failed: failures are retried by ``notify retry``) is not sent again.

    Returns:
        How many events this call delivered to at least one channel.
    """
    types = [r.event_type for r in config.events if r.enabled and r.notify]
    names = [c.name for c in notifier.channels]
    if not types or not names:
        return 0
    done = dal.notified_tasks(EVENT_TASK_PREFIX, names)
    announced = 0
    for event_type in types:
        for event in dal.list_events(company, "active", event_type):
            message = event_message(event, config)
            pending = [
                c for c in notifier.channels if c.accepts(message) and (message.task_id, c.name) not in done
            ]
            if pending and any(r.status == "sent" for r in notifier.send(message)):
                announced += 1
    logger.info("announced %d new event(s) of %s", announced, company)
    return announced


__all__ = [
    "FAULT_ENV",
    "Message",
    "Notifier",
    "RetryReport",
    "SendPolicy",
    "event_message",
    "idempotency_key_for",
    "notify_new_events",
]
