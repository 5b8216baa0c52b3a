"""Initial control-plane schema: the eight tables of the reference design.

The downgrade (to base) drops every table, so it refuses, changing nothing, while any table holds
rows, unless the caller asks for it: ``lakehouse db downgrade base --drop-data`` (plain Alembic:
``alembic -x drop_data=true downgrade base``). It also drops the stash tables later revisions'
downgrades leave behind (see ``lakehouse.db.migrate.stash_columns``).

Revision ID: 5f1c0a7e2b10
Revises:
Create Date: 2026-11-30 05:52:30.629260
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import lakehouse.db.types
from lakehouse.db.migrate import drop_data_allowed, drop_stash_tables, refuse_dropping_data

revision: str = "5f1c0a7e2b10"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dataset_name", sa.Text(), nullable=False),
        sa.Column("company", sa.Text(), nullable=False),
        sa.Column("version_tag", sa.Text(), nullable=False),
        sa.Column("schema_version", sa.Text(), nullable=False),
        sa.Column("file_path", sa.Text(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.Text(), nullable=False),
        sa.Column("produced_by_run_id", sa.Text(), nullable=False),
        sa.Column("created_at", lakehouse.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_versions")),
        sa.UniqueConstraint(
            "company",
            "dataset_name",
            "version_tag",
            name=op.f("uq_dataset_versions_company_dataset_name_version_tag"),
        ),
    )
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_versions_company_dataset_name_created_at"),
            ["company", "dataset_name", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_dataset_versions_produced_by_run_id"), ["produced_by_run_id"], unique=False
        )

    op.create_table(
        "events_index",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("company", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("entity_type", sa.Text(), nullable=False),
        sa.Column("entity_id", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("first_seen_at", lakehouse.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", lakehouse.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("source_file", sa.Text(), nullable=True),
        sa.Column(
            "details_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('active', 'resolved', 'archived')", name=op.f("ck_events_index_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events_index")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_index_event_id")),
    )
    with op.batch_alter_table("events_index", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_events_index_company_event_type_status"),
            ["company", "event_type", "status"],
            unique=False,
        )

    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=True),
        sa.Column("created_at", lakehouse.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", lakehouse.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_scope_expires_at"), ["scope", "expires_at"], unique=False
        )

    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("message_type", sa.Text(), nullable=False),
        sa.Column(
            "payload_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("sent_at", lakehouse.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("provider_message_id", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "message_type IN ('ready', 'failed', 'info')", name=op.f("ck_notifications_message_type")
        ),
        sa.CheckConstraint("status IN ('sent', 'failed')", name=op.f("ck_notifications_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifications_task_id_sent_at"), ["task_id", "sent_at"], unique=False
        )

    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("company", sa.Text(), nullable=False),
        sa.Column("pipeline_name", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column(
            "input_manifest_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "output_manifest_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "error_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("started_at", lakehouse.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", lakehouse.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'success', 'failed')", name=op.f("ck_pipeline_runs_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_runs")),
        sa.UniqueConstraint("run_id", name=op.f("uq_pipeline_runs_run_id")),
    )
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pipeline_runs_company_pipeline_name_started_at"),
            ["company", "pipeline_name", "started_at"],
            unique=False,
        )

    op.create_table(
        "review_gates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Text(), nullable=False),
        sa.Column("pr_number", sa.Integer(), nullable=False),
        sa.Column("repo", sa.Text(), nullable=False),
        sa.Column("branch", sa.Text(), nullable=False),
        sa.Column("ci_passed", sa.Boolean(), nullable=False),
        sa.Column("codex_passed", sa.Boolean(), nullable=False),
        sa.Column("claude_passed", sa.Boolean(), nullable=False),
        sa.Column("gemini_passed", sa.Boolean(), nullable=False),
        sa.Column("branch_up_to_date", sa.Boolean(), nullable=False),
        sa.Column("screenshots_included", sa.Boolean(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("ready", sa.Boolean(), nullable=False),
        sa.Column("updated_at", lakehouse.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("mode IN ('strict', 'soft')", name=op.f("ck_review_gates_mode")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_gates")),
        sa.UniqueConstraint("task_id", name=op.f("uq_review_gates_task_id")),
    )
    op.create_table(
        "scheduler_tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_key", sa.Text(), nullable=False),
        sa.Column("task_type", sa.Text(), nullable=False),
        sa.Column("company", sa.Text(), nullable=False),
        sa.Column(
            "config_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("schedule_type", sa.Text(), nullable=False),
        sa.Column("schedule_expr", sa.Text(), nullable=False),
        sa.Column("timezone", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created_at", lakehouse.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", lakehouse.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active', 'paused', 'deleted')", name=op.f("ck_scheduler_tasks_status")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_tasks")),
        sa.UniqueConstraint("task_key", name=op.f("uq_scheduler_tasks_task_key")),
    )
    with op.batch_alter_table("scheduler_tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scheduler_tasks_status_company"), ["status", "company"], unique=False
        )

    op.create_table(
        "scheduler_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("started_at", lakehouse.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", lakehouse.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("success", sa.Boolean(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        sa.Column(
            "metadata_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["scheduler_tasks.id"], name=op.f("fk_scheduler_runs_task_id_scheduler_tasks")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_runs")),
        sa.UniqueConstraint("run_id", name=op.f("uq_scheduler_runs_run_id")),
    )
    with op.batch_alter_table("scheduler_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_scheduler_runs_task_id_started_at"), ["task_id", "started_at"], unique=False
        )


def downgrade() -> None:
    if not drop_data_allowed():
        refuse_dropping_data(op.get_bind(), revision)
    drop_stash_tables()

    with op.batch_alter_table("scheduler_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheduler_runs_task_id_started_at"))

    op.drop_table("scheduler_runs")
    with op.batch_alter_table("scheduler_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_scheduler_tasks_status_company"))

    op.drop_table("scheduler_tasks")
    op.drop_table("review_gates")
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pipeline_runs_company_pipeline_name_started_at"))

    op.drop_table("pipeline_runs")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_task_id_sent_at"))

    op.drop_table("notifications")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_scope_expires_at"))

    op.drop_table("idempotency_keys")
    with op.batch_alter_table("events_index", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_index_company_event_type_status"))

    op.drop_table("events_index")
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_versions_produced_by_run_id"))
        batch_op.drop_index(batch_op.f("ix_dataset_versions_company_dataset_name_created_at"))

    op.drop_table("dataset_versions")
