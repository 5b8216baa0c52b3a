"""The scheduler worker in one process, on each backend: runs recorded, next occurrences, retries,
catch-up, once tasks, lease takeover, a stop in the middle of a task, one worker on SQLite."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lakehouse.config import load_config
from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.store import DatasetStore
from lakehouse.db.records import Task, TaskOutcome, TaskUpdate
from lakehouse.errors import DatabaseUnavailableError, WorkerRefusedError
from lakehouse.ops import task_admin
from lakehouse.ops import worker as worker_module
from lakehouse.ops.task_config import TASK_TYPES
from lakehouse.ops.tasks import TaskContext, TaskResult
from lakehouse.ops.worker import SQLITE_WORKER_LOCK, Worker
from lakehouse.settings import Settings
from tests.data_fixtures import REPO

Runner = Callable[[TaskContext, Task, Any, str], TaskResult]


def _now() -> datetime:
    return datetime.now(UTC)


def _wait_until(moment: datetime | None) -> None:
    assert moment is not None
    time.sleep(max((moment - _now()).total_seconds(), 0) + 0.01)


class Calls:
    """A runner that records its calls and fails the first ``fail`` of them."""

    def __init__(self, fail: int = 0) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = fail

    def __call__(self, ctx: TaskContext, task: Task, cfg: Any, run_id: str) -> TaskResult:
        self.calls.append((task.task_key, run_id))
        if len(self.calls) <= self.fail:
            raise RuntimeError(f"boom #{len(self.calls)}")
        return TaskResult(f"ran {task.task_key}", {"n": len(self.calls)})


def _worker(store: DatasetStore, runner: Runner, worker_id: str = "w1", lease: float = 30) -> Worker:
    ctx = TaskContext(store, load_config(REPO / "config"), Settings())
    return Worker(
        ctx,
        worker_id,
        lease=timedelta(seconds=lease),
        poll_seconds=0.01,
        runners=dict.fromkeys(TASK_TYPES, runner),
        min_interval=timedelta(seconds=1),
    )


def _add(dal: DataAccessLayer, key: str, kind: str, expr: str, config: dict[str, Any] | None = None) -> Task:
    return task_admin.add_task(
        dal, task_admin.NewTask(key, "gc", "acme", kind, expr, "America/New_York", config or {})
    )


def _due(dal: DataAccessLayer, key: str, at: datetime) -> None:
    dal.update_task(TaskUpdate(key), next_run_at=at)


def test_a_due_task_runs_once_is_recorded_and_moves_to_its_next_occurrence(
    dal: DataAccessLayer, store: DatasetStore
) -> None:
    _add(dal, "acme-gc", "interval", "1h")
    due = _now() - timedelta(minutes=1)
    _due(dal, "acme-gc", due)
    runner = Calls()

    report = _worker(store, runner).run(once=True)

    assert [r.task_key for r in report.runs] == ["acme-gc"] and report.stopped_by == "once"
    [run] = dal.list_task_runs("acme-gc")
    assert (run.success, run.message, run.attempt, run.worker_id) == (True, "ran acme-gc", 1, "w1")
    assert run.occurrence_at == due.replace(microsecond=due.microsecond)
    assert run.run_id == runner.calls[0][1] and run.duration_ms is not None and run.finished_at
    assert run.metadata["n"] == 1 and run.metadata["worker_id"] == "w1"
    task = dal.get_task("acme-gc")
    assert task.claimed_by is None and task.claim_expires_at is None and task.attempt == 0
    assert task.next_run_at is not None
    assert timedelta(minutes=59) < task.next_run_at - _now() <= timedelta(hours=1)
    # Nothing else is due: a second pass runs nothing.
    assert _worker(store, runner).run(once=True).runs == []


def test_missed_occurrences_are_caught_up_once(dal: DataAccessLayer, store: DatasetStore) -> None:
    _add(dal, "hourly", "cron", "0 * * * *")
    _due(dal, "hourly", _now() - timedelta(days=3))  # every worker was down for three days
    runner = Calls()

    report = _worker(store, runner).run(once=True)

    assert len(report.runs) == 1 and len(runner.calls) == 1
    task = dal.get_task("hourly")
    assert task.next_run_at is not None and _now() < task.next_run_at <= _now() + timedelta(hours=1)
    assert task.next_run_at.minute == 0


def test_a_once_task_runs_exactly_once_and_is_done(dal: DataAccessLayer, store: DatasetStore) -> None:
    at = (_now() - timedelta(minutes=5)).astimezone().replace(tzinfo=None, microsecond=0)
    task = task_admin.add_task(
        dal, task_admin.NewTask("backfill", "gc", "acme", "once", at.isoformat(), "UTC", {})
    )
    assert task.next_run_at is not None and task.next_run_at <= _now()  # past: due at once
    runner = Calls()

    first = _worker(store, runner).run(once=True)
    second = _worker(store, runner, "w2").run(once=True)

    assert len(first.runs) == 1 and second.runs == [] and len(runner.calls) == 1
    done = dal.get_task("backfill")
    assert (done.status, done.next_run_at) == ("done", None)
    with pytest.raises(Exception, match="done"):
        task_admin.resume_task(dal, "backfill")


def test_a_failure_is_recorded_and_retried_after_the_backoff(
    dal: DataAccessLayer, store: DatasetStore
) -> None:
    _add(dal, "flaky", "interval", "1h", {"retry": {"count": 2, "backoff_seconds": 0.2}})
    _due(dal, "flaky", _now() - timedelta(seconds=1))
    runner = Calls(fail=2)

    first = _worker(store, runner).run(once=True)
    [failed] = first.runs
    assert not failed.success and failed.message == "RuntimeError: boom #1"
    assert failed.retry_in == pytest.approx(0.2)
    task = dal.get_task("flaky")
    assert task.attempt == 1 and task.next_run_at is not None
    assert task.next_run_at - _now() < timedelta(seconds=1)
    assert _worker(store, runner).run(once=True).runs == []  # the backoff has not passed

    _wait_until(task.next_run_at)
    second = _worker(store, runner).run(once=True).runs
    assert [(r.attempt, r.success, r.retry_in) for r in second] == [(2, False, pytest.approx(0.4))]
    task = dal.get_task("flaky")
    _wait_until(task.next_run_at)
    third = _worker(store, runner).run(once=True).runs
    assert [(r.attempt, r.success) for r in third] == [(3, True)]

    runs = dal.list_task_runs("flaky")
    assert [(r.attempt, r.success) for r in runs] == [(1, False), (2, False), (3, True)]
    assert len({r.occurrence_at for r in runs}) == 1  # three tries of one occurrence
    assert runs[0].metadata["error"] == {"type": "RuntimeError", "message": "boom #1"}
    task = dal.get_task("flaky")
    assert task.attempt == 0 and task.next_run_at is not None
    assert task.next_run_at - _now() > timedelta(minutes=59)


def test_a_failure_without_retries_left_waits_for_the_next_occurrence(
    dal: DataAccessLayer, store: DatasetStore
) -> None:
    _add(dal, "daily", "cron", "30 2 * * *")
    _due(dal, "daily", _now() - timedelta(seconds=1))

    [run] = _worker(store, Calls(fail=1)).run(once=True).runs

    assert not run.success and run.retry_in is None
    task = dal.get_task("daily")
    assert task.attempt == 0 and task.next_run_at is not None and task.next_run_at > _now()
    [recorded] = dal.list_task_runs("daily")
    assert recorded.success is False and recorded.message == "RuntimeError: boom #1"


def test_a_claim_whose_lease_expired_is_taken_over_and_the_occurrence_runs_again(
    dal: DataAccessLayer, store: DatasetStore
) -> None:
    _add(dal, "acme-gc", "interval", "1h")
    due = _now() - timedelta(seconds=1)
    _due(dal, "acme-gc", due)
    [dead] = dal.claim_due_tasks("dead-worker", timedelta(seconds=0.3))  # then its process died
    assert _worker(store, Calls(), "w2").run(once=True).runs == []  # the lease holds

    _wait_until(dead.claim_expires_at)
    [rerun] = _worker(store, Calls(), "w2").run(once=True).runs

    assert (rerun.attempt, rerun.success) == (2, True)
    abandoned, done = dal.list_task_runs("acme-gc")
    assert (abandoned.run_id, abandoned.worker_id, abandoned.success) == (dead.run_id, "dead-worker", False)
    assert abandoned.message is not None and abandoned.message.startswith("abandoned: worker dead-worker")
    assert done.worker_id == "w2" and done.occurrence_at == abandoned.occurrence_at == dead.occurrence_at
    # The dead worker's late finish is recorded nowhere else: the task stays where w2 left it.
    before = dal.get_task("acme-gc")
    late = TaskOutcome(True, "late", _now(), None, 0, {}, "done")
    assert dal.finish_task_claim(dead, late) is False
    assert dal.get_task("acme-gc") == before


def test_a_stop_in_the_middle_of_a_task_abandons_it_cleanly(
    dal: DataAccessLayer, store: DatasetStore
) -> None:
    _add(dal, "acme-gc", "interval", "1h")
    due = _now() - timedelta(seconds=1)
    _due(dal, "acme-gc", due)
    holder: dict[str, Worker] = {}

    def stopped(ctx: TaskContext, task: Task, cfg: Any, run_id: str) -> TaskResult:
        holder["worker"].request_stop("SIGTERM")  # the signal handler, as it runs in the task
        raise AssertionError("not reached")

    worker = holder["worker"] = _worker(store, stopped)
    report = worker.run()

    assert report.stopped_by == "SIGTERM"
    [run] = report.runs
    assert run.abandoned and not run.success and "abandoned: worker w1 stopped (SIGTERM)" in run.message
    task = dal.get_task("acme-gc")
    assert task.claimed_by is None and task.next_run_at == due.replace(microsecond=due.microsecond)
    [recorded] = dal.list_task_runs("acme-gc")
    assert recorded.success is False and recorded.finished_at is not None
    # Due again at once: the next worker runs it.
    [again] = _worker(store, Calls(), "w2").run(once=True).runs
    assert (again.attempt, again.success) == (2, True)


def test_a_task_changed_behind_the_schedulers_back_is_paused_naming_the_field(
    dal: DataAccessLayer, store: DatasetStore
) -> None:
    _add(dal, "acme-gc", "interval", "1h")
    dal.update_task(TaskUpdate("acme-gc", config={"keep": 0}), next_run_at=_now() - timedelta(seconds=1))

    [run] = _worker(store, Calls()).run(once=True).runs

    assert not run.success and "config_json.keep" in run.message
    assert dal.get_task("acme-gc").status == "paused"


def test_max_tasks_stops_the_worker(dal: DataAccessLayer, store: DatasetStore) -> None:
    for key in ("a", "b", "c"):
        _add(dal, key, "interval", "1h")
        _due(dal, key, _now() - timedelta(seconds=1))

    report = _worker(store, Calls()).run(max_tasks=2)

    assert len(report.runs) == 2 and report.stopped_by == "max-tasks"


def test_an_unscheduled_task_gets_its_first_occurrence(dal: DataAccessLayer, store: DatasetStore) -> None:
    from lakehouse.db.records import TaskSpec

    dal.create_task(TaskSpec("imported", "gc", "acme", "interval", "1h"))  # e.g. from legacy JSON
    assert dal.get_task("imported").next_run_at is None

    assert _worker(store, Calls()).run(once=True).runs == []

    task = dal.get_task("imported")
    assert task.next_run_at is not None and task.next_run_at > _now() + timedelta(minutes=59)


def test_sqlite_runs_one_worker_at_a_time(dal: DataAccessLayer, store: DatasetStore, backend: str) -> None:
    lock = dal.named_lock(SQLITE_WORKER_LOCK)
    assert lock.try_acquire()  # as another worker holds it
    try:
        if backend == "postgresql":  # claims keep several workers apart: the lock is not needed
            assert _worker(store, Calls()).run(once=True).stopped_by == "once"
            return
        with pytest.raises(WorkerRefusedError, match=r"SQLite runs one worker at a time") as refused:
            _worker(store, Calls()).run(once=True)
        assert str(dal.sqlite_file) in str(refused.value) and refused.value.exit_code == 3
    finally:
        lock.release()
    assert _worker(store, Calls()).run(once=True).stopped_by == "once"


def _lost(what: str) -> DatabaseUnavailableError:
    return DatabaseUnavailableError(
        "postgresql+psycopg://lakehouse@db/test", f"{what}: server closed the connection", True
    )


def test_a_worker_that_loses_the_control_plane_waits_tries_again_and_goes_on(
    dal: DataAccessLayer,
    store: DatasetStore,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(worker_module, "MIN_OUTAGE_WAIT", 0.01)
    _add(dal, "acme-gc", "interval", "1h")
    _due(dal, "acme-gc", _now() - timedelta(seconds=1))
    real_claim = dal.claim_due_tasks
    failures = iter([_lost("claim 1"), _lost("claim 2")])

    def flaky_claim(*args: Any, **kwargs: Any) -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(dal, "claim_due_tasks", flaky_claim)
    runner = Calls()
    worker = _worker(store, runner)

    def ran_once(ctx: TaskContext, task: Task, cfg: Any, run_id: str) -> TaskResult:
        worker.drain("done")
        return runner(ctx, task, cfg, run_id)

    worker.runners = dict.fromkeys(TASK_TYPES, ran_once)
    with caplog.at_level(logging.WARNING, logger="lakehouse.ops.worker"):
        report = worker.run()

    assert [r.success for r in report.runs] == [True]
    assert [r.success for r in dal.list_task_runs("acme-gc")] == [True]
    said = [r.getMessage() for r in caplog.records]
    assert sum("claim 1: server closed the connection" in m and "tries again in" in m for m in said) == 1
    assert sum("claim 2" in m for m in said) == 1
    assert any("the control plane is back" in m for m in said)


def test_an_occurrence_the_worker_could_not_record_runs_again_after_the_lease(
    dal: DataAccessLayer, store: DatasetStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection goes while a task runs: its failure cannot be recorded either. The worker waits
    for the control plane; once the claim's lease lapses, the occurrence runs again, and is recorded."""
    monkeypatch.setattr(worker_module, "MIN_OUTAGE_WAIT", 0.01)
    _add(dal, "acme-gc", "interval", "1h")
    due = _now() - timedelta(seconds=1)
    _due(dal, "acme-gc", due)
    real_finish = dal.finish_task_claim
    down = {"finish": True}

    def finish(*args: Any, **kwargs: Any) -> Any:
        if down.pop("finish", False):
            raise _lost("finish")
        return real_finish(*args, **kwargs)

    monkeypatch.setattr(dal, "finish_task_claim", finish)
    attempts: list[int] = []
    worker = _worker(store, Calls(), lease=1)

    def runner(ctx: TaskContext, task: Task, cfg: Any, run_id: str) -> TaskResult:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            raise _lost("build")
        worker.drain("done")
        return TaskResult("ran", {})

    worker.runners = dict.fromkeys(TASK_TYPES, runner)
    report = worker.run()

    assert attempts == [1, 2]
    assert [(r.attempt, r.success) for r in report.runs] == [(2, True)]
    first, second = dal.list_task_runs("acme-gc")
    assert first.success is False and first.occurrence_at == second.occurrence_at == due.replace(
        microsecond=due.microsecond
    )
    assert (second.attempt, second.success) == (2, True)


def test_a_worker_run_once_fails_on_a_lost_control_plane(
    dal: DataAccessLayer, store: DatasetStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def lost(*args: Any, **kwargs: Any) -> Any:
        raise _lost("claim")

    monkeypatch.setattr(dal, "claim_due_tasks", lost)
    with pytest.raises(DatabaseUnavailableError, match="claim: server closed the connection"):
        _worker(store, Calls()).run(once=True)


def test_a_stop_that_reaches_the_worker_wrapped_in_another_error_still_abandons_the_task(
    dal: DataAccessLayer, store: DatasetStore
) -> None:
    """DuckDB turns an exception raised by a signal handler during a query into
    ``RuntimeError: Query interrupted``: a stop is a stop, not a failure of the task."""
    _add(dal, "acme-gc", "interval", "1h")
    due = _now() - timedelta(seconds=1)
    _due(dal, "acme-gc", due)
    holder: dict[str, Worker] = {}

    def in_a_query(ctx: TaskContext, task: Task, cfg: Any, run_id: str) -> TaskResult:
        try:
            holder["worker"].request_stop("SIGTERM")
        except BaseException:
            raise RuntimeError("Query interrupted") from None
        raise AssertionError("not reached")

    worker = holder["worker"] = _worker(store, in_a_query)
    [run] = worker.run().runs

    assert run.abandoned and not run.success
    assert (
        "abandoned: worker w1 stopped (SIGTERM; the task ended with RuntimeError: Query interrupted)"
        in run.message
    )
    task = dal.get_task("acme-gc")
    assert task.claimed_by is None and task.next_run_at == due.replace(microsecond=due.microsecond)
