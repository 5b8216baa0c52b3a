"""Notification channels: where a message goes, and how one delivery of it is tried.

A channel turns a message into a payload (:meth:`Channel.payload`) and delivers a payload with an
idempotency key (:meth:`Channel.deliver`), retrying what may be retried; it never raises for a failed
delivery, it returns a :class:`Delivery` saying so. Exactly-once bookkeeping (claims, receipts) is
:class:`lakehouse.ops.notify.Notifier`'s.

- :class:`WebhookChannel`: POSTs a Slack-compatible JSON body (``{"text", "blocks", "channel"?}``)
  with an ``Idempotency-Key`` header; httpx with a timeout, tenacity retries with exponential backoff
  on network errors and 5xx responses, never on 4xx (nor 3xx: redirects are not followed).
- :class:`JsonlFileChannel`: appends one JSON line per notification to a local file and honours the key
  itself (a line already holding the key is not written again), so a rerun never duplicates a line.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from lakehouse.config.models import SEVERITY_ORDER
from lakehouse.dataplane.atomic import append_line

if TYPE_CHECKING:
    from lakehouse.ops.notify import Message

logger = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
_ERROR_BODY_CHARS = 200


@dataclass(frozen=True)
class SendPolicy:
    """How hard a delivery is tried, and how long a claim to send lasts.

    ``claim_ttl`` must exceed the longest a delivery can take (``tries * timeout`` plus the waits):
    a claim that expires while its sender still sends lets a second sender send too (with the
    same key, which a receiver that honours it deduplicates).
    """

    timeout: float = 10.0
    """Seconds for each request (connect, write, read)."""
    tries: int = 3
    """Requests per delivery: the first, then retries on network errors and 5xx responses."""
    backoff: float = 0.5
    """Seconds before the first retry, doubled before each next one, at most ``max_backoff``."""
    max_backoff: float = 8.0
    claim_ttl: timedelta = timedelta(minutes=10)
    """How long a claim to send stays held when its sender dies before recording the receipt."""


@dataclass(frozen=True)
class Delivery:
    """The outcome of one delivery of a payload (all its tries)."""

    ok: bool
    attempts: int
    """Requests made (1 + the retries)."""
    provider_message_id: str | None = None
    error: str | None = None
    status_code: int | None = None


class Channel(ABC):
    """A notification channel; ``name`` is its key under ``notifications`` in global.json."""

    def __init__(
        self, name: str, target: str, min_severity: str = "low", message_types: Collection[str] | None = None
    ) -> None:
        self.name = name
        self.target = target
        self.min_severity = min_severity
        self.message_types = None if message_types is None else frozenset(message_types)

    def accepts(self, message: Message) -> bool:
        """Whether this channel takes ``message``: its type is included, and its severity (a
        ``details["severity"]``, set for events) is at least ``min_severity``."""
        if self.message_types is not None and message.message_type not in self.message_types:
            return False
        severity = message.details.get("severity")
        if severity not in SEVERITY_ORDER:
            return True
        return SEVERITY_ORDER.index(severity) >= SEVERITY_ORDER.index(self.min_severity)

    @abstractmethod
    def payload(self, message: Message, idempotency_key: str) -> dict[str, Any]:
        """What is sent for ``message`` (and recorded in its receipt, to send again as is)."""

    @abstractmethod
    def deliver(self, payload: dict[str, Any], idempotency_key: str) -> Delivery:
        """Deliver ``payload`` once, as the receiver sees it when it honours ``idempotency_key``."""


# --- webhook ---------------------------------------------------------------------------------------


class _ServerError(Exception):
    """A 5xx response: retried."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        super().__init__(f"HTTP {response.status_code}")


def _slack_escape(text: str) -> str:
    """Slack reads ``&``, ``<`` and ``>`` as markup: escape them so the text is shown literally."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _message_id(response: httpx.Response) -> str | None:
    """The receiver's id of the message: a JSON body's ``id``/``ts``/``message_id``, else a request-id header."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("id", "ts", "message_id"):
            if isinstance(body.get(key), str | int):
                return str(body[key])
    for header in ("x-message-id", "x-slack-req-id", "x-request-id"):
        if header in response.headers:
            return response.headers[header]
    return None


def _body_excerpt(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return text[:_ERROR_BODY_CHARS] + ("..." if len(text) > _ERROR_BODY_CHARS else "")


class WebhookChannel(Channel):
    """A Slack-compatible incoming webhook (``notifications.slack``); the URL is a secret, never shown.

    Args:
        url: the webhook URL (read from the channel's ``url_env``).
        channel: the Slack channel override put in the payload, if any (also the receipt's target).
        transport: an httpx transport (tests); None for the network.
    """

    def __init__(
        self,
        name: str,
        url: str,
        channel: str | None,
        min_severity: str,
        policy: SendPolicy,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(name, channel or "webhook", min_severity)
        self._url = url
        self._channel = channel
        self._policy = policy
        self._transport = transport

    def payload(self, message: Message, idempotency_key: str) -> dict[str, Any]:
        text = _slack_escape(message.text)
        body: dict[str, Any] = {
            "text": text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {
                    "type": "context",
                    "elements": [
                        {
                            "type": "mrkdwn",
                            "text": _slack_escape(f"{message.message_type} | {message.task_id}"),
                        }
                    ],
                },
            ],
        }
        if self._channel is not None:
            body["channel"] = self._channel
        return body

    def deliver(self, payload: dict[str, Any], idempotency_key: str) -> Delivery:
        tries = 0

        def post(client: httpx.Client) -> httpx.Response:
            nonlocal tries
            tries += 1
            response = client.post(self._url, json=payload, headers={IDEMPOTENCY_HEADER: idempotency_key})
            if response.status_code >= 500:
                raise _ServerError(response)
            return response

        retrying = Retrying(
            stop=stop_after_attempt(self._policy.tries),
            wait=wait_exponential(multiplier=self._policy.backoff, max=self._policy.max_backoff),
            retry=retry_if_exception_type((httpx.TransportError, _ServerError)),
            before_sleep=self._log_retry,
            reraise=True,
        )
        with httpx.Client(timeout=self._policy.timeout, transport=self._transport) as client:
            try:
                response = retrying(post, client)
            except _ServerError as exc:
                status = exc.response.status_code
                error = (
                    f"HTTP {status} from the webhook after {tries} request(s): {_body_excerpt(exc.response)}"
                )
                return Delivery(False, tries, error=self._redact(error), status_code=status)
            except httpx.TransportError as exc:
                error = f"{type(exc).__name__} after {tries} request(s): {exc}"
                return Delivery(False, tries, error=self._redact(error))
        if not response.is_success:
            error = f"HTTP {response.status_code} from the webhook (not retried): {_body_excerpt(response)}"
            return Delivery(False, tries, error=self._redact(error), status_code=response.status_code)
        return Delivery(True, tries, _message_id(response), status_code=response.status_code)

    def _redact(self, text: str) -> str:
        return text.replace(self._url, "<webhook URL>")

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        logger.warning(
            "notifications.%s: request %d failed (%s); retrying in %.1fs",
            self.name,
            state.attempt_number,
            self._redact(str(exc) or type(exc).__name__),
            wait,
        )


# --- file ------------------------------------------------------------------------------------------


def _keys_in(content: bytes, idempotency_key: str) -> bool:
    """Whether a complete line of ``content`` is the notification of ``idempotency_key``."""
    needle = idempotency_key.encode()
    for line in content.split(b"\n")[:-1]:  # the part after the last newline is not a complete line
        if needle not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("idempotency_key") == idempotency_key:
            return True
    return False


class JsonlFileChannel(Channel):
    """One JSON object per line in a local file (``notifications.file``).

    The file is an append-only log: each line is written with one ``write`` on a descriptor opened
    ``O_APPEND``, then fsynced, under an exclusive ``flock`` of the file. That lock also covers the
    check that no complete line holds the key already, so the file honours the idempotency key like a
    receiver would: a rerun after a crash never writes the line twice. A line torn by a crash (no
    final newline) is ignored and the next line starts on a line of its own. The check reads the
    whole file: a local log, not one for millions of lines.
    """

    def __init__(self, name: str, path: Path, message_types: Collection[str], min_severity: str) -> None:
        super().__init__(name, str(path), min_severity, message_types)
        self.path = path

    def payload(self, message: Message, idempotency_key: str) -> dict[str, Any]:
        return {
            "idempotency_key": idempotency_key,
            "task_id": message.task_id,
            "message_type": message.message_type,
            "text": message.text,
            "details": message.details,
            "written_at": datetime.now(UTC).isoformat(),
        }

    def deliver(self, payload: dict[str, Any], idempotency_key: str) -> Delivery:
        line = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str) + "\n"
        try:
            written = self._append_once(line.encode(), idempotency_key)
        except OSError as exc:
            return Delivery(False, 1, error=f"cannot append to {self.path}: {exc.strerror or exc}")
        if not written:
            logger.info("notifications.%s: %s holds %s already", self.name, self.path, idempotency_key)
        return Delivery(True, 1, provider_message_id=idempotency_key)

    def _append_once(self, data: bytes, idempotency_key: str) -> bool:
        """Append ``data`` unless a complete line holds ``idempotency_key``; True if appended."""
        return append_line(self.path, data, unless=lambda content: _keys_in(content, idempotency_key))
