"""The task runners of the operations plane, run by a real worker on each backend: a gates_sync task
announces each gate that became ready once (to the shipped config's file channel, under the data root)
and says so in its run; a notify_retry task; an events_refresh before any build fails naming what is
missing and is recorded failed."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lakehouse.config import load_config
from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.store import DatasetStore
from lakehouse.db.records import Task, TaskRun, TaskUpdate
from lakehouse.errors import NotFoundError
from lakehouse.ops import task_admin
from lakehouse.ops.tasks import RUNNERS, TaskContext, TaskResult
from lakehouse.ops.worker import Worker
from lakehouse.sample.gates import write_sample_gates
from lakehouse.settings import Settings
from tests.data_fixtures import REPO


def _run_now(store: DatasetStore, key: str, task_type: str, config: dict[str, Any]) -> TaskRun:
    dal = store.dal
    try:
        dal.get_task(key)
    except NotFoundError:
        task_admin.add_task(dal, task_admin.NewTask(key, task_type, "acme", "interval", "1h", "UTC", config))
    dal.update_task(TaskUpdate(key), next_run_at=datetime.now(UTC) - timedelta(seconds=1))
    ctx = TaskContext(store, load_config(REPO / "config"), Settings())
    report = Worker(ctx, "w1", poll_seconds=0.01, only=[key]).run(once=True)
    [summary] = report.runs
    return dal.get_task_run(summary.run_id)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_gates_sync_task_announces_each_ready_gate_once(store: DatasetStore, tmp_path: Path) -> None:
    gates = tmp_path / "gates"
    write_sample_gates(gates)
    log = store.root.root / "_notifications" / "notifications.jsonl"  # the shipped file channel

    first = _run_now(store, "acme-gates", "gates_sync", {"gates_dir": str(gates)})
    assert first.success, first.message
    assert first.message is not None and "2 became ready, 2 ready, 2 notified" in first.message
    assert sorted(first.metadata["became_ready"]) == ["DH-101", "DH-102"]
    assert [(line["task_id"], line["message_type"]) for line in _lines(log)] == [
        ("DH-101", "ready"),
        ("DH-102", "ready"),
    ]

    again = _run_now(store, "acme-gates", "gates_sync", {"gates_dir": str(gates)})
    assert again.success and again.message is not None
    assert "0 became ready, 2 ready, 0 notified" in again.message
    assert len(_lines(log)) == 2  # never twice for the same (task, head, state)

    (gates / "DH-102.json").write_text("{ not json")
    broken = _run_now(store, "acme-gates", "gates_sync", {"gates_dir": str(gates)})
    assert broken.success and broken.message is not None
    assert "1 skipped (malformed: DH-102.json)" in broken.message
    assert [s["file"] for s in broken.metadata["skipped"]] == [str(gates / "DH-102.json")]


def test_a_notify_retry_task_with_nothing_failed(store: DatasetStore) -> None:
    run = _run_now(store, "acme-notify-retry", "notify_retry", {})
    assert run.success and run.message is not None and run.message.startswith("notify retry: ")
    assert store.dal.list_notifications(status="failed") == []


def test_events_refresh_before_any_build_fails_naming_the_dataset(
    store: DatasetStore, dal: DataAccessLayer
) -> None:
    run = _run_now(store, "acme-events", "events_refresh", {})
    assert run.success is False and run.message is not None
    assert "gold.event_facts" in run.message and "acme" in run.message
    assert dal.get_task("acme-events").next_run_at is not None  # retried at its next occurrence


class Flaky:
    """A gc runner that fails while ``failing`` is set."""

    def __init__(self) -> None:
        self.failing = True

    def __call__(self, ctx: TaskContext, task: Task, cfg: Any, run_id: str) -> TaskResult:
        if self.failing:
            raise RuntimeError("disk on fire")
        return TaskResult("ok", {})


def _tick(store: DatasetStore, runner: Flaky, key: str, reschedule: bool = True) -> None:
    """One worker pass over ``key``, made due now (``reschedule``, which starts its tries again) or
    at its own next due time (a retry's)."""
    if reschedule:
        store.dal.update_task(TaskUpdate(key), next_run_at=datetime.now(UTC) - timedelta(seconds=1))
    else:
        due = store.dal.get_task(key).next_run_at
        assert due is not None
        time.sleep(max((due - datetime.now(UTC)).total_seconds(), 0) + 0.01)
    ctx = TaskContext(store, load_config(REPO / "config"), Settings())
    runners = {**RUNNERS, "gc": runner}
    Worker(ctx, "w1", poll_seconds=0.01, only=[key], runners=runners).run(once=True, max_tasks=1)


def test_a_failing_task_is_announced_once_per_failure_streak(store: DatasetStore) -> None:
    task_admin.add_task(store.dal, task_admin.NewTask("acme-gc", "gc", "acme", "interval", "1h", "UTC", {}))
    log = store.root.root / "_notifications" / "notifications.jsonl"
    runner = Flaky()

    _tick(store, runner, "acme-gc")
    [first] = _lines(log)
    assert (first["task_id"], first["message_type"]) == ("scheduler:acme-gc", "failed")
    assert "disk on fire" in first["text"] and first["details"]["last_success_run_id"] is None
    _tick(store, runner, "acme-gc")  # the same streak: not announced again
    assert len(_lines(log)) == 1

    runner.failing = False
    _tick(store, runner, "acme-gc")
    runner.failing = True
    _tick(store, runner, "acme-gc")  # a new streak after a success
    lines = _lines(log)
    assert [line["message_type"] for line in lines] == ["failed", "failed"]
    [success] = [r for r in store.dal.list_task_runs("acme-gc") if r.success]
    assert lines[1]["details"]["last_success_run_id"] == success.run_id
    assert lines[0]["idempotency_key"] != lines[1]["idempotency_key"]
    failed = [n for n in store.dal.list_notifications() if n.message_type == "failed"]
    assert len(failed) == 2 and {n.status for n in failed} == {"sent"}


def test_a_failure_with_a_retry_left_is_not_announced_yet(store: DatasetStore) -> None:
    config = {"retry": {"count": 1, "backoff_seconds": 0.01}}
    task_admin.add_task(
        store.dal, task_admin.NewTask("acme-gc", "gc", "acme", "interval", "1h", "UTC", config)
    )
    log = store.root.root / "_notifications" / "notifications.jsonl"
    runner = Flaky()
    _tick(store, runner, "acme-gc")  # attempt 1 of 2: retried soon
    assert _lines(log) == []
    _tick(store, runner, "acme-gc", reschedule=False)  # attempt 2: no retry left
    assert [line["message_type"] for line in _lines(log)] == ["failed"]
