"""The file index records min/max of the partition and key columns of each file.

``dataset_files.dt_min``/``dt_max``: the range of the file's bronze days (its rows' ``_bronze_dt``
in silver, its ``dt=`` folder in bronze); ``key_min``/``key_max``: the range of the dataset's key
column (bronze: the schema's primary key; silver: the model's ``unique_key``; the extraction
profiles: the entity column), as text. Read from the Parquet footer when the file is written, and
recorded in the version's manifest too.

Lossless: the downgrade keeps the four columns in a stash table, which the upgrade restores. Rows
without a stash (files indexed before this revision) keep NULL: the migration cannot read the data
root, and nothing depends on a range being present.

Revision ID: d4f7b1e9a3c6
Revises: c9e4a7b2d5f1
Create Date: 2026-12-02 23:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lakehouse.db.migrate import restore_columns, stash_columns

revision: str = "d4f7b1e9a3c6"
down_revision: str | None = "c9e4a7b2d5f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILES = sa.table(
    "dataset_files",
    sa.column("id", sa.Uuid()),
    sa.column("dt_min", sa.Date()),
    sa.column("dt_max", sa.Date()),
    sa.column("key_min", sa.Text()),
    sa.column("key_max", sa.Text()),
)
COLUMNS = ["dt_min", "dt_max", "key_min", "key_max"]


def upgrade() -> None:
    with op.batch_alter_table("dataset_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dt_min", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("dt_max", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("key_min", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("key_max", sa.Text(), nullable=True))
    restore_columns(revision, FILES, ["id"], COLUMNS)


def downgrade() -> None:
    stash_columns(revision, FILES, ["id"], COLUMNS)
    with op.batch_alter_table("dataset_files", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
