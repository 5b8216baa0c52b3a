"""`lakehouse notify list | retry`, on both backends, with notifications made by a real `gates sync`
through a real webhook receiver whose URL is in the variable the config names."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from lakehouse.config import LakehouseConfig
from lakehouse.dal import DataAccessLayer
from lakehouse.ops.channels import SendPolicy
from lakehouse.ops.notify import Notifier, idempotency_key_for
from tests.cli_fixtures import as_json, cli, ok
from tests.http_receiver import Receiver
from tests.ops.test_notify_support import FAST, URL_ENV, config_dir_with, file_only, webhook_only

GOOD = Path(__file__).resolve().parents[1] / "data" / "gates" / "good"
T1_KEY = idempotency_key_for("slack", "T-1:ready:1111111111111111111111111111111111111111:ready")
T2_KEY = idempotency_key_for("slack", "T-2:ready:2222222:ready")

pytestmark = pytest.mark.usefixtures("env")


@pytest.fixture(autouse=True)
def fast_sends(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands build their notifier with the default policy (waits of 0.5 s, 1 s between tries):
    give them the same tries with short waits."""
    build = Notifier.from_config

    def from_config(
        dal: DataAccessLayer,
        config: LakehouseConfig,
        data_root: Path,
        env: Any = None,
        policy: SendPolicy | None = None,
    ) -> Notifier:
        return build(dal, config, data_root, env=env, policy=policy or FAST)

    monkeypatch.setattr(Notifier, "from_config", staticmethod(from_config))


@pytest.fixture
def hook(env: None, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Receiver:
    """The config's channels: the webhook (its URL in URL_ENV, the variable the config names) and the
    JSONL file; the webhook is the receiver."""
    config_dir_with(tmp_path, webhook_only() | file_only())  # the env fixture's copy of the config
    monkeypatch.setenv(URL_ENV, receiver.url)
    return receiver


@pytest.fixture
def notified(hook: Receiver, tmp_path: Path) -> Receiver:
    """One `gates sync` of T-1, T-2 (ready) and T-3 (not ready) with the receiver failing T-1 every
    try: T-1 failed on slack, sent to the file; T-2 sent on both."""
    folder = tmp_path / "gates"
    shutil.copytree(GOOD, folder)
    hook.statuses([500] * FAST.tries)
    report = as_json(ok("gates", "sync", str(folder), "-o", "json"))
    assert report["ready"] == ["T-1", "T-2"] and report["notified"] == 2
    assert [r.status for r in hook.requests] == [500, 500, 500, 200]
    return hook


def rows(*args: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = as_json(ok("notify", "list", *args, "-o", "json"))
    return result


def failed_id() -> str:
    [row] = rows("--status", "failed")
    return str(row["id"])


# --- list ------------------------------------------------------------------------------------------


def test_list_shows_every_receipt_oldest_first(notified: Receiver) -> None:
    listed = rows()
    assert [(r["task_id"], r["channel"], r["status"], r["attempts"]) for r in listed] == [
        ("T-1", "slack", "failed", 3),
        ("T-1", "file", "sent", 1),
        ("T-2", "slack", "sent", 1),
        ("T-2", "file", "sent", 1),
    ]
    failed, _, sent, _ = listed
    assert failed["type"] == "ready" and failed["target"] == "#ops-alerts"
    assert failed["idempotency_key"] == T1_KEY and failed["provider_message_id"] is None
    assert failed["error"].startswith("HTTP 500 from the webhook after 3 request(s)")
    assert notified.url not in failed["error"]  # the webhook URL is a secret
    assert failed["payload"] == notified.requests[0].body
    assert (sent["idempotency_key"], sent["provider_message_id"], sent["error"]) == (T2_KEY, "msg-4", None)
    assert sent["payload"]["text"].startswith("Task T-2: PR #12 in datahound/lakehouse")

    result = ok("notify", "list")
    assert result.stderr == ""
    text = result.stdout
    assert "notifications" in text and "T-1" in text and "T-2" in text
    assert "failed" in text and "sent" in text and "HTTP 500" in text and "#ops-alerts" in text


def test_list_filters_on_status_and_task(notified: Receiver) -> None:
    assert [(r["task_id"], r["channel"]) for r in rows("--status", "failed")] == [("T-1", "slack")]
    assert [(r["task_id"], r["channel"]) for r in rows("--status", "sent")] == [
        ("T-1", "file"),
        ("T-2", "slack"),
        ("T-2", "file"),
    ]
    assert [(r["channel"], r["status"]) for r in rows("--task", "T-2")] == [
        ("slack", "sent"),
        ("file", "sent"),
    ]
    assert [r["channel"] for r in rows("--task", "T-1", "--status", "sent")] == ["file"]
    assert rows("--task", "T-2", "--status", "failed") == []
    assert rows("--task", "T-3") == []  # not ready: never announced
    assert "notifications: none" in ok("notify", "list", "--task", "T-3").stdout
    assert "T-2" not in ok("notify", "list", "--status", "failed").stdout


def test_list_limit_shows_the_newest_and_says_so_on_stderr(notified: Receiver) -> None:
    cut = ok("notify", "list", "--limit", "2", "-o", "json")
    assert [(r["task_id"], r["channel"]) for r in as_json(cut)] == [("T-2", "slack"), ("T-2", "file")]
    assert cut.stderr.strip() == "showing 2 of 4 notifications (--limit N shows more)"
    text = ok("notify", "list", "--limit", "1")
    assert text.stderr.strip() == "showing 1 of 4 notifications (--limit N shows more)"
    assert "T-1" not in text.stdout and "T-2" in text.stdout
    # the cut counts what the filters keep
    assert ok("notify", "list", "--status", "sent", "--limit", "2").stderr.strip() == (
        "showing 2 of 3 notifications (--limit N shows more)"
    )
    assert ok("notify", "list", "--limit", "4", "-o", "json").stderr == ""


def test_list_refuses_a_bad_status_and_limit(db_url: str) -> None:
    assert cli("notify", "list", "--status", "pending").exit_code == 2
    assert cli("notify", "list", "--limit", "0").exit_code == 2
    assert rows() == []


# --- retry -----------------------------------------------------------------------------------------


def test_retry_delivers_a_failed_notification_once_the_receiver_answers(notified: Receiver) -> None:
    receipt_id = failed_id()
    result = ok("notify", "retry")
    assert result.stdout.strip() == "1 failed notification(s) sent again: 1 delivered, 0 failed again"
    assert result.stderr == ""
    retried = notified.requests[-1]
    assert (retried.idempotency_key, retried.status, retried.duplicate) == (T1_KEY, 200, False)
    assert retried.body == notified.requests[0].body  # the stored payload, sent as is
    assert notified.keys() == [T1_KEY] * 3 + [T2_KEY, T1_KEY]
    assert notified.deliveries == [T2_KEY, T1_KEY]

    [slack] = rows("--task", "T-1", "--status", "sent", "--limit", "1")  # the newest: slack
    assert slack["id"] == receipt_id and slack["channel"] == "slack"
    assert (slack["attempts"], slack["error"], slack["provider_message_id"]) == (4, None, "msg-5")
    assert rows("--status", "failed") == []
    assert len(rows()) == 4  # the same receipt, updated

    again = ok("notify", "retry")
    assert again.stdout.strip() == "0 failed notification(s) sent again: 0 delivered, 0 failed again"
    assert len(notified.requests) == 5


def test_retry_json_report(notified: Receiver) -> None:
    receipt_id = failed_id()
    report = as_json(ok("notify", "retry", "-o", "json"))
    assert [(r["id"], r["status"], r["attempts"]) for r in report["delivered"]] == [(receipt_id, "sent", 4)]
    assert (report["failed"], report["exhausted"], report["skipped"], report["warnings"]) == ([], 0, [], [])


def test_retry_failing_again_exits_1_naming_the_notification(notified: Receiver) -> None:
    receipt_id = failed_id()
    notified.statuses([500] * FAST.tries)
    result = cli("notify", "retry")
    assert result.exit_code == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout.strip() == "1 failed notification(s) sent again: 0 delivered, 1 failed again"
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    [line] = errors
    assert line.startswith("error: 1 notification(s) failed again, e.g. ")
    assert f"{receipt_id} on slack: HTTP 500 from the webhook after 3 request(s)" in line
    assert "lakehouse notify list --status failed" in line and notified.url not in result.stderr
    # before it: the delivery's warning (naming the receipt too) and the log of each failed request
    [warning] = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warning.startswith("warning: notifications.slack: T-1 (ready) not delivered: HTTP 500")
    assert f"recorded as failed notification {receipt_id}" in warning

    [failed] = rows("--status", "failed")
    assert (failed["id"], failed["attempts"]) == (receipt_id, 6)
    assert notified.keys() == [T1_KEY] * 3 + [T2_KEY] + [T1_KEY] * 3
    assert notified.deliveries == [T2_KEY]

    # JSON: the report is the document on stdout; the error is still said on stderr, exit 1
    notified.statuses([500] * FAST.tries)
    as_json_result = cli("notify", "retry", "-o", "json", "--max-attempts", "10")  # 6 are past the default 5
    assert as_json_result.exit_code == 1
    report = as_json(as_json_result)
    assert [(r["id"], r["attempts"]) for r in report["failed"]] == [(receipt_id, 9)]
    assert any(
        line.startswith("error: 1 notification(s) failed again")
        for line in as_json_result.stderr.splitlines()
    )


def test_retry_max_attempts_leaves_alone_what_was_tried_enough(notified: Receiver) -> None:
    receipt_id = failed_id()  # 3 requests made by the sync
    for limit in ("3", "1"):
        result = ok("notify", "retry", "--max-attempts", limit)
        assert result.stdout.strip() == (
            "0 failed notification(s) sent again: 0 delivered, 0 failed again; 1 past --max-attempts"
        )
    assert as_json(ok("notify", "retry", "--max-attempts", "3", "-o", "json"))["exhausted"] == 1
    assert len(notified.requests) == 4  # nothing sent

    notified.statuses([500] * FAST.tries)
    failed_again = cli("notify", "retry", "--max-attempts", "4")
    assert failed_again.exit_code == 1  # tried again (3 < 4), failed again: 6 requests now
    assert [(r["id"], r["attempts"]) for r in rows("--status", "failed")] == [(receipt_id, 6)]
    assert "1 past --max-attempts" in ok("notify", "retry", "--max-attempts", "6").stdout
    assert len(notified.requests) == 7

    delivered = as_json(ok("notify", "retry", "--max-attempts", "7", "-o", "json"))["delivered"]
    assert [(r["id"], r["attempts"]) for r in delivered] == [(receipt_id, 7)]
    assert cli("notify", "retry", "--max-attempts", "0").exit_code == 2


def test_retry_reads_the_webhook_url_from_the_variable_the_config_names(
    notified: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    receipt_id = failed_id()
    monkeypatch.delenv(URL_ENV)
    result = ok("notify", "retry")
    assert result.stdout.splitlines() == [
        "0 failed notification(s) sent again: 0 delivered, 0 failed again; 1 skipped",
        f"skipped {receipt_id}: notifications.slack is not sending (see the warnings)",
    ]
    assert f"warning: notifications.slack.url_env: {URL_ENV} is not set" in result.stderr
    assert len(notified.requests) == 4

    monkeypatch.setenv(URL_ENV, notified.url)
    assert "1 delivered" in ok("notify", "retry").stdout
    assert notified.deliveries == [T2_KEY, T1_KEY]
