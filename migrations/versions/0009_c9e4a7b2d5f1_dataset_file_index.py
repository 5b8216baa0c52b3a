"""The file index: ``dataset_files``, one row per data file of a committed dataset version.

Filled in the transaction that commits each version, so what is current is listed by one indexed
query instead of one manifest read per version. Indexes: (company, zone, dataset_name, dt) for
as-of and partition lookups, and path (is a file referenced?). The JSON manifests stay the audit
copy.

Lossless: the downgrade keeps the table's rows in a stash table, which the upgrade restores. Without
a stash (a database that never had the index, or versions committed while it was downgraded), the
rows of a version are taken from its manifest when the version is first read (the migration cannot
read the data root): ``DatasetStore.entries_of``.

Revision ID: c9e4a7b2d5f1
Revises: b8d2f4a6c1e3
Create Date: 2026-12-02 14:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lakehouse.db.migrate import restore_rows, stash_rows

revision: str = "c9e4a7b2d5f1"
down_revision: str | None = "b8d2f4a6c1e3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


FILES = sa.table(
    "dataset_files",
    sa.column("id", sa.Uuid()),
    sa.column("version_id", sa.Uuid()),
    sa.column("company", sa.Text()),
    sa.column("zone", sa.Text()),
    sa.column("dataset_name", sa.Text()),
    sa.column("path", sa.Text()),
    sa.column("position", sa.Integer()),
    sa.column("size_bytes", sa.BigInteger()),
    sa.column("row_count", sa.BigInteger()),
    sa.column("checksum", sa.Text()),
    sa.column("dt", sa.Date()),
)


def upgrade() -> None:
    op.create_table(
        "dataset_files",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("company", sa.Text(), nullable=False),
        sa.Column("zone", sa.Text(), nullable=False),
        sa.Column("dataset_name", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.Text(), nullable=False),
        sa.Column("dt", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["dataset_versions.id"],
            name=op.f("fk_dataset_files_version_id_dataset_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_files")),
        sa.UniqueConstraint("version_id", "path", name=op.f("uq_dataset_files_version_id_path")),
    )
    op.create_index(
        op.f("ix_dataset_files_company_zone_dataset_name_dt"),
        "dataset_files",
        ["company", "zone", "dataset_name", "dt"],
        unique=False,
    )
    op.create_index(op.f("ix_dataset_files_path"), "dataset_files", ["path"], unique=False)
    restore_rows(revision, FILES)


def downgrade() -> None:
    stash_rows(revision, FILES, ["id"])
    op.drop_index(op.f("ix_dataset_files_path"), table_name="dataset_files")
    op.drop_index(op.f("ix_dataset_files_company_zone_dataset_name_dt"), table_name="dataset_files")
    op.drop_table("dataset_files")
