"""Dataset schemas: one registered column list per (company, zone, dataset, schema version).

Registered in the commit transaction of the first version that uses it; the unique constraint makes
two concurrent runs that inferred different schemas for a new dataset fail one of them, instead of
both publishing a different "version 1".

Lossless: the downgrade keeps the table's rows in a stash table, which the upgrade restores from.
Without a stash (a database that never had this table), the upgrade derives the rows from
``dataset_versions``, whose every row keeps its ``schema_json``: each schema version is registered by
the first committed version that used it (its run and commit time).

Revision ID: e7b3c5d9a1f4
Revises: d2a9f6b1e5c8
Create Date: 2026-12-01 21:10:00
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from lakehouse.db.migrate import restore_rows, stash_rows

revision: str = "e7b3c5d9a1f4"
down_revision: str | None = "d2a9f6b1e5c8"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schemas = op.create_table(
        "dataset_schemas",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("company", sa.Text(), nullable=False),
        sa.Column("zone", sa.Text(), nullable=False),
        sa.Column("dataset_name", sa.Text(), nullable=False),
        sa.Column("schema_version", sa.Text(), nullable=False),
        sa.Column(
            "schema_json",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("produced_by_run_id", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("zone IN ('bronze', 'silver', 'gold')", name=op.f("ck_dataset_schemas_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_schemas")),
        sa.UniqueConstraint(
            "company",
            "zone",
            "dataset_name",
            "schema_version",
            name=op.f("uq_dataset_schemas_company_zone_dataset_name_schema_version"),
        ),
    )
    if restore_rows(revision, SCHEMAS):
        return
    bind = op.get_bind()
    versions = sa.Table("dataset_versions", sa.MetaData(), autoload_with=bind)
    rows = bind.execute(
        sa.select(
            versions.c.company,
            versions.c.zone,
            versions.c.dataset_name,
            versions.c.schema_version,
            versions.c.schema_json,
            versions.c.produced_by_run_id,
            versions.c.created_at,
        )
        .where(versions.c.schema_json.is_not(None))
        .order_by(versions.c.created_at, versions.c.version_tag)
    ).all()
    first: dict[tuple[str, str, str, str], dict[str, object]] = {}
    for row in rows:
        if row.schema_json is None:  # a JSON null: no schema recorded
            continue
        key = (row.company, row.zone, row.dataset_name, row.schema_version)
        if key not in first:
            first[key] = {
                # Derived rows get a stable id, so a downgrade and upgrade give back the same rows.
                "id": uuid.uuid5(uuid.NAMESPACE_URL, "lakehouse-schema:" + "/".join(key)),
                "company": row.company,
                "zone": row.zone,
                "dataset_name": row.dataset_name,
                "schema_version": row.schema_version,
                "schema_json": row.schema_json,
                "produced_by_run_id": row.produced_by_run_id,
                "created_at": row.created_at,
            }
    if first:
        op.bulk_insert(schemas, list(first.values()))


SCHEMAS = sa.table(
    "dataset_schemas",
    sa.column("id", sa.Uuid()),
    sa.column("company", sa.Text()),
    sa.column("zone", sa.Text()),
    sa.column("dataset_name", sa.Text()),
    sa.column("schema_version", sa.Text()),
    sa.column("schema_json", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")),
    sa.column("produced_by_run_id", sa.Text()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def downgrade() -> None:
    stash_rows(revision, SCHEMAS, ["id"])
    op.drop_table("dataset_schemas")
