"""Adding and changing scheduled tasks (``lakehouse scheduler add|update|pause|resume|delete``).

Everything a worker needs is checked here, when the task is added or changed, not at 3 a.m.: the
schedule (:class:`Schedule`), the arguments of the task type (:func:`parse_task_config`), the
company; the first occurrence is computed and stored (``next_run_at``). Folder arguments
(``drop_folder``, ``gates_dir``) are stored as absolute paths: a worker may run elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import Task, TaskRun, TaskSpec, TaskUpdate
from lakehouse.errors import AlreadyExistsError, InvalidStateError, UsageError
from lakehouse.names import validate_slug
from lakehouse.ops.schedule import Schedule
from lakehouse.ops.task_config import parse_task_config

#: Arguments that name a folder: stored absolute.
PATH_ARGUMENTS = ("drop_folder", "gates_dir")


@dataclass(frozen=True)
class NewTask:
    """A task as a user gives it."""

    task_key: str
    task_type: str
    company: str
    schedule_type: str
    schedule_expr: str
    timezone: str = "UTC"
    config: dict[str, Any] | None = None


def checked_config(task_type: str, config: dict[str, Any], base: Path | None = None) -> dict[str, Any]:
    """``config`` checked for ``task_type``, folder arguments made absolute (relative to ``base``,
    default the current folder).

    Raises:
        TaskConfigError: naming ``config_json.<field>``.
    """
    parse_task_config(task_type, config)
    out = dict(config)
    for name in PATH_ARGUMENTS:
        if isinstance(out.get(name), str):
            out[name] = str(((base or Path.cwd()) / Path(out[name]).expanduser()).resolve())
    return out


def add_task(dal: DataAccessLayer, new: NewTask, now: datetime | None = None) -> Task:
    """Check and add a task, due first at its schedule's first occurrence.

    Raises:
        ScheduleError / TaskConfigError: a field is refused (named). InvalidNameError: bad company.
        AlreadyExistsError: the key is taken (a deleted task's key too: ``update`` it instead).
    """
    validate_slug("task key", new.task_key)
    validate_slug("company", new.company)
    schedule = Schedule.parse(new.schedule_type, new.schedule_expr, new.timezone)
    config = checked_config(new.task_type, new.config or {})
    spec = TaskSpec(
        task_key=new.task_key,
        task_type=new.task_type,
        company=new.company,
        schedule_type=schedule.kind,
        schedule_expr=schedule.expr,
        timezone=schedule.timezone,
        config=config,
    )
    try:
        return dal.create_task(spec, schedule.first_run(now or _now()))
    except AlreadyExistsError:
        existing = dal.get_task(new.task_key)
        hint = (
            f" (deleted: `lakehouse scheduler resume {new.task_key}` brings it back)"
            if existing.status == "deleted"
            else ""
        )
        raise UsageError(
            f"a scheduled task {new.task_key!r} exists already{hint}; choose another key or "
            f"`lakehouse scheduler update {new.task_key}`"
        ) from None


def update_task(
    dal: DataAccessLayer,
    task_key: str,
    *,
    schedule_type: str | None = None,
    schedule_expr: str | None = None,
    timezone: str | None = None,
    config: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Task:
    """Change a task's schedule and/or arguments; a new schedule is due first at its next occurrence.

    Raises:
        NotFoundError: no such task. ScheduleError / TaskConfigError: a field is refused (named).
    """
    task = dal.get_task(task_key)
    kind = schedule_type or task.schedule_type
    expr = schedule_expr or task.schedule_expr
    if schedule_type is not None and schedule_expr is None and schedule_type != task.schedule_type:
        raise UsageError(f"--type {schedule_type} needs its --every/--cron/--at expression too")
    schedule = Schedule.parse(kind, expr, timezone or task.timezone)
    checked = checked_config(task.task_type, config) if config is not None else None
    rescheduled = (kind, expr, schedule.timezone) != (task.schedule_type, task.schedule_expr, task.timezone)
    next_run = schedule.first_run(now or _now()) if rescheduled and task.status == "active" else None
    if rescheduled and next_run is None and task.status == "active":
        raise UsageError(f"schedule_expr {expr!r}: that time is past, so the task would never run")
    return dal.update_task(
        TaskUpdate(
            task_key,
            schedule_type=schedule.kind,
            schedule_expr=schedule.expr,
            timezone=schedule.timezone,
            config=checked,
        ),
        next_run_at=next_run,
    )


def pause_task(dal: DataAccessLayer, task_key: str) -> Task:
    """Stop a task from running (a run in progress finishes)."""
    task = dal.get_task(task_key)
    if task.status not in ("active", "paused"):
        raise InvalidStateError("scheduled task", task_key, task.status, "pause it")
    return dal.update_task(TaskUpdate(task_key, status="paused"))


def resume_task(dal: DataAccessLayer, task_key: str, now: datetime | None = None) -> Task:
    """Run a paused (or deleted) task again from its next occurrence after now (the occurrences it
    missed while paused are not caught up); a ``once`` task whose time is past runs at once."""
    task = dal.get_task(task_key)
    if task.status == "done":
        raise InvalidStateError(
            "scheduled task", task_key, "done (a once task that ran)", "resume it; add a new one"
        )
    schedule = Schedule.parse(task.schedule_type, task.schedule_expr, task.timezone)
    moment = now or _now()
    first = schedule.first_run(moment) if schedule.kind == "once" else schedule.next_after(moment)
    assert first is not None
    return dal.update_task(TaskUpdate(task_key, status="active"), next_run_at=first)


def delete_task(dal: DataAccessLayer, task_key: str) -> Task:
    """Delete a task: it never runs again; its runs are kept (the key stays taken)."""
    dal.get_task(task_key)
    return dal.update_task(TaskUpdate(task_key, status="deleted"))


def list_tasks(dal: DataAccessLayer, company: str | None = None, include_deleted: bool = False) -> list[Task]:
    statuses: Sequence[str] | None = None if include_deleted else ("active", "paused", "done")
    return dal.list_tasks(company, statuses)


def recent_runs(dal: DataAccessLayer, task_key: str, limit: int = 10) -> list[TaskRun]:
    return dal.list_task_runs(task_key, limit=limit)


def _now() -> datetime:
    return datetime.now(UTC)
