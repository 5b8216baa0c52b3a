"""Scheduler tasks and their runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lakehouse.db.models import SchedulerRun, SchedulerTask, table_of
from lakehouse.db.records import Task, TaskClaim, TaskOutcome, TaskRun, TaskSpec, TaskUpdate
from lakehouse.db.types import utcnow
from lakehouse.errors import AlreadyExistsError, NotFoundError


def _to_task(row: SchedulerTask) -> Task:
    return Task(
        id=row.id,
        task_key=row.task_key,
        task_type=row.task_type,
        company=row.company,
        config=dict(row.config_json or {}),
        schedule_type=row.schedule_type,
        schedule_expr=row.schedule_expr,
        timezone=row.timezone,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        next_run_at=row.next_run_at,
        attempt=row.attempt or 0,
        claimed_by=row.claimed_by,
        claim_expires_at=row.claim_expires_at,
    )


def _to_run(task_key: str, r: SchedulerRun) -> TaskRun:
    return TaskRun(
        task_key=task_key,
        run_id=r.run_id,
        started_at=r.started_at,
        finished_at=r.finished_at,
        success=r.success,
        message=r.message,
        metadata=dict(r.metadata_json or {}),
        occurrence_at=r.occurrence_at,
        attempt=r.attempt,
        worker_id=r.worker_id,
    )


class SqlSchedulerRepo:
    """Queries over ``scheduler_tasks`` and ``scheduler_runs``."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def create_task(self, spec: TaskSpec, next_run_at: datetime | None = None) -> Task:
        now = utcnow()
        row = SchedulerTask(
            task_key=spec.task_key,
            task_type=spec.task_type,
            company=spec.company,
            config_json=dict(spec.config),
            schedule_type=spec.schedule_type,
            schedule_expr=spec.schedule_expr,
            timezone=spec.timezone,
            status=spec.status,
            created_at=spec.created_at or now,
            updated_at=spec.updated_at or spec.created_at or now,
            next_run_at=next_run_at,
        )
        try:
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
        except IntegrityError as exc:
            if self._get(spec.task_key) is not None:
                raise AlreadyExistsError("scheduler task", spec.task_key) from exc
            raise
        return _to_task(row)

    def _get(self, task_key: str) -> SchedulerTask | None:
        return self._session.scalars(select(SchedulerTask).where(SchedulerTask.task_key == task_key)).first()

    def _require(self, task_key: str) -> SchedulerTask:
        row = self._get(task_key)
        if row is None:
            raise NotFoundError("scheduler task", task_key)
        return row

    def get_task(self, task_key: str) -> Task:
        return _to_task(self._require(task_key))

    def update_task(self, update: TaskUpdate, next_run_at: datetime | None = None) -> Task:
        row = self._require(update.task_key)
        if next_run_at is not None:
            row.next_run_at = next_run_at
            row.attempt = 0
        for attr, value in (
            ("task_type", update.task_type),
            ("schedule_type", update.schedule_type),
            ("schedule_expr", update.schedule_expr),
            ("timezone", update.timezone),
            ("status", update.status),
        ):
            if value is not None:
                setattr(row, attr, value)
        if update.config is not None:
            row.config_json = dict(update.config)
        row.updated_at = utcnow()
        self._session.flush()
        return _to_task(row)

    def list_active_tasks(self, company: str | None = None) -> list[Task]:
        query = select(SchedulerTask).where(SchedulerTask.status == "active")
        if company is not None:
            query = query.where(SchedulerTask.company == company)
        return [_to_task(r) for r in self._session.scalars(query.order_by(SchedulerTask.task_key))]

    def record_task_run(self, run: TaskRun) -> None:
        task = self._require(run.task_key)
        row = SchedulerRun(
            task_id=task.id,
            run_id=run.run_id,
            started_at=run.started_at,
            finished_at=run.finished_at,
            success=run.success,
            message=run.message,
            duration_ms=run.duration_ms,
            metadata_json=dict(run.metadata),
            occurrence_at=run.occurrence_at,
            attempt=run.attempt,
            worker_id=run.worker_id,
        )
        try:
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
        except IntegrityError as exc:
            raise AlreadyExistsError("scheduler run", run.run_id) from exc

    def list_task_runs(self, task_key: str, limit: int | None = None) -> list[TaskRun]:
        """The task's runs, oldest first (the newest ``limit`` if given)."""
        task = self._require(task_key)
        query = select(SchedulerRun).where(SchedulerRun.task_id == task.id)
        if limit is None:
            rows = list(self._session.scalars(query.order_by(SchedulerRun.started_at, SchedulerRun.run_id)))
        else:
            newest = query.order_by(SchedulerRun.started_at.desc(), SchedulerRun.run_id.desc()).limit(limit)
            rows = list(reversed(list(self._session.scalars(newest))))
        return [_to_run(task_key, r) for r in rows]

    def get_task_run(self, run_id: str) -> TaskRun:
        row = self._session.execute(
            select(SchedulerRun, SchedulerTask.task_key)
            .join(SchedulerTask, SchedulerTask.id == SchedulerRun.task_id)
            .where(SchedulerRun.run_id == run_id)
        ).first()
        if row is None:
            raise NotFoundError("scheduler run", run_id)
        return _to_run(row[1], row[0])

    def list_tasks(self, company: str | None = None, statuses: Sequence[str] | None = None) -> list[Task]:
        query = select(SchedulerTask)
        if company is not None:
            query = query.where(SchedulerTask.company == company)
        if statuses is not None:
            query = query.where(SchedulerTask.status.in_(list(statuses)))
        return [_to_task(r) for r in self._session.scalars(query.order_by(SchedulerTask.task_key))]

    def unscheduled_tasks(self) -> list[Task]:
        """Active tasks without a next occurrence (added before the scheduler computed them)."""
        query = select(SchedulerTask).where(
            SchedulerTask.status == "active", SchedulerTask.next_run_at.is_(None)
        )
        return [_to_task(r) for r in self._session.scalars(query.order_by(SchedulerTask.task_key))]

    def schedule(self, task_key: str, next_run_at: datetime) -> bool:
        """Set the first occurrence of an active unscheduled task; False if it was set meanwhile."""
        tasks = table_of(SchedulerTask)
        result = self._session.execute(
            update(tasks)
            .where(tasks.c.task_key == task_key, tasks.c.status == "active", tasks.c.next_run_at.is_(None))
            .values(next_run_at=next_run_at, attempt=0)
            .returning(tasks.c.id)
        )
        return result.first() is not None

    def claim_due(
        self,
        worker_id: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        new_run_id: Callable[[], str],
        only: Sequence[str] | None = None,
    ) -> list[TaskClaim]:
        """Claim up to ``limit`` due tasks for ``worker_id``: active, ``next_run_at`` reached, not
        claimed (or claimed by a worker whose lease expired), the most overdue first.

        The rows are locked with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so concurrent workers each
        get different tasks and never wait on each other. For each claimed task the try counter goes
        up by one, the claim is written, a run row is recorded (started), and any run of the task
        still open (its worker lost the claim) is closed as abandoned.
        """
        due = (
            select(SchedulerTask)
            .where(
                SchedulerTask.status == "active",
                SchedulerTask.next_run_at.is_not(None),
                SchedulerTask.next_run_at <= now,
                or_(SchedulerTask.claimed_by.is_(None), SchedulerTask.claim_expires_at <= now),
            )
            .where(SchedulerTask.task_key.in_(list(only)) if only is not None else true())
            .order_by(SchedulerTask.next_run_at, SchedulerTask.task_key)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        claims: list[TaskClaim] = []
        for row in list(self._session.scalars(due)):
            if row.claimed_by is not None:
                self._close_abandoned(row, now)
            occurrence = row.next_run_at
            assert occurrence is not None  # the query takes only tasks with a next_run_at
            if row.attempt:  # tried before: a retry (or a takeover) of the occurrence the last run had
                last = self._session.scalar(
                    select(SchedulerRun.occurrence_at)
                    .where(SchedulerRun.task_id == row.id)
                    .order_by(SchedulerRun.started_at.desc(), SchedulerRun.attempt.desc())
                    .limit(1)
                )
                occurrence = last or occurrence
            row.attempt = (row.attempt or 0) + 1
            row.claimed_by = worker_id
            row.claim_expires_at = now + lease
            run = SchedulerRun(
                task_id=row.id,
                run_id=new_run_id(),
                started_at=now,
                occurrence_at=occurrence,
                attempt=row.attempt,
                worker_id=worker_id,
                metadata_json={},
            )
            self._session.add(run)
            self._session.flush()
            claims.append(
                TaskClaim(
                    task=_to_task(row),
                    run_id=run.run_id,
                    occurrence_at=occurrence,
                    attempt=row.attempt,
                    worker_id=worker_id,
                    started_at=now,
                    claim_expires_at=now + lease,
                )
            )
        return claims

    def _close_abandoned(self, task: SchedulerTask, now: datetime) -> None:
        runs = table_of(SchedulerRun)
        self._session.execute(
            update(runs)
            .where(runs.c.task_id == task.id, runs.c.finished_at.is_(None))
            .values(
                finished_at=now,
                success=False,
                message=(
                    f"abandoned: worker {task.claimed_by} stopped renewing its claim "
                    f"(lease expired {task.claim_expires_at:%Y-%m-%d %H:%M:%S} UTC); the occurrence runs again"
                ),
            )
        )

    def renew_claim(self, task_id: object, worker_id: str, attempt: int, until: datetime) -> bool:
        """Extend a worker's claim; False if it no longer holds it (another worker took over)."""
        tasks = table_of(SchedulerTask)
        result = self._session.execute(
            update(tasks)
            .where(tasks.c.id == task_id, tasks.c.claimed_by == worker_id, tasks.c.attempt == attempt)
            .values(claim_expires_at=until)
            .returning(tasks.c.id)
        )
        return result.first() is not None

    def finish_claim(self, claim: TaskClaim, outcome: TaskOutcome) -> bool:
        """Record how the claimed occurrence ended, and (if the worker still holds the claim) move the
        task on and release the claim; False when the claim was lost meanwhile (the run is still
        recorded, the task is left to the worker that took it over)."""
        runs = table_of(SchedulerRun)
        duration = int((outcome.finished_at - claim.started_at).total_seconds() * 1000)
        self._session.execute(
            update(runs)
            .where(runs.c.run_id == claim.run_id, runs.c.finished_at.is_(None))
            .values(
                finished_at=outcome.finished_at,
                success=outcome.success,
                message=outcome.message,
                duration_ms=duration,
                metadata_json=dict(outcome.metadata),
            )
        )
        tasks = table_of(SchedulerTask)
        values: dict[str, object] = {
            "next_run_at": outcome.next_run_at,
            "attempt": outcome.attempt,
            "claimed_by": None,
            "claim_expires_at": None,
            "updated_at": outcome.finished_at,
        }
        if outcome.status is not None:
            values["status"] = outcome.status
        result = self._session.execute(
            update(tasks)
            .where(
                tasks.c.id == claim.task.id,
                tasks.c.claimed_by == claim.worker_id,
                tasks.c.attempt == claim.attempt,
            )
            .values(values)
            .returning(tasks.c.id)
        )
        return result.first() is not None
