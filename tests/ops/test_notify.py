"""Notifications over a real HTTP receiver, on SQLite and PostgreSQL: exactly one delivery per message
and channel whatever the concurrency, retries on 5xx and network errors only, receipts of every attempt."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import NotificationRecord
from lakehouse.ops.notify import Message, Notifier, idempotency_key_for
from tests.http_receiver import Receiver
from tests.ops.test_notify_support import (
    FAST,
    URL_ENV,
    file_only,
    load,
    ready,
    webhook_notifier,
    webhook_only,
)


def test_message_key() -> None:
    assert ready("t-1", "h1").key == "t-1:ready:h1:ready"
    assert Message("event:e1", "info", "new", "x").key == "event:e1:info:new"


def test_one_send_posts_a_slack_payload_with_its_idempotency_key_and_records_it(
    dal: DataAccessLayer, tmp_path: Path, receiver: Receiver
) -> None:
    notifier = webhook_notifier(dal, tmp_path, receiver.url)
    message = ready()
    [receipt] = notifier.send(message)

    [request] = receiver.requests
    key = idempotency_key_for("slack", message.key)
    assert request.idempotency_key == key
    assert request.body["text"] == "Task task-7: PR ready &lt;merge&gt; &amp; ship"  # Slack escapes
    assert request.body["channel"] == "#ops-alerts"
    assert request.body["blocks"][0]["text"]["text"] == request.body["text"]
    assert (receipt.status, receipt.attempts, receipt.error) == ("sent", 1, None)
    assert (receipt.channel, receipt.target, receipt.message_type) == ("slack", "#ops-alerts", "ready")
    assert receipt.idempotency_key == key and receipt.provider_message_id == "msg-1"
    assert receipt.payload == request.body
    assert dal.list_notifications("task-7") == [receipt]
    assert notifier.warnings == []

    # a retried sync, another notifier: nothing sent, no receipt
    assert notifier.send(message) == []
    assert webhook_notifier(dal, tmp_path, receiver.url).send(message) == []
    assert len(receiver.requests) == 1
    # another head commit is another message
    [other] = notifier.send(ready(head="def456"))
    assert other.idempotency_key != key and len(receiver.deliveries) == 2


def test_twenty_concurrent_senders_make_one_request_and_one_receipt(
    dal: DataAccessLayer, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.delay = 0.2  # the winner is still sending while the others try
    notifiers = [webhook_notifier(dal, tmp_path, receiver.url) for _ in range(20)]
    start = threading.Barrier(20)

    def send(notifier: Notifier) -> list[NotificationRecord]:
        start.wait()
        return notifier.send(ready())

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(send, notifiers))

    assert len(receiver.requests) == 1 and len(receiver.deliveries) == 1
    assert sorted(len(r) for r in results) == [0] * 19 + [1]
    [receipt] = dal.list_notifications("task-7")
    assert receipt.status == "sent"


def test_500_then_200_is_one_delivery_after_a_retry_with_the_same_key(
    dal: DataAccessLayer, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.statuses([500, 200])
    [receipt] = webhook_notifier(dal, tmp_path, receiver.url).send(ready())
    assert [r.status for r in receiver.requests] == [500, 200]
    assert len(set(receiver.keys())) == 1 and len(receiver.deliveries) == 1
    assert (receipt.status, receipt.attempts, receipt.error) == ("sent", 2, None)


def test_5xx_every_time_is_recorded_failed_after_every_try(
    dal: DataAccessLayer, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.statuses([503, 502, 500])
    notifier = webhook_notifier(dal, tmp_path, receiver.url)
    [receipt] = notifier.send(ready())
    assert len(receiver.requests) == FAST.tries == 3
    assert (receipt.status, receipt.attempts) == ("failed", 3)
    assert receipt.error is not None and receipt.error.startswith(
        "HTTP 500 from the webhook after 3 request(s)"
    )
    assert receiver.url not in receipt.error
    assert any("not delivered" in w and str(receipt.id) in w for w in notifier.warnings)


def test_4xx_is_not_retried_and_is_recorded_failed_with_its_status(
    dal: DataAccessLayer, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.statuses([400])
    notifier = webhook_notifier(dal, tmp_path, receiver.url)
    [receipt] = notifier.send(ready())
    assert [r.status for r in receiver.requests] == [400]
    assert (receipt.status, receipt.attempts) == ("failed", 1)
    assert receipt.error is not None and receipt.error.startswith("HTTP 400 from the webhook (not retried)")
    # a failed message is not sent again by the next sync: `notify retry` does that
    assert notifier.send(ready()) == []
    assert len(receiver.requests) == 1


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def test_network_errors_are_retried_then_recorded(dal: DataAccessLayer, tmp_path: Path) -> None:
    [receipt] = webhook_notifier(dal, tmp_path, _closed_port_url()).send(ready())
    assert (receipt.status, receipt.attempts) == ("failed", 3)
    assert receipt.error is not None and receipt.error.startswith("ConnectError after 3 request(s)")


def test_retry_failed_sends_the_same_payload_and_key_and_updates_the_receipt(
    dal: DataAccessLayer, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.statuses([404])
    notifier = webhook_notifier(dal, tmp_path, receiver.url)
    [failed] = notifier.send(ready())

    report = notifier.retry_failed()
    [delivered] = report.delivered
    assert (report.failed, report.exhausted, report.skipped) == ((), 0, ())
    assert str(report) == "1 failed notification(s) sent again: 1 delivered, 0 failed again"
    assert delivered.id == failed.id and (delivered.status, delivered.attempts) == ("sent", 2)
    assert delivered.error is None and delivered.provider_message_id == "msg-2"
    assert delivered.sent_at >= failed.sent_at
    first, second = receiver.requests
    assert first.idempotency_key == second.idempotency_key == failed.idempotency_key
    assert first.body == second.body
    assert dal.list_notifications() == [delivered]  # one receipt per channel and key

    assert notifier.retry_failed() == type(report)()  # nothing failed any more
    assert len(receiver.requests) == 2


def test_retry_failed_stops_at_max_attempts(dal: DataAccessLayer, tmp_path: Path, receiver: Receiver) -> None:
    receiver.statuses([400, 400, 400])
    notifier = webhook_notifier(dal, tmp_path, receiver.url)
    notifier.send(ready())
    [again] = notifier.retry_failed(max_attempts=2).failed
    assert (again.status, again.attempts) == ("failed", 2)
    report = notifier.retry_failed(max_attempts=2)
    assert (report.delivered, report.failed, report.exhausted) == ((), (), 1)
    assert len(receiver.requests) == 2


def test_concurrent_retries_send_once(dal: DataAccessLayer, tmp_path: Path, receiver: Receiver) -> None:
    receiver.statuses([400])
    webhook_notifier(dal, tmp_path, receiver.url).send(ready())
    receiver.delay = 0.2
    notifiers = [webhook_notifier(dal, tmp_path, receiver.url) for _ in range(8)]
    start = threading.Barrier(len(notifiers))

    def retry(notifier: Notifier) -> int:
        start.wait()
        return len(notifier.retry_failed().delivered)

    with ThreadPoolExecutor(len(notifiers)) as pool:
        delivered = list(pool.map(retry, notifiers))
    assert sum(delivered) == 1
    assert len(receiver.requests) == 2  # the failed one, then one retry
    [receipt] = dal.list_notifications()
    assert (receipt.status, receipt.attempts) == ("sent", 2)


def test_retry_skips_a_channel_that_no_longer_sends(
    dal: DataAccessLayer, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.statuses([400])
    webhook_notifier(dal, tmp_path, receiver.url).send(ready())
    unset = Notifier.from_config(dal, load(tmp_path, webhook_only()), tmp_path, env={}, policy=FAST)
    assert unset.channels == ()
    assert unset.warnings == [
        f"notifications.slack.url_env: {URL_ENV} is not set; nothing is sent to this channel "
        f"(export {URL_ENV}=<webhook URL>, or set notifications.slack.enabled to false)"
    ]
    [skipped] = unset.retry_failed().skipped
    assert "notifications.slack is not sending" in skipped
    assert len(receiver.requests) == 1


def test_a_recorded_message_is_not_sent_again_when_its_claim_is_gone(
    dal: DataAccessLayer, tmp_path: Path, receiver: Receiver
) -> None:
    notifier = webhook_notifier(dal, tmp_path, receiver.url)
    message = ready()
    notifier.send(message)
    dal.release_idempotency_key("notify:slack", message.key)  # e.g. cleaned up by hand
    assert notifier.send(message) == []
    assert len(receiver.requests) == 1
    assert dal.idempotency_claim_of("notify:slack", message.key) is not None  # sealed again


def test_channels_filter_on_severity_and_message_type(
    dal: DataAccessLayer, tmp_path: Path, receiver: Receiver
) -> None:
    notifications = webhook_only(min_severity="high") | file_only(message_types=["info"])
    config = load(tmp_path, notifications)
    notifier = Notifier.from_config(dal, config, tmp_path, env={URL_ENV: receiver.url}, policy=FAST)
    assert [c.name for c in notifier.channels] == ["slack", "file"]

    medium = Message("event:e1", "info", "new", "medium one", {"severity": "medium"})
    critical = Message("event:e2", "info", "new", "critical one", {"severity": "critical"})
    assert [r.channel for r in notifier.send(medium)] == ["file"]
    assert [r.channel for r in notifier.send(critical)] == ["slack", "file"]
    assert [r.channel for r in notifier.send(ready())] == ["slack"]  # no severity; file takes info only
    assert [r.body["text"] for r in receiver.requests] == [
        "critical one",
        "Task task-7: PR ready &lt;merge&gt; &amp; ship",
    ]


def test_enabled_email_and_a_non_url_are_warned_about_and_skipped(
    dal: DataAccessLayer, tmp_path: Path
) -> None:
    email = {
        "enabled": True,
        "smtp_host": "smtp.example.com",
        "from_address": "alerts@example.com",
        "to": ["ops@example.com"],
    }
    config = load(tmp_path, webhook_only() | {"email": email})
    notifier = Notifier.from_config(dal, config, tmp_path, env={URL_ENV: "hooks.example.com/x"})
    assert notifier.channels == ()
    assert notifier.warnings == [
        "notifications.email: sending email is not supported; nothing is sent to this channel "
        "(use notifications.slack or notifications.file, or set notifications.email.enabled to false)",
        f"notifications.slack.url_env: {URL_ENV} is not an http(s) URL; not sent",
    ]
    assert notifier.send(ready()) == []
    assert dal.list_notifications() == []


def test_disabled_channels_send_nothing_and_say_nothing(dal: DataAccessLayer, tmp_path: Path) -> None:
    notifications = {
        "slack": {"enabled": False, "url_env": URL_ENV},
        "file": {"enabled": False, "path": "n.jsonl"},
    }
    notifier = Notifier.from_config(dal, load(tmp_path, notifications), tmp_path, env={})
    assert (notifier.channels, notifier.warnings) == ((), [])
    assert notifier.send(ready()) == [] and not (tmp_path / "n.jsonl").exists()
