"""The arguments of each type of scheduled task (``scheduler_tasks.config_json``), checked when a task
is added: a pydantic model per ``task_type``, so an unknown key or a bad value is refused naming the
field (``config_json.retry.count: ...``), never found at 3 a.m. by the worker.

Every type takes ``retry`` (``count`` extra attempts, ``backoff_seconds`` before the first, doubling
after each); the task's company is its own column (``scheduler_tasks.company``).
"""

from __future__ import annotations

from typing import Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lakehouse.errors import TaskConfigError

TaskType = Literal["ingest", "build", "extract", "events_refresh", "gates_sync", "gc", "notify_retry"]
TASK_TYPES: Final[tuple[TaskType, ...]] = get_args(TaskType)


class Retry(BaseModel):
    """Retries of a failed occurrence before the next one: ``count`` attempts, waiting
    ``backoff_seconds`` before the first and twice as long before each next one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    count: int = Field(default=0, ge=0, le=10)
    backoff_seconds: float = Field(default=60.0, gt=0, le=86_400)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry ``attempt`` (1 = the first retry)."""
        return float(self.backoff_seconds * 2 ** max(attempt - 1, 0))


class TaskConfig(BaseModel):
    """What every task type takes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    retry: Retry = Retry()


class IngestTaskConfig(TaskConfig):
    """Ingest every new day folder of a drop folder (idempotent: a file already ingested is skipped)."""

    drop_folder: str = Field(min_length=1)
    on_error: Literal["abort", "quarantine"] = "abort"
    delimiter: str = Field(default=",", min_length=1)
    encoding: str = Field(default="utf-8", min_length=1)
    header_case: Literal["exact", "insensitive"] = "exact"


class BuildTaskConfig(TaskConfig):
    """Build silver and gold (``lakehouse build``)."""

    select: list[str] = Field(default_factory=list)
    wait_seconds: int = Field(default=0, ge=0, le=86_400)
    allow_partial: bool = False
    #: Build even when nothing changed since the last build (by default such a build publishes nothing).
    full_refresh: bool = False


class ExtractTaskConfig(TaskConfig):
    """Transcript extraction into the gold profile datasets (``lakehouse extract``)."""

    wait_seconds: int = Field(default=0, ge=0, le=86_400)


class EventsRefreshTaskConfig(TaskConfig):
    """Detect events again from the current gold datasets."""


class GatesSyncTaskConfig(TaskConfig):
    """Sync the review-gate files of a folder into ``review_gates``."""

    gates_dir: str = Field(min_length=1)


class GcTaskConfig(TaskConfig):
    """Remove crash leftovers and versions past retention (``lakehouse gc``)."""

    keep: int | None = Field(default=None, ge=1)  # None: retention.keep_versions of global.json
    dry_run: bool = False


class NotifyRetryTaskConfig(TaskConfig):
    """Send again the notifications whose sending failed."""

    max_attempts: int = Field(default=5, ge=1, le=100)


TASK_CONFIGS: Final[dict[str, type[TaskConfig]]] = {
    "ingest": IngestTaskConfig,
    "build": BuildTaskConfig,
    "extract": ExtractTaskConfig,
    "events_refresh": EventsRefreshTaskConfig,
    "gates_sync": GatesSyncTaskConfig,
    "gc": GcTaskConfig,
    "notify_retry": NotifyRetryTaskConfig,
}


def parse_task_config(task_type: str, config: dict[str, Any]) -> TaskConfig:
    """The checked arguments of a task of ``task_type``.

    Raises:
        TaskConfigError: an unknown task type (listing the known ones), or the first field of
            ``config`` that is unknown or bad, named by its path (``config_json.retry.count``).
    """
    model = TASK_CONFIGS.get(task_type)
    if model is None:
        raise TaskConfigError(
            "task_type", f"{task_type!r} is not a task type: use one of {', '.join(TASK_TYPES)}"
        )
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(["config_json", *(str(part) for part in error["loc"])])
        if error["type"] == "extra_forbidden":
            inner = len(error["loc"]) > 1 and error["loc"][0] == "retry"
            known = ", ".join(sorted((Retry if inner else model).model_fields))
            what = "in retry" if inner else f"for a {task_type} task"
            raise TaskConfigError(where, f"unknown key {what} (it takes: {known})") from None
        raise TaskConfigError(where, str(error["msg"])) from None
