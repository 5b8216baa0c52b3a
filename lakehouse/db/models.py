"""ORM tables of the control plane (tables only; the queries live in ``lakehouse/db/repos``).

One class per table of the reference design (section 3), with every column it lists. Status columns
are restricted by check constraints to the values the design names, and constraints get stable names
from the ``MetaData`` naming convention so migrations can refer to them.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from lakehouse.db.types import JsonDocument, UtcDateTime, utcnow
from lakehouse.names import DATA_ZONES

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TASK_STATUSES = ("active", "paused", "deleted", "done")
RUN_STATUSES = ("running", "success", "failed")
EVENT_STATUSES = ("active", "resolved", "archived")
GATE_MODES = ("strict", "soft")
MESSAGE_TYPES = ("ready", "failed", "info")
NOTIFICATION_STATUSES = ("sent", "failed")
VERSION_STATUSES = ("committed", "expired")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UtcDateTime(), dict[str, Any]: JsonDocument}


class SchedulerTask(Base):
    """A scheduled unit of work (e.g. a nightly build for one company)."""

    __tablename__ = "scheduler_tasks"
    __table_args__ = (
        UniqueConstraint("task_key"),
        CheckConstraint(_one_of("status", TASK_STATUSES), name="status"),
        Index(None, "status", "company"),
        Index(None, "status", "next_run_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    task_key: Mapped[str] = mapped_column(Text)
    task_type: Mapped[str] = mapped_column(Text)
    company: Mapped[str] = mapped_column(Text)
    config_json: Mapped[dict[str, Any]] = mapped_column(default=dict)
    schedule_type: Mapped[str] = mapped_column(Text)
    schedule_expr: Mapped[str] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(Text, default="UTC")
    status: Mapped[str] = mapped_column(Text, default="active")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Added in migration 0007: the next due occurrence (UTC; NULL on an active task: not scheduled
    # yet), the tries of it so far, and the claim lease of the worker running it.
    next_run_at: Mapped[datetime | None] = mapped_column()
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    claimed_by: Mapped[str | None] = mapped_column(Text)
    claim_expires_at: Mapped[datetime | None] = mapped_column()


class SchedulerRun(Base):
    """One execution of a scheduler task."""

    __tablename__ = "scheduler_runs"
    __table_args__ = (
        UniqueConstraint("run_id"),
        UniqueConstraint("task_id", "occurrence_at", "attempt"),
        Index(None, "task_id", "started_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("scheduler_tasks.id"))
    run_id: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    success: Mapped[bool | None] = mapped_column(Boolean)
    message: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger)
    metadata_json: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Added in migration 0007: which occurrence of the task this ran, which try of it, and where.
    occurrence_at: Mapped[datetime | None] = mapped_column()
    attempt: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    worker_id: Mapped[str | None] = mapped_column(Text)


class PipelineRun(Base):
    """A pipeline run (ingest, dbt build, transcript extraction, ...) with its manifests."""

    __tablename__ = "pipeline_runs"
    __table_args__ = (
        UniqueConstraint("run_id"),
        CheckConstraint(_one_of("status", RUN_STATUSES), name="status"),
        Index(None, "company", "pipeline_name", "started_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    run_id: Mapped[str] = mapped_column(Text)
    company: Mapped[str] = mapped_column(Text)
    pipeline_name: Mapped[str] = mapped_column(Text)
    stage: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default="running")
    input_manifest_json: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    output_manifest_json: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    error_json: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    # Added in migration 0004: who runs it (host, process id) and when it last said it was alive, so
    # a run whose process died is recognised and marked failed by the next command that looks.
    holder_host: Mapped[str | None] = mapped_column(Text)
    holder_pid: Mapped[int | None] = mapped_column(Integer)
    heartbeat_at: Mapped[datetime | None] = mapped_column()


class DatasetVersion(Base):
    """An immutable, published version of a dataset (its files are listed in its manifest)."""

    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("company", "zone", "dataset_name", "version_tag"),
        CheckConstraint(_one_of("zone", DATA_ZONES), name="zone"),
        CheckConstraint(_one_of("status", VERSION_STATUSES), name="status"),
        Index(None, "company", "dataset_name", "created_at"),
        Index(None, "produced_by_run_id"),
        Index(None, "company", "zone", "dataset_name", "as_of", "commit_seq"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    dataset_name: Mapped[str] = mapped_column(Text)
    company: Mapped[str] = mapped_column(Text)
    version_tag: Mapped[str] = mapped_column(Text)
    schema_version: Mapped[str] = mapped_column(Text)
    #: The version's manifest (files, sizes, row counts, sha256), relative to the data root; the
    #: column keeps its first name, ``file_path``.
    manifest_path: Mapped[str] = mapped_column("file_path", Text)
    row_count: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(Text)
    produced_by_run_id: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Added in migration 0002 for the data plane: the zone, the version's column schema (how an
    # inferred schema is recorded), and whether gc has expired the version's files.
    zone: Mapped[str] = mapped_column(Text, default="bronze")
    schema_json: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    status: Mapped[str] = mapped_column(Text, default="committed")
    # Added in migration 0003: the business date the version describes (silver/gold: the build's
    # as-of; bronze: its newest dt) and the order of commits (one number per commit transaction).
    # The current silver/gold version is the one with the newest as_of, then the highest commit_seq.
    as_of: Mapped[date | None] = mapped_column(Date)
    commit_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class DatasetFile(Base):
    """One data file of a committed dataset version: the file index of the control plane.

    Added in migration 0009. Written in the transaction that commits its version, so listing what is
    current (the catalog, ``--as-of``, a build's inputs, verify and gc) is one indexed query instead of
    a JSON read per version; the version's manifest stays the audit copy (``verify`` compares them).
    A version committed before the index existed gets its rows from its manifest when first read.
    """

    __tablename__ = "dataset_files"
    __table_args__ = (
        UniqueConstraint("version_id", "path"),
        Index(None, "company", "zone", "dataset_name", "dt"),
        Index(None, "path"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    version_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("dataset_versions.id", ondelete="CASCADE"))
    company: Mapped[str] = mapped_column(Text)
    zone: Mapped[str] = mapped_column(Text)
    dataset_name: Mapped[str] = mapped_column(Text)
    #: Relative to the data root (posix), as in the manifest.
    path: Mapped[str] = mapped_column(Text)
    #: The file's place in its version's manifest.
    position: Mapped[int] = mapped_column(Integer)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    row_count: Mapped[int] = mapped_column(BigInteger)
    #: ``sha256:<hex>`` of the file's bytes.
    checksum: Mapped[str] = mapped_column(Text)
    #: The partition the file is in (its ``dt=`` folder), if any.
    dt: Mapped[date | None] = mapped_column(Date)
    # Added in migration 0010: min/max of the partition and key columns, from the file's footer.
    #: The range of its rows' bronze days: ``_bronze_dt`` (silver), else the ``dt=`` folder (bronze).
    dt_min: Mapped[date | None] = mapped_column(Date)
    dt_max: Mapped[date | None] = mapped_column(Date)
    #: The range of the dataset's key column (text of the typed value), where it has one.
    key_min: Mapped[str | None] = mapped_column(Text)
    key_max: Mapped[str | None] = mapped_column(Text)


class DatasetSchema(Base):
    """A dataset's registered schema version: one column list per (dataset, schema version), ever.

    Added in migration 0005. Registered in the same transaction as the first version that uses it, so
    two runs that infer different schemas for a new dataset cannot both call theirs "version 1".
    """

    __tablename__ = "dataset_schemas"
    __table_args__ = (
        UniqueConstraint("company", "zone", "dataset_name", "schema_version"),
        CheckConstraint(_one_of("zone", DATA_ZONES), name="zone"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company: Mapped[str] = mapped_column(Text)
    zone: Mapped[str] = mapped_column(Text)
    dataset_name: Mapped[str] = mapped_column(Text)
    schema_version: Mapped[str] = mapped_column(Text)
    schema_json: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    produced_by_run_id: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventIndex(Base):
    """The canonical active/resolved index of detected business events."""

    __tablename__ = "events_index"
    __table_args__ = (
        UniqueConstraint("event_id"),
        CheckConstraint(_one_of("status", EVENT_STATUSES), name="status"),
        Index(None, "company", "event_type", "status"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    event_id: Mapped[str] = mapped_column(Text)
    company: Mapped[str] = mapped_column(Text)
    event_type: Mapped[str] = mapped_column(Text)
    entity_type: Mapped[str] = mapped_column(Text)
    entity_id: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default="active")
    first_seen_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column()
    source_file: Mapped[str | None] = mapped_column(Text)
    details_json: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ReviewGate(Base):
    """Review-gate state of a task's pull request; ``ready`` is derived from the checks and the mode."""

    __tablename__ = "review_gates"
    __table_args__ = (
        UniqueConstraint("task_id"),
        CheckConstraint(_one_of("mode", GATE_MODES), name="mode"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    task_id: Mapped[str] = mapped_column(Text)
    pr_number: Mapped[int] = mapped_column(Integer)
    repo: Mapped[str] = mapped_column(Text)
    branch: Mapped[str] = mapped_column(Text)
    ci_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    codex_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    claude_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    gemini_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    branch_up_to_date: Mapped[bool] = mapped_column(Boolean, default=False)
    screenshots_included: Mapped[bool] = mapped_column(Boolean, default=False)
    mode: Mapped[str] = mapped_column(Text, default="strict")
    ready: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Added in migration 0008: the pull request's head commit the checks were made on.
    head_commit: Mapped[str | None] = mapped_column(Text)


class Notification(Base):
    """A delivery receipt of a notification sent (or attempted) for a task."""

    __tablename__ = "notifications"
    __table_args__ = (
        CheckConstraint(_one_of("message_type", MESSAGE_TYPES), name="message_type"),
        CheckConstraint(_one_of("status", NOTIFICATION_STATUSES), name="status"),
        Index(None, "task_id", "sent_at"),
        Index(None, "status", "idempotency_key"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    task_id: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    message_type: Mapped[str] = mapped_column(Text)
    payload_json: Mapped[dict[str, Any]] = mapped_column(default=dict)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(Text)
    # Added in migration 0008: the key claimed before the send (and sent as Idempotency-Key), the
    # sends tried for this receipt, and why the last one failed.
    idempotency_key: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    error: Mapped[str | None] = mapped_column(Text)


class IdempotencyKey(Base):
    """A claimed idempotency key: the side effect of ``scope``/``key`` ran (or runs) once."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index(None, "scope", "expires_at"),)

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    scope: Mapped[str] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()


def table_of(model: type[Base]) -> Table:
    """The Core ``Table`` of an ORM class (for set-based statements)."""
    return cast(Table, model.__table__)
