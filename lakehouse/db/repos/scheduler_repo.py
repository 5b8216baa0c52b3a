"""Scheduler tasks and their runs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lakehouse.db.models import SchedulerRun, SchedulerTask
from lakehouse.db.records import Task, TaskRun, TaskSpec, TaskUpdate
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
    )


class SqlSchedulerRepo:
    """Queries over ``scheduler_tasks`` and ``scheduler_runs``."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def create_task(self, spec: TaskSpec) -> Task:
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
            created_at=now,
            updated_at=now,
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

    def update_task(self, update: TaskUpdate) -> Task:
        row = self._require(update.task_key)
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
        )
        try:
            with self._session.begin_nested():
                self._session.add(row)
                self._session.flush()
        except IntegrityError as exc:
            raise AlreadyExistsError("scheduler run", run.run_id) from exc

    def list_task_runs(self, task_key: str) -> list[TaskRun]:
        task = self._require(task_key)
        rows = self._session.scalars(
            select(SchedulerRun).where(SchedulerRun.task_id == task.id).order_by(SchedulerRun.started_at)
        )
        return [
            TaskRun(
                task_key=task_key,
                run_id=r.run_id,
                started_at=r.started_at,
                finished_at=r.finished_at,
                success=r.success,
                message=r.message,
                metadata=dict(r.metadata_json or {}),
            )
            for r in rows
        ]
