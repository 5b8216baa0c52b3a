"""Scheduler: each task's next occurrence (UTC) and the claim of the worker that runs it.

``scheduler_tasks`` gets ``next_run_at`` (the next due occurrence, UTC; NULL on an active task means
"not scheduled yet": the worker computes it from the schedule), ``attempt`` (tries of the current
occurrence so far), and the claim lease: ``claimed_by`` (worker id) and ``claim_expires_at``. A worker
claims a due task (PostgreSQL: ``FOR UPDATE SKIP LOCKED``) and renews the lease while it runs; a claim
whose lease expired (its worker died) may be taken by another worker, which runs the occurrence again.
A ``once`` task that has run gets the new status ``done``. An index on (status, next_run_at) serves
the due-task query.

``scheduler_runs`` gets the occurrence it ran (``occurrence_at``), the try (``attempt``) and the
worker (``worker_id``); (task, occurrence, attempt) is unique, so one occurrence's try is recorded
once whatever the workers do.

Lossless: the downgrade keeps the new columns' values (and which tasks were ``done``) in stash
tables and sets ``done`` tasks to ``paused`` (never run again, which the previous revision can say);
the upgrade restores the values, and ``done`` where such a task is still ``paused``.

Revision ID: a5c1e9d3f7b2
Revises: f3a8d2c6b9e1
Create Date: 2026-12-02 08:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lakehouse.db.migrate import restore_columns, stash_columns, stash_table_name

revision: str = "a5c1e9d3f7b2"
down_revision: str | None = "f3a8d2c6b9e1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)
TASKS = sa.table(
    "scheduler_tasks",
    sa.column("id", sa.Uuid()),
    sa.column("status", sa.Text()),
    sa.column("next_run_at", TS),
    sa.column("attempt", sa.Integer()),
    sa.column("claimed_by", sa.Text()),
    sa.column("claim_expires_at", TS),
)
TASK_COLUMNS = ["next_run_at", "attempt", "claimed_by", "claim_expires_at"]
#: The stash of which tasks were ``done`` (restored only where the task is still ``paused``).
DONE = "_done"
RUNS = sa.table(
    "scheduler_runs",
    sa.column("id", sa.Uuid()),
    sa.column("occurrence_at", TS),
    sa.column("attempt", sa.Integer()),
    sa.column("worker_id", sa.Text()),
)
RUN_COLUMNS = ["occurrence_at", "attempt", "worker_id"]
OLD_STATUSES = "status IN ('active', 'paused', 'deleted')"
NEW_STATUSES = "status IN ('active', 'paused', 'deleted', 'done')"


def upgrade() -> None:
    with op.batch_alter_table("scheduler_tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("next_run_at", TS, nullable=True))
        batch_op.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("claimed_by", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("claim_expires_at", TS, nullable=True))
        batch_op.drop_constraint(op.f("ck_scheduler_tasks_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_scheduler_tasks_status"), NEW_STATUSES)
        batch_op.create_index(
            op.f("ix_scheduler_tasks_status_next_run_at"), ["status", "next_run_at"], unique=False
        )
    with op.batch_alter_table("scheduler_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("occurrence_at", TS, nullable=True))
        batch_op.add_column(sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("worker_id", sa.Text(), nullable=True))
        batch_op.create_unique_constraint(
            op.f("uq_scheduler_runs_task_id_occurrence_at_attempt"), ["task_id", "occurrence_at", "attempt"]
        )
    restore_columns(revision, TASKS, ["id"], TASK_COLUMNS)
    restore_columns(revision, RUNS, ["id"], RUN_COLUMNS)
    done = stash_table_name(revision + DONE, "scheduler_tasks")
    if sa.inspect(op.get_bind()).has_table(done):
        stash = sa.table(done, sa.column("id", sa.Uuid()))
        op.execute(
            sa.update(TASKS)
            .where(TASKS.c.status == "paused", TASKS.c.id.in_(sa.select(stash.c.id)))
            .values(status="done")
        )
        op.drop_table(done)


def downgrade() -> None:
    stash_columns(revision, TASKS, ["id"], TASK_COLUMNS)
    stash_columns(revision, RUNS, ["id"], RUN_COLUMNS)
    stash_columns(revision + DONE, TASKS, ["id"], ["status"], where=TASKS.c.status == "done")
    op.execute(sa.update(TASKS).where(TASKS.c.status == "done").values(status="paused"))
    with op.batch_alter_table("scheduler_runs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_scheduler_runs_task_id_occurrence_at_attempt"), type_="unique")
        batch_op.drop_column("worker_id")
        batch_op.drop_column("attempt")
        batch_op.drop_column("occurrence_at")
    with op.batch_alter_table("scheduler_tasks", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_scheduler_tasks_status_next_run_at"))
        batch_op.drop_constraint(op.f("ck_scheduler_tasks_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_scheduler_tasks_status"), OLD_STATUSES)
        batch_op.drop_column("claim_expires_at")
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("attempt")
        batch_op.drop_column("next_run_at")
