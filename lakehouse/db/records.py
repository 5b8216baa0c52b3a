"""Typed inputs and outputs of the control-plane DAL (plain frozen dataclasses)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

TaskStatus = Literal["active", "paused", "deleted", "done"]
RunStatus = Literal["running", "success", "failed"]
EventStatus = Literal["active", "resolved", "archived"]
GateMode = Literal["strict", "soft"]
MessageType = Literal["ready", "failed", "info"]
NotificationStatus = Literal["sent", "failed"]


@dataclass(frozen=True)
class TaskSpec:
    """What a caller gives to create a scheduler task."""

    task_key: str
    task_type: str
    company: str
    schedule_type: str
    schedule_expr: str
    timezone: str = "UTC"
    config: dict[str, Any] = field(default_factory=dict)
    status: TaskStatus = "active"
    created_at: datetime | None = None
    """None: now. An import sets it (and ``updated_at``) to keep the task's own history."""
    updated_at: datetime | None = None


@dataclass(frozen=True)
class TaskUpdate:
    """A partial update of a task found by ``task_key``; None leaves a field as it is."""

    task_key: str
    task_type: str | None = None
    schedule_type: str | None = None
    schedule_expr: str | None = None
    timezone: str | None = None
    config: dict[str, Any] | None = None
    status: TaskStatus | None = None


@dataclass(frozen=True)
class Task:
    id: uuid.UUID
    task_key: str
    task_type: str
    company: str
    config: dict[str, Any]
    schedule_type: str
    schedule_expr: str
    timezone: str
    status: str
    created_at: datetime
    updated_at: datetime
    #: The next due occurrence (UTC); None on an active task: not scheduled yet.
    next_run_at: datetime | None = None
    #: Tries of the current occurrence so far (a retry or a takeover after a lost claim adds one).
    attempt: int = 0
    #: The worker holding the task's claim, and until when (a worker renews it while it runs).
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None


@dataclass(frozen=True)
class TaskRun:
    """One execution of a task, as recorded by ``record_task_run``."""

    task_key: str
    run_id: str
    started_at: datetime
    finished_at: datetime | None = None
    success: bool | None = None
    message: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: The occurrence of the task this ran (UTC), which try of it, and the worker that ran it.
    occurrence_at: datetime | None = None
    attempt: int = 1
    worker_id: str | None = None

    @property
    def duration_ms(self) -> int | None:
        if self.finished_at is None:
            return None
        return int((self.finished_at - self.started_at).total_seconds() * 1000)


@dataclass(frozen=True)
class TaskClaim:
    """A due task claimed by a worker: the occurrence it runs, which try, and the run recorded for it
    (started, not finished) in the claim's transaction."""

    task: Task
    run_id: str
    occurrence_at: datetime
    attempt: int
    worker_id: str
    started_at: datetime
    claim_expires_at: datetime


@dataclass(frozen=True)
class TaskOutcome:
    """How a claimed occurrence ended, and what the task does next (decided by the worker)."""

    success: bool
    message: str
    finished_at: datetime
    #: The task's next due time (None: no further occurrence, see ``status``).
    next_run_at: datetime | None
    #: The task's try counter from now on (0 once the occurrence is over; kept for a retry).
    attempt: int
    metadata: dict[str, Any] = field(default_factory=dict)
    #: A new status for the task (``done`` after a ``once`` task's occurrence), or None to keep it.
    status: TaskStatus | None = None


@dataclass(frozen=True)
class PipelineRunRecord:
    run_id: str
    company: str
    pipeline_name: str
    stage: str | None
    status: str
    input_manifest: dict[str, Any] | None
    output_manifest: dict[str, Any] | None
    error: dict[str, Any] | None
    started_at: datetime
    finished_at: datetime | None
    holder_host: str | None = None
    holder_pid: int | None = None
    heartbeat_at: datetime | None = None


@dataclass(frozen=True)
class RunHolder:
    """The process that runs a pipeline run: where it runs and its process id."""

    host: str
    pid: int


@dataclass(frozen=True)
class DatasetFileRecord:
    """One file of a dataset version, as the file index (``dataset_files``) and its manifest list it."""

    #: Relative to the data root (posix).
    path: str
    size_bytes: int
    row_count: int
    #: ``sha256:<hex>`` of the file's bytes.
    checksum: str
    dt: date | None = None
    #: The range of the file's bronze days and of its key column (see ``dataset_files``).
    dt_min: date | None = None
    dt_max: date | None = None
    key_min: str | None = None
    key_max: str | None = None


@dataclass(frozen=True)
class DatasetVersionSpec:
    """A dataset version to register (its files are already written and checksummed)."""

    company: str
    dataset_name: str
    version_tag: str
    schema_version: str
    #: The version's manifest, relative to the data root (column ``dataset_versions.file_path``).
    manifest_path: str
    row_count: int
    checksum: str
    produced_by_run_id: str
    zone: str = "bronze"
    schema: dict[str, Any] | None = None
    #: The business date the version describes (a build's as-of; bronze: its newest dt).
    as_of: date | None = None
    #: Its files, in manifest order: indexed in ``dataset_files`` in the commit transaction.
    files: tuple[DatasetFileRecord, ...] = ()


@dataclass(frozen=True)
class DatasetVersionRecord:
    id: uuid.UUID
    company: str
    dataset_name: str
    version_tag: str
    schema_version: str
    #: The version's manifest, relative to the data root (column ``dataset_versions.file_path``).
    manifest_path: str
    row_count: int
    checksum: str
    produced_by_run_id: str
    created_at: datetime
    zone: str = "bronze"
    schema: dict[str, Any] | None = None
    status: str = "committed"
    as_of: date | None = None
    #: Commit order: every version of one commit transaction shares its number.
    commit_seq: int = 0

    @property
    def currency_key(self) -> tuple[date, int, str]:
        """Sort key of "which version is current": the newest as_of, then the latest commit (then,
        for versions of one dataset committed together, the version tag)."""
        return (self.as_of or date.min, self.commit_seq, self.version_tag)


@dataclass(frozen=True)
class DetectedEvent:
    """An event as a detector reports it; ``event_id`` is stable across runs."""

    event_id: str
    company: str
    event_type: str
    entity_type: str
    entity_id: str
    severity: str
    details: dict[str, Any] = field(default_factory=dict)
    source_file: str | None = None


@dataclass(frozen=True)
class EventRecord:
    event_id: str
    company: str
    event_type: str
    entity_type: str
    entity_id: str
    severity: str
    status: str
    first_seen_at: datetime
    last_seen_at: datetime
    source_file: str | None
    details: dict[str, Any]


@dataclass(frozen=True)
class ReviewChecks:
    """The checks of a pull request's review gate."""

    ci_passed: bool = False
    codex_passed: bool = False
    claude_passed: bool = False
    gemini_passed: bool = False
    branch_up_to_date: bool = False
    screenshots_included: bool = False

    def failing(self, mode: GateMode) -> list[str]:
        """The names of the checks that keep the gate from being ready in ``mode`` (empty = ready).

        strict: every check must pass. soft: ``ci_passed`` and ``branch_up_to_date`` must pass and at
        least one of the three reviewers (codex, claude, gemini).
        """
        if mode == "strict":
            return [name for name, ok in self.as_dict().items() if not ok]
        missing = [name for name in ("ci_passed", "branch_up_to_date") if not getattr(self, name)]
        if not (self.codex_passed or self.claude_passed or self.gemini_passed):
            missing.append("one of codex_passed/claude_passed/gemini_passed")
        return missing

    def is_ready(self, mode: GateMode) -> bool:
        return not self.failing(mode)

    def as_dict(self) -> dict[str, bool]:
        return {
            "ci_passed": self.ci_passed,
            "codex_passed": self.codex_passed,
            "claude_passed": self.claude_passed,
            "gemini_passed": self.gemini_passed,
            "branch_up_to_date": self.branch_up_to_date,
            "screenshots_included": self.screenshots_included,
        }


@dataclass(frozen=True)
class PullRequest:
    number: int
    repo: str
    branch: str


@dataclass(frozen=True)
class ReviewGateRecord:
    task_id: str
    pr: PullRequest
    checks: ReviewChecks
    mode: str
    ready: bool
    updated_at: datetime
    #: The pull request's head commit the checks were made on (None: not recorded, e.g. older gates).
    head_commit: str | None = None


@dataclass(frozen=True)
class NotificationSpec:
    task_id: str
    channel: str
    target: str
    message_type: MessageType
    status: NotificationStatus
    payload: dict[str, Any] = field(default_factory=dict)
    provider_message_id: str | None = None
    #: The key claimed before the send and sent as the ``Idempotency-Key`` header.
    idempotency_key: str | None = None
    #: Requests tried for this receipt (retries included); why the last one failed.
    attempts: int = 1
    error: str | None = None


@dataclass(frozen=True)
class NotificationRecord:
    id: uuid.UUID
    task_id: str
    channel: str
    target: str
    message_type: str
    status: str
    payload: dict[str, Any]
    provider_message_id: str | None
    sent_at: datetime
    idempotency_key: str | None = None
    attempts: int = 1
    error: str | None = None
