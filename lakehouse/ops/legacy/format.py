"""The legacy JSON format of DataHound's scheduler state (docs/legacy-json.md): its files and entries.

A legacy folder holds ``tasks.json`` (``{"version": 1, "tasks": [...]}``, one object per task) and
``runs.jsonl`` (one run per line). :class:`LegacyTask` and :class:`LegacyRun` validate one entry each:
strict, unknown keys refused, timestamps ISO 8601 with an offset (kept in UTC). :func:`task_document`,
:func:`run_document` and :func:`run_line` write the control plane's tasks and runs as entries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    model_validator,
)

from lakehouse.db.records import Task, TaskRun, TaskSpec, TaskStatus
from lakehouse.names import SLUG_REGEX

LEGACY_VERSION: Final = 1
TASKS_FILE: Final = "tasks.json"
RUNS_FILE: Final = "runs.jsonl"


_TIMESTAMP_EXAMPLE: Final = "an ISO 8601 timestamp with an offset, e.g. 2024-05-01T06:00:00+00:00"


def _timestamp(value: object) -> object:
    """An ISO 8601 string read as a datetime (a number, a date alone, or no offset refused)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or "T" not in value.upper():
        raise ValueError(f"expected {_TIMESTAMP_EXAMPLE}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not {_TIMESTAMP_EXAMPLE}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no offset: expected {_TIMESTAMP_EXAMPLE}")
    return moment


def _in_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Timestamp = Annotated[AwareDatetime, BeforeValidator(_timestamp), AfterValidator(_in_utc)]
"""An ISO 8601 string with an offset (``Z`` or ``+02:00``), read into UTC; a number or a time without
an offset is refused."""
Slug = Annotated[str, StringConstraints(strict=True, pattern=f"^{SLUG_REGEX}$")]
"""1-63 characters of a-z, 0-9, '_' or '-', starting with a letter or digit (task keys, companies)."""
Text = Annotated[StrictStr, StringConstraints(min_length=1)]
JsonObject = Annotated[dict[str, Any], Field(strict=True)]


class LegacyModel(BaseModel):
    """Base of the legacy entries: frozen, unknown keys refused, no NaN/Infinity, inputs kept out of errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, hide_input_in_errors=True)


class LegacyTask(LegacyModel):
    """One task of ``tasks.json``."""

    task_key: Slug = Field(description="The task's unique key.")
    task_type: Text = Field(
        description="ingest, build, extract, events_refresh, gates_sync, gc or notify_retry."
    )
    company: Slug = Field(description="The company the task runs for.")
    schedule_type: Text = Field(description="cron, interval or once.")
    schedule_expr: Text = Field(description="5 cron fields, an interval (15m) or an ISO timestamp.")
    timezone: Text = Field(default="UTC", description="IANA time zone the schedule is read in.")
    config: JsonObject = Field(default_factory=dict, description="The task type's arguments.")
    status: TaskStatus = Field(default="active", description="active, paused, deleted or done.")
    created_at: Timestamp = Field(description="When the task was created.")
    updated_at: Timestamp = Field(description="When the task was last changed.")
    next_run_at: Timestamp | None = Field(
        default=None, description="Its next due occurrence (null: not scheduled)."
    )

    def spec(self) -> TaskSpec:
        """The task as the control plane creates it."""
        return TaskSpec(
            task_key=self.task_key,
            task_type=self.task_type,
            company=self.company,
            schedule_type=self.schedule_type,
            schedule_expr=self.schedule_expr,
            timezone=self.timezone,
            config=dict(self.config),
            status=self.status,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


class LegacyRun(LegacyModel):
    """One line of ``runs.jsonl``: a run of a task, finished or not."""

    task_key: Slug = Field(description="The task that ran.")
    run_id: Text = Field(description="The run's unique id.")
    started_at: Timestamp = Field(description="When it started.")
    finished_at: Timestamp | None = Field(default=None, description="When it finished (null: unfinished).")
    success: StrictBool | None = Field(default=None, description="Whether it succeeded (null: unfinished).")
    message: StrictStr | None = Field(default=None, description="Its one-line summary or error.")
    duration_ms: Annotated[StrictInt, Field(ge=0)] | None = Field(
        default=None, description="finished_at - started_at in ms; derived, not stored (see the docs)."
    )
    metadata: JsonObject = Field(default_factory=dict, description="What the run recorded.")
    occurrence_at: Timestamp | None = Field(default=None, description="The occurrence of the task it ran.")
    attempt: Annotated[StrictInt, Field(ge=1)] = Field(default=1, description="Which try of the occurrence.")
    worker_id: Text | None = Field(default=None, description="The worker that ran it.")

    @model_validator(mode="after")
    def _consistent(self) -> LegacyRun:
        if self.finished_at is None:
            if self.success is not None:
                raise ValueError("success is set but finished_at is null: a run with a result has finished")
            if self.duration_ms is not None:
                raise ValueError("duration_ms is set but finished_at is null")
        elif self.finished_at < self.started_at:
            raise ValueError("finished_at is before started_at")
        return self

    def task_run(self) -> TaskRun:
        """The run as the control plane records it."""
        return TaskRun(
            task_key=self.task_key,
            run_id=self.run_id,
            started_at=self.started_at,
            finished_at=self.finished_at,
            success=self.success,
            message=self.message,
            metadata=dict(self.metadata),
            occurrence_at=self.occurrence_at,
            attempt=self.attempt,
            worker_id=self.worker_id,
        )


def utc_iso(moment: datetime | None) -> str | None:
    """``moment`` as an ISO 8601 string in UTC (``+00:00``), as the legacy files hold it."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone: legacy timestamps are written in UTC")
    return moment.astimezone(UTC).isoformat()


def _sorted(value: Any) -> Any:
    """``value`` with the keys of every nested object sorted (so an export is byte-for-byte stable)."""
    if isinstance(value, Mapping):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [_sorted(item) for item in value]
    return value


def task_document(task: Task) -> dict[str, Any]:
    """A control-plane task as an entry of ``tasks.json`` (keys in the documented order)."""
    return {
        "task_key": task.task_key,
        "task_type": task.task_type,
        "company": task.company,
        "schedule_type": task.schedule_type,
        "schedule_expr": task.schedule_expr,
        "timezone": task.timezone,
        "config": _sorted(task.config),
        "status": task.status,
        "created_at": utc_iso(task.created_at),
        "updated_at": utc_iso(task.updated_at),
        "next_run_at": utc_iso(task.next_run_at),
    }


def run_document(run: TaskRun) -> dict[str, Any]:
    """A run as a line of ``runs.jsonl`` (every key written, null where there is no value)."""
    return {
        "task_key": run.task_key,
        "run_id": run.run_id,
        "started_at": utc_iso(run.started_at),
        "finished_at": utc_iso(run.finished_at),
        "success": run.success,
        "message": run.message,
        "duration_ms": run.duration_ms,
        "metadata": _sorted(run.metadata),
        "occurrence_at": utc_iso(run.occurrence_at),
        "attempt": run.attempt,
        "worker_id": run.worker_id,
    }


def run_line(run: TaskRun) -> str:
    """A run as one complete line of ``runs.jsonl``, newline included (ASCII: other characters escaped)."""
    return json.dumps(run_document(run), allow_nan=False) + "\n"
