"""Data plane: zone, recorded column schema and gc status on dataset versions.

Revision ID: 9b3d47e1c2a4
Revises: 5f1c0a7e2b10
Create Date: 2026-11-30 06:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "9b3d47e1c2a4"
down_revision: str | None = "5f1c0a7e2b10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        # Rows from before this revision were bronze ingests; the server default fills them in.
        batch_op.add_column(sa.Column("zone", sa.Text(), nullable=False, server_default="bronze"))
        batch_op.add_column(
            sa.Column(
                "schema_json",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("status", sa.Text(), nullable=False, server_default="committed"))
        batch_op.drop_constraint("uq_dataset_versions_company_dataset_name_version_tag", type_="unique")
        batch_op.create_unique_constraint(
            "uq_dataset_versions_company_zone_dataset_name_version_tag",
            ["company", "zone", "dataset_name", "version_tag"],
        )
        batch_op.create_check_constraint("ck_dataset_versions_zone", "zone IN ('bronze', 'silver', 'gold')")
        batch_op.create_check_constraint("ck_dataset_versions_status", "status IN ('committed', 'expired')")


def downgrade() -> None:
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.drop_constraint("ck_dataset_versions_status", type_="check")
        batch_op.drop_constraint("ck_dataset_versions_zone", type_="check")
        batch_op.drop_constraint("uq_dataset_versions_company_zone_dataset_name_version_tag", type_="unique")
        batch_op.create_unique_constraint(
            "uq_dataset_versions_company_dataset_name_version_tag", ["company", "dataset_name", "version_tag"]
        )
        batch_op.drop_column("status")
        batch_op.drop_column("schema_json")
        batch_op.drop_column("zone")
