"""Pipeline runs: the process that runs them (host, pid) and its last heartbeat.

A run whose holder is gone (its pid dead on this host, or its heartbeat older than the lease when it
ran elsewhere) is marked failed by the next command that looks.

Revision ID: d2a9f6b1e5c8
Revises: c4e8a1f2b7d3
Create Date: 2026-12-01 21:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d2a9f6b1e5c8"
down_revision: str | None = "c4e8a1f2b7d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("holder_host", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("holder_pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("holder_pid")
        batch_op.drop_column("holder_host")
