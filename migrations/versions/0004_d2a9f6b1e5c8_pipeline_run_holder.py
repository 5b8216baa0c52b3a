"""Pipeline runs: the process that runs them (host, pid) and its last heartbeat.

A run whose holder is gone (its pid dead on this host, or its heartbeat older than the lease when it
ran elsewhere) is marked failed by the next command that looks.

Lossless: the holder cannot be derived from what remains, so the downgrade keeps the three columns
(of every run that has a holder) in a stash table, which the upgrade restores from and drops.

Revision ID: d2a9f6b1e5c8
Revises: c4e8a1f2b7d3
Create Date: 2026-12-01 21:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lakehouse.db.migrate import restore_columns, stash_columns

revision: str = "d2a9f6b1e5c8"
down_revision: str | None = "c4e8a1f2b7d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holder_host", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("holder_pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    restore_columns(revision, RUNS, ["id"], HOLDER)


RUNS = sa.table(
    "pipeline_runs",
    sa.column("id", sa.Uuid()),
    sa.column("holder_host", sa.Text()),
    sa.column("holder_pid", sa.Integer()),
    sa.column("heartbeat_at", sa.DateTime(timezone=True)),
)
HOLDER = ["holder_host", "holder_pid", "heartbeat_at"]


def downgrade() -> None:
    stash_columns(revision, RUNS, ["id"], HOLDER, where=sa.or_(*(RUNS.c[c].is_not(None) for c in HOLDER)))
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("holder_pid")
        batch_op.drop_column("holder_host")
