"""Several worker processes on one control plane (PostgreSQL, and one on SQLite): no occurrence runs
twice, none is lost; a worker killed mid-task has its occurrence run again after the lease, exactly
once more; SIGTERM stops a worker cleanly (exit 0, its run marked, its claim released).

The workers are real processes (``tests/ops/worker_proc.py``) running the real :class:`Worker`;
only the task runners are replaced by one that writes down what it ran.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import TaskSpec
from tests.data_fixtures import REPO

pytestmark = pytest.mark.xdist_group("scheduler-workers")  # heavy on 2 cores: one module at a time


def _now() -> datetime:
    return datetime.now(UTC)


def _spawn(
    worker_id: str, seconds: float, db_url: str, log: Path, lease: float = 30, **env: str
) -> subprocess.Popen[str]:
    child = dict(os.environ)
    child.update(
        {
            "LAKEHOUSE_DATABASE_URL": db_url,
            "LAKEHOUSE_DATA_ROOT": str(log.parent / "data"),
            "LAKEHOUSE_CONFIG_DIR": str(REPO / "config"),
            "WORKER_LOG": str(log),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")])),
            **env,
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ops.worker_proc", worker_id, str(seconds), str(lease)],
        env=child,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lines(log: Path) -> list[list[str]]:
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def _wait_for(predicate: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def _finish(procs: list[subprocess.Popen[str]], timeout: float = 120) -> None:
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, (proc.args, out, err[-3000:])


def _add_tasks(dal: DataAccessLayer, intervals: int, onces: int) -> None:
    past = _now() - timedelta(seconds=1)
    for i in range(intervals):
        dal.create_task(TaskSpec(f"every-{i}", "gc", "acme", "interval", "1s"), next_run_at=past)
    for i in range(onces):
        at = (past - timedelta(minutes=i)).isoformat()
        dal.create_task(TaskSpec(f"once-{i}", "gc", "acme", "once", at), next_run_at=past)
    # A cron task overdue by hours: caught up once, then at its next minute.
    dal.create_task(
        TaskSpec("cron", "gc", "acme", "cron", "* * * * *"), next_run_at=past - timedelta(hours=3)
    )


@pytest.mark.postgres
@pytest.mark.parametrize("workers", [2, 8])
def test_workers_never_run_an_occurrence_twice_and_never_lose_one(
    workers: int, pg_migrated_url: str, tmp_path: Path
) -> None:
    from tests.conftest import _truncate_all

    _truncate_all(pg_migrated_url)
    dal = DataAccessLayer.from_url(pg_migrated_url)
    try:
        _add_tasks(dal, intervals=3, onces=12)
        log = tmp_path / "runs.log"
        seconds = 6 + workers * 0.75  # start-up of 8 interpreters on 2 cores takes a while
        procs = [
            _spawn(f"w{i}", seconds, pg_migrated_url, log, WORKER_TASK_SECONDS="0.05") for i in range(workers)
        ]
        _finish(procs)

        lines = _lines(log)
        ran = Counter((key, occurrence, attempt) for key, occurrence, attempt, _w, _r in lines)
        assert ran and max(ran.values()) == 1, [k for k, n in ran.items() if n > 1]
        # Every try ran once: by task and occurrence, each once (no retries: nothing failed).
        by_occurrence = Counter((key, occurrence) for key, occurrence, _a, _w, _r in lines)
        assert max(by_occurrence.values()) == 1
        assert len({w for _k, _o, _a, w, _r in lines}) >= 2, "the work was shared"

        tasks = {t.task_key: t for t in dal.list_tasks()}
        recorded = {key: dal.list_task_runs(key) for key in tasks}
        assert sorted(r.run_id for runs in recorded.values() for r in runs) == sorted(r for *_x, r in lines)
        assert all(r.success for runs in recorded.values() for r in runs)
        for i in range(12):  # each once task: exactly one run, done
            assert len(recorded[f"once-{i}"]) == 1 and tasks[f"once-{i}"].status == "done"
        for i in range(3):  # each interval task: a chain of occurrences, none lost
            runs = recorded[f"every-{i}"]
            assert len(runs) >= 3
            for before, after in zip(runs, runs[1:], strict=False):
                assert before.finished_at is not None
                assert after.occurrence_at == before.finished_at + timedelta(seconds=1)
            task = tasks[f"every-{i}"]
            assert task.claimed_by is None and task.next_run_at is not None
            assert task.next_run_at > runs[-1].finished_at  # type: ignore[operator]
        # Caught up once, not 180 times (and once more if the run crossed a minute).
        assert 1 <= len(recorded["cron"]) <= 2
    finally:
        dal.close()


@pytest.mark.postgres
def test_a_worker_killed_mid_task_has_its_occurrence_run_again_after_the_lease_exactly_once(
    pg_migrated_url: str, tmp_path: Path
) -> None:
    from tests.conftest import _truncate_all

    _truncate_all(pg_migrated_url)
    dal = DataAccessLayer.from_url(pg_migrated_url)
    try:
        due = _now() - timedelta(seconds=1)
        dal.create_task(TaskSpec("slow", "gc", "acme", "interval", "1h"), next_run_at=due)
        log = tmp_path / "runs.log"
        doomed = _spawn(
            "doomed", 120, pg_migrated_url, log, lease=2, WORKER_SLOW_TASK="slow", WORKER_SLOW_SECONDS="120"
        )
        _wait_for(lambda: any(line[0] == "slow" for line in _lines(log)))
        doomed.send_signal(signal.SIGKILL)
        doomed.communicate(timeout=30)
        survivor = _spawn("survivor", 8, pg_migrated_url, log, lease=2)
        _finish([survivor])

        lines = _lines(log)
        assert [(line[0], line[2], line[3]) for line in lines] == [
            ("slow", "1", "doomed"),
            ("slow", "2", "survivor"),
        ]
        assert lines[0][1] == lines[1][1]  # the same occurrence
        first, second = dal.list_task_runs("slow")
        assert (first.worker_id, first.success) == ("doomed", False)
        assert (
            first.message is not None
            and "abandoned: worker doomed stopped renewing its claim" in first.message
        )
        assert (second.worker_id, second.success, second.attempt) == ("survivor", True, 2)
        task = dal.get_task("slow")
        assert task.claimed_by is None and task.attempt == 0
        assert task.next_run_at is not None and task.next_run_at > _now() + timedelta(minutes=50)
    finally:
        dal.close()


def test_sigterm_in_a_task_abandons_it_and_exits_0(db_url: str, dal: DataAccessLayer, tmp_path: Path) -> None:
    due = _now() - timedelta(seconds=1)
    dal.create_task(TaskSpec("slow", "gc", "acme", "interval", "1h"), next_run_at=due)
    log = tmp_path / "runs.log"
    proc = _spawn("w1", 120, db_url, log, WORKER_SLOW_TASK="slow", WORKER_SLOW_SECONDS="120")
    _wait_for(lambda: bool(_lines(log)))

    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 0, err
    assert Path(f"{log}.w1.done").read_text().split() == ["1", "SIGTERM"]
    [run] = dal.list_task_runs("slow")
    assert run.success is False and run.finished_at is not None
    assert run.message is not None and run.message.startswith("abandoned: worker w1 stopped (SIGTERM)")
    task = dal.get_task("slow")
    assert task.claimed_by is None and task.next_run_at == due.replace(microsecond=due.microsecond)
