"""Review gates, notifications and idempotency keys, on both backends."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import NotificationSpec, PullRequest, ReviewChecks
from lakehouse.errors import InvalidStateError, NotFoundError

PR = PullRequest(number=42, repo="datahound/lakehouse", branch="feat/x")
ALL = ReviewChecks(True, True, True, True, True, True)


@pytest.mark.parametrize(
    ("checks", "mode", "ready"),
    [
        (ALL, "strict", True),
        (ReviewChecks(True, True, True, True, True, False), "strict", False),
        (ReviewChecks(ci_passed=True, branch_up_to_date=True, gemini_passed=True), "soft", True),
        (ReviewChecks(ci_passed=True, branch_up_to_date=True), "soft", False),
        (ReviewChecks(ci_passed=False, branch_up_to_date=True, codex_passed=True), "soft", False),
        (ReviewChecks(ci_passed=True, branch_up_to_date=False, claude_passed=True), "soft", False),
    ],
)
def test_ready_is_computed_from_checks_and_mode(
    dal: DataAccessLayer, checks: ReviewChecks, mode: str, ready: bool
) -> None:
    gate = dal.upsert_review_gate("task-1", PR, checks, mode)  # type: ignore[arg-type]
    assert gate.ready is ready
    assert dal.get_review_gate("task-1").ready is ready


def test_upsert_updates_the_same_gate(dal: DataAccessLayer) -> None:
    dal.upsert_review_gate("task-1", PR, ReviewChecks(ci_passed=True), "strict")
    gate = dal.upsert_review_gate("task-1", PullRequest(43, PR.repo, PR.branch), ALL, "strict")
    assert gate.pr.number == 43
    assert gate.ready is True


def test_mark_ready_rechecks(dal: DataAccessLayer) -> None:
    dal.upsert_review_gate("task-1", PR, ReviewChecks(ci_passed=True), "strict")
    with pytest.raises(InvalidStateError, match="codex_passed"):
        dal.mark_ready("task-1")
    dal.upsert_review_gate("task-1", PR, ReviewChecks(True, False, True, False, True, False), "soft")
    assert dal.mark_ready("task-1").ready is True
    with pytest.raises(NotFoundError):
        dal.mark_ready("task-unknown")


def test_record_notification(dal: DataAccessLayer) -> None:
    spec = NotificationSpec("task-1", "slack", "#ops", "ready", "sent", {"text": "PR ready"}, "msg-1")
    rec = dal.record_notification(spec)
    assert rec.sent_at.tzinfo is not None
    assert [n.provider_message_id for n in dal.list_notifications("task-1")] == ["msg-1"]


def test_claim_once_and_expiry(dal: DataAccessLayer) -> None:
    assert dal.claim_idempotency_key("notify", "k1") is True
    assert dal.claim_idempotency_key("notify", "k1") is False
    assert dal.claim_idempotency_key("other-scope", "k1") is True  # keys live in their scope
    assert dal.claim_idempotency_key("notify", "k2", ttl=timedelta(seconds=-1)) is True
    assert dal.claim_idempotency_key("notify", "k2") is True  # expired claim may be taken again
    assert dal.claim_idempotency_key("notify", "k2") is False


def test_run_once_runs_the_side_effect_once_and_releases_on_failure(dal: DataAccessLayer) -> None:
    calls: list[str] = []
    assert dal.run_once("email", "invoice-1", lambda: calls.append("x") or "sent") == (True, "sent")
    assert dal.run_once("email", "invoice-1", lambda: calls.append("y")) == (False, None)
    assert calls == ["x"]

    def boom() -> None:
        raise RuntimeError("provider down")

    with pytest.raises(RuntimeError):
        dal.run_once("email", "invoice-2", boom)
    assert dal.run_once("email", "invoice-2", lambda: "retried") == (True, "retried")


def test_twenty_threads_claim_the_same_key_exactly_once(dal: DataAccessLayer) -> None:
    barrier = threading.Barrier(20)
    results: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def claim() -> None:
        try:
            barrier.wait()
            ok = dal.claim_idempotency_key("webhook", "event-123", ttl=timedelta(hours=1))
            with lock:
                results.append(ok)
        except BaseException as exc:  # collected and asserted below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=claim) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(results) == [False] * 19 + [True]


def test_a_failed_side_effect_releases_only_its_own_claim(dal: DataAccessLayer) -> None:
    def slow_and_failing() -> None:
        # While this call runs, its claim expires and another caller takes the key over.
        assert dal.claim_idempotency_key("sms", "reminder-7", run_id="other-run") is True
        raise RuntimeError("provider down")

    with pytest.raises(RuntimeError):
        dal.run_once("sms", "reminder-7", slow_and_failing, ttl=timedelta(seconds=-1))
    assert dal.idempotency_claim_of("sms", "reminder-7") == "other-run"
    assert dal.claim_idempotency_key("sms", "reminder-7") is False
