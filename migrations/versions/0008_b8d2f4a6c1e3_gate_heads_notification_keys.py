"""Review gates record their head commit; notifications record their idempotency key and attempts.

``review_gates.head_commit``: the pull request's head commit the checks were made on. A gate is
announced ready at most once per (task, head commit, state): a new push (another head) may make it
ready, and announced, again.

``notifications``: ``idempotency_key`` (the key claimed in ``idempotency_keys`` before the send, also
sent as the ``Idempotency-Key`` header, so a resend after a crash is deduplicated by the receiver),
``attempts`` (sends tried for this receipt) and ``error`` (why the last one failed). The index on
(status, idempotency_key) serves ``lakehouse notify list --status failed`` and ``notify retry``.

Lossless: the downgrade keeps the new columns' values in stash tables, which the upgrade restores.

Revision ID: b8d2f4a6c1e3
Revises: a5c1e9d3f7b2
Create Date: 2026-12-02 08:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lakehouse.db.migrate import restore_columns, stash_columns

revision: str = "b8d2f4a6c1e3"
down_revision: str | None = "a5c1e9d3f7b2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GATES = sa.table("review_gates", sa.column("id", sa.Uuid()), sa.column("head_commit", sa.Text()))
NOTIFICATIONS = sa.table(
    "notifications",
    sa.column("id", sa.Uuid()),
    sa.column("idempotency_key", sa.Text()),
    sa.column("attempts", sa.Integer()),
    sa.column("error", sa.Text()),
)
NOTIFICATION_COLUMNS = ["idempotency_key", "attempts", "error"]


def upgrade() -> None:
    with op.batch_alter_table("review_gates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("head_commit", sa.Text(), nullable=True))
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch_op.create_index(
            op.f("ix_notifications_status_idempotency_key"), ["status", "idempotency_key"], unique=False
        )
    restore_columns(revision, GATES, ["id"], ["head_commit"])
    restore_columns(revision, NOTIFICATIONS, ["id"], NOTIFICATION_COLUMNS)


def downgrade() -> None:
    stash_columns(revision, GATES, ["id"], ["head_commit"], where=GATES.c.head_commit.is_not(None))
    stash_columns(revision, NOTIFICATIONS, ["id"], NOTIFICATION_COLUMNS)
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(op.f("ix_notifications_status_idempotency_key"))
        batch_op.drop_column("error")
        batch_op.drop_column("attempts")
        batch_op.drop_column("idempotency_key")
    with op.batch_alter_table("review_gates", schema=None) as batch_op:
        batch_op.drop_column("head_commit")
