"""The scheduler worker (``lakehouse scheduler run``): claims due tasks on the control plane, runs
them, records each run, and moves each task to its next occurrence.

One loop: give unscheduled tasks their first occurrence; claim one due task
(:meth:`DataAccessLayer.claim_due_tasks`: ``FOR UPDATE SKIP LOCKED`` plus a lease on PostgreSQL, so
several workers never run one occurrence twice); run it under a thread that renews the lease; record
how it ended and the task's next due time in one transaction (:meth:`finish_task_claim`). A worker
killed mid-task stops renewing: once its lease expires another worker takes the claim over, closes
the dead worker's run as abandoned and runs the occurrence again.

What comes next is decided by :func:`plan_next`: after a success, or a failure with no retry left,
the schedule's next occurrence after now (missed ones are caught up once); a failure with
``retry.count`` left is tried again after the backoff; a ``once`` task is ``done`` after its
occurrence. SIGTERM or Ctrl-C: idle, the worker exits at once; in a task, the task is abandoned (its
pipeline run marked failed as any failure is, its scheduler run closed "abandoned", its claim
released so the occurrence is due again at once), and the worker exits 0.

A running worker that loses its control plane (PostgreSQL restarts, the network drops) does not exit:
it says so and tries again, waiting longer each time (up to a minute); an occurrence it could not
record is due again for any worker once its claim's lease lapses (``--once`` fails instead).

An SQLite control plane serialises every writer, so it runs one worker at a time: a second one is
refused (:class:`WorkerRefusedError`) while the first holds the worker lock.

A failure with no sooner retry left is announced (a ``failed`` notification, once per failure streak:
:mod:`lakehouse.ops.task_alerts`) on the channels of ``notifications`` in global.json.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse.db.records import Task, TaskClaim, TaskOutcome, TaskRun, TaskStatus
from lakehouse.errors import DatabaseUnavailableError, LakehouseError, WorkerRefusedError
from lakehouse.ops.schedule import MIN_INTERVAL, Schedule
from lakehouse.ops.task_config import Retry, parse_task_config
from lakehouse.ops.tasks import RUNNERS, Runner, TaskContext

if TYPE_CHECKING:
    from lakehouse.ops.notify import Notifier

logger = logging.getLogger(__name__)

#: The lock an SQLite control plane's one worker holds.
SQLITE_WORKER_LOCK = "scheduler-worker"


def default_worker_id() -> str:
    """``<host>:<pid>``: unique among the workers running now."""
    return f"{socket.gethostname()}:{os.getpid()}"


class WorkerStop(BaseException):  # noqa: N818 - a signal, not an error: `except Exception` must not catch it
    """Raised in the task being run when the worker is told to stop (SIGTERM, Ctrl-C)."""


@dataclass(frozen=True)
class Plan:
    """What a task does after an occurrence: its next due time, try counter and status."""

    next_run_at: datetime | None
    attempt: int
    status: TaskStatus | None = None
    retry_in: float | None = None


def plan_next(schedule: Schedule, retry: Retry, claim: TaskClaim, success: bool, now: datetime) -> Plan:
    """The task's next due time after ``claim``'s occurrence ended (``success`` or not) at ``now``.

    A failure with retries left (``claim.attempt <= retry.count``) is tried again after the backoff
    (but not after the next regular occurrence); otherwise the next occurrence after ``now``.
    A ``once`` task whose occurrence is over is ``done``.
    """
    regular = schedule.after_run(now)
    if not success and claim.attempt <= retry.count:
        delay = retry.delay(claim.attempt)
        again = now + timedelta(seconds=delay)
        if regular is None or again < regular:
            return Plan(again, claim.attempt, retry_in=delay)
    if regular is None:
        return Plan(None, 0, status="done")
    return Plan(regular, 0)


@dataclass(frozen=True)
class RunSummary:
    """One occurrence a worker ran: shown as it ends, and in the worker's report."""

    task_key: str
    task_type: str
    run_id: str
    attempt: int
    success: bool
    message: str
    duration_ms: int
    next_run_at: datetime | None
    retry_in: float | None = None
    abandoned: bool = False


@dataclass
class WorkerReport:
    """What one ``scheduler run`` did."""

    worker_id: str
    runs: list[RunSummary] = field(default_factory=list)
    #: Why the worker stopped: "once" (nothing due), "max-tasks", or a signal's name.
    stopped_by: str | None = None

    @property
    def failed(self) -> int:
        return sum(1 for r in self.runs if not r.success)


class Worker:
    """A scheduler worker over one control plane and data root.

    Args:
        ctx: the store, config and settings the tasks run with.
        worker_id: the claim holder's name (default ``<host>:<pid>``).
        lease: how long a claim lasts unless renewed (a third of it is the renewal period).
        poll_seconds: how often an idle worker looks for due tasks.
        runners: the runner of each task type (tests replace them).
        min_interval: the shortest interval schedule accepted (tests use shorter ones).
        legacy_dir: compatibility mode: also append every run to ``<legacy_dir>/runs.jsonl``.
        on_start: told once the worker may run (on SQLite: once it holds the one-worker lock).
        on_claim: told of each claimed occurrence before it runs.
        on_run: told of each occurrence as it ends.
        only: run only these tasks (by key); default every task.
        announce_failures: send a ``failed`` notification when a task fails with no retry left.
    """

    def __init__(
        self,
        ctx: TaskContext,
        worker_id: str | None = None,
        *,
        lease: timedelta = timedelta(minutes=5),
        poll_seconds: float = 5.0,
        runners: Mapping[str, Runner] = RUNNERS,
        min_interval: timedelta = MIN_INTERVAL,
        legacy_dir: Path | None = None,
        on_start: Callable[[], None] | None = None,
        on_claim: Callable[[TaskClaim], None] | None = None,
        on_run: Callable[[RunSummary], None] | None = None,
        only: Collection[str] | None = None,
        announce_failures: bool = True,
    ) -> None:
        self.ctx = ctx
        self.dal = ctx.store.dal
        self.worker_id = worker_id or default_worker_id()
        self.lease = lease
        self.poll_seconds = poll_seconds
        self.runners = runners
        self.min_interval = min_interval
        self.legacy_dir = legacy_dir
        self._on_start = on_start
        self._on_claim = on_claim
        self._on_run = on_run
        self.only = None if only is None else sorted(only)
        self.announce_failures = announce_failures
        self._notifier: Notifier | None = None
        self._stop = threading.Event()
        self._stop_reason: str | None = None
        self._in_task = False
        #: Why the task in progress was stopped (the stop may reach the worker wrapped in another
        #: error: DuckDB turns an exception raised in a query into "Query interrupted").
        self._stopped_in_task: str | None = None

    # --- control ----------------------------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        """Stop the worker (from a signal handler of the main thread): at once when idle; in a task,
        by raising :class:`WorkerStop` in it, so it is abandoned cleanly."""
        self._stop_reason = reason
        self._stop.set()
        if self._in_task:
            self._in_task = False  # raise once
            self._stopped_in_task = reason
            raise WorkerStop(reason)

    def drain(self, reason: str) -> None:
        """Stop the worker once its current task (if any) has finished (thread-safe)."""
        self._stop_reason = reason
        self._stop.set()

    def run(self, once: bool = False, max_tasks: int | None = None) -> WorkerReport:
        """Run due tasks until stopped; with ``once``, only those due now; at most ``max_tasks``.

        Raises:
            WorkerRefusedError: another worker holds an SQLite control plane.
        """
        report = WorkerReport(self.worker_id)
        with self._exclusive():
            if self._on_start is not None:
                self._on_start()
            outage: _Outage | None = None
            while not self._stop.is_set():
                if max_tasks is not None and len(report.runs) >= max_tasks:
                    report.stopped_by = "max-tasks"
                    break
                try:
                    self._schedule_unscheduled()
                    claims = self.dal.claim_due_tasks(self.worker_id, self.lease, limit=1, only=self.only)
                    if outage is not None:
                        logger.warning(
                            "the control plane is back after %.0fs; the worker goes on", outage.seconds
                        )
                        outage = None
                    if not claims:
                        if once:
                            report.stopped_by = "once"
                            break
                        self._stop.wait(self.poll_seconds)
                        continue
                    summary = self._execute(claims[0])
                except DatabaseUnavailableError as exc:
                    if once:
                        raise
                    outage = outage or _Outage(self.poll_seconds)
                    self._stop.wait(outage.next_wait(exc))
                    continue
                report.runs.append(summary)
                if summary.abandoned:
                    break
        if report.stopped_by is None:
            report.stopped_by = self._stop_reason
        return report

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        if self.dal.sqlite_file is None:
            yield
            return
        lock = self.dal.named_lock(SQLITE_WORKER_LOCK)
        if not lock.try_acquire():
            raise WorkerRefusedError(
                f"another scheduler worker is running on this SQLite control plane ({self.dal.sqlite_file}): "
                "SQLite runs one worker at a time; stop it first, or use PostgreSQL "
                "(LAKEHOUSE_DATABASE_URL) to run several"
            )
        try:
            yield
        finally:
            lock.release()

    # --- one occurrence ---------------------------------------------------------------------------

    def _schedule_unscheduled(self) -> None:
        now = _now()
        for task in self.dal.unscheduled_tasks():
            try:
                schedule = Schedule.parse(
                    task.schedule_type, task.schedule_expr, task.timezone, self.min_interval
                )
            except LakehouseError as exc:
                logger.warning(
                    "task %s is not scheduled: %s (fix it with `lakehouse scheduler update`)",
                    task.task_key,
                    exc,
                )
                continue
            first = schedule.first_run(now)
            if first is not None:
                self.dal.schedule_task(task.task_key, first)

    def _execute(self, claim: TaskClaim) -> RunSummary:
        task = claim.task
        if self._on_claim is not None:
            self._on_claim(claim)
        started = time.monotonic()
        metadata: dict[str, Any] = {"worker_id": self.worker_id, "attempt": claim.attempt}
        abandoned = False
        try:
            schedule = Schedule.parse(
                task.schedule_type, task.schedule_expr, task.timezone, self.min_interval
            )
            cfg = parse_task_config(task.task_type, task.config)
        except LakehouseError as exc:
            # A task changed behind the scheduler's back (e.g. imported): it cannot run until fixed.
            message = f"paused: {exc} (fix it with `lakehouse scheduler update {task.task_key}`)"
            outcome = TaskOutcome(
                False, message, _now(), claim.occurrence_at, claim.attempt, metadata, "paused"
            )
            return self._finish(claim, outcome, started, None)
        runner = self.runners[task.task_type]
        success = False
        self._stopped_in_task = None
        try:
            with self._renewing(claim):
                self._in_task = True
                try:
                    result = runner(self.ctx, task, cfg, claim.run_id)
                finally:
                    self._in_task = False
            success, message = True, result.message
            metadata.update(result.metadata)
        except WorkerStop as stop:
            abandoned = True
            message = f"abandoned: worker {self.worker_id} stopped ({stop}); the occurrence is due again"
        except Exception as exc:  # the task failed: recorded, retried as its config says
            error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
            if self._stopped_in_task is not None:  # the stop, wrapped on its way out of the task
                abandoned = True
                message = (
                    f"abandoned: worker {self.worker_id} stopped ({self._stopped_in_task}; the task "
                    f"ended with {error}); the occurrence is due again"
                )
            else:
                logger.info("task %s failed", task.task_key, exc_info=True)
                message = error
                metadata["error"] = {"type": type(exc).__name__, "message": str(exc)}
        now = _now()
        if abandoned:
            plan = Plan(claim.occurrence_at, claim.attempt)
        else:
            plan = plan_next(schedule, cfg.retry, claim, success, now)
        outcome = TaskOutcome(success, message, now, plan.next_run_at, plan.attempt, metadata, plan.status)
        return self._finish(claim, outcome, started, plan.retry_in, abandoned)

    def _finish(
        self,
        claim: TaskClaim,
        outcome: TaskOutcome,
        started: float,
        retry_in: float | None,
        abandoned: bool = False,
    ) -> RunSummary:
        held = self.dal.finish_task_claim(claim, outcome)
        if not held:
            logger.warning(
                "worker %s lost its claim of task %s while running it (its lease expired); "
                "the worker that took it over decides what comes next",
                self.worker_id,
                claim.task.task_key,
            )
        if self.legacy_dir is not None:
            self._append_legacy(claim, outcome)
        if held and not outcome.success and not abandoned and retry_in is None and self.announce_failures:
            self._announce_failure(claim, outcome)
        summary = RunSummary(
            task_key=claim.task.task_key,
            task_type=claim.task.task_type,
            run_id=claim.run_id,
            attempt=claim.attempt,
            success=outcome.success,
            message=outcome.message,
            duration_ms=int((time.monotonic() - started) * 1000),
            next_run_at=outcome.next_run_at,
            retry_in=retry_in,
            abandoned=abandoned,
        )
        if self._on_run is not None:
            self._on_run(summary)
        return summary

    def _announce_failure(self, claim: TaskClaim, outcome: TaskOutcome) -> None:
        from lakehouse.ops.notify import Notifier
        from lakehouse.ops.task_alerts import announce_failure

        if self._notifier is None:
            try:
                self._notifier = Notifier.from_config(self.dal, self.ctx.config, self.ctx.store.root.root)
            except LakehouseError as exc:
                logger.warning("task failures are not announced: %s", exc)
                self.announce_failures = False
                return
        announce_failure(self.dal, self._notifier, claim.task, claim.run_id, outcome.message)

    def _append_legacy(self, claim: TaskClaim, outcome: TaskOutcome) -> None:
        from lakehouse.ops.legacy import append_run

        run = TaskRun(
            task_key=claim.task.task_key,
            run_id=claim.run_id,
            started_at=claim.started_at,
            finished_at=outcome.finished_at,
            success=outcome.success,
            message=outcome.message,
            metadata=dict(outcome.metadata),
            occurrence_at=claim.occurrence_at,
            attempt=claim.attempt,
            worker_id=claim.worker_id,
        )
        assert self.legacy_dir is not None
        try:
            append_run(self.legacy_dir, run)
        except OSError as exc:  # the DB has the run; the compatibility log is best effort
            logger.warning("could not append run %s to the legacy JSON log: %s", claim.run_id, exc)

    @contextmanager
    def _renewing(self, claim: TaskClaim) -> Iterator[None]:
        """Renew ``claim`` every third of the lease from a thread while the block runs."""
        done = threading.Event()
        every = max(self.lease.total_seconds() / 3, 0.05)

        def renew() -> None:
            while not done.wait(every):
                try:
                    if not self.dal.renew_task_claim(claim, self.lease):
                        logger.warning("worker %s lost its claim of %s", self.worker_id, claim.task.task_key)
                        return
                except Exception:  # the control plane is down for a moment: try again next period
                    logger.warning("could not renew the claim of %s", claim.task.task_key, exc_info=True)

        thread = threading.Thread(target=renew, name=f"claim-{claim.task.task_key}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()


class _Outage:
    """A running worker that lost its control plane waits and tries again: after ``poll_seconds``
    (at least 1 s), doubling up to :data:`MAX_OUTAGE_WAIT`, saying so on each try. An occurrence it
    was running when the connection went is not lost: its claim lapses after the lease and it is due
    again for any worker."""

    def __init__(self, poll_seconds: float) -> None:
        self.started = time.monotonic()
        self._wait = max(poll_seconds, MIN_OUTAGE_WAIT)

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def next_wait(self, exc: DatabaseUnavailableError) -> float:
        wait, self._wait = self._wait, min(self._wait * 2, MAX_OUTAGE_WAIT)
        logger.warning("%s (the worker tries again in %.0fs)", exc, wait)
        return wait


#: The shortest and the longest a worker waits between two tries of a control plane out of reach.
MIN_OUTAGE_WAIT = 1.0
MAX_OUTAGE_WAIT = 60.0


def describe_next(task: Task) -> str:
    """When a task runs next, for listings."""
    if task.status == "done":
        return "done"
    if task.status != "active":
        return task.status
    if task.next_run_at is None:
        return "not scheduled yet"
    return task.next_run_at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _now() -> datetime:
    return datetime.now(UTC)
