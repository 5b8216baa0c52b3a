"""Data plane: zone, recorded column schema and gc status on dataset versions.

Lossless, both ways (a downgrade followed by this upgrade gives back the same rows and values):

* ``zone`` is derived from what remains: ``file_path`` is the version's manifest path relative to the
  data root, ``<company>/manifests/<zone>/<dataset>/<version_tag>.json``; a path that names no zone
  there means a bronze ingest, the only kind revision 0001 recorded.
* ``schema_json`` and ``status`` cannot be derived. The downgrade keeps them, with ``zone``, for every
  row the upgrade could not fill in by itself (a zone other than the derived one, a schema JSON, or
  status ``expired``) in the stash table ``migration_stash_9b3d47e1c2a4_dataset_versions``. The upgrade
  fills every row in (derived zone, no schema, committed), then restores the stashed rows and drops
  the stash. Rows written while the database was at 0001 get the filled-in values.
* The downgrade refuses, changing nothing, when several rows share ``(company, dataset_name,
  version_tag)`` in different zones: revision 0001 holds one row per such triple.

Revision ID: 9b3d47e1c2a4
Revises: 5f1c0a7e2b10
Create Date: 2026-11-30 06:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement

from lakehouse.db.migrate import DowngradeRefusedError, restore_columns, stash_columns

revision: str = "9b3d47e1c2a4"
down_revision: str | None = "5f1c0a7e2b10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ZONES = ("bronze", "silver", "gold")
JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

versions = sa.table(
    "dataset_versions",
    sa.column("id", sa.Uuid()),
    sa.column("company", sa.Text()),
    sa.column("dataset_name", sa.Text()),
    sa.column("version_tag", sa.Text()),
    sa.column("file_path", sa.Text()),
    sa.column("zone", sa.Text()),
    sa.column("schema_json", JSON_TYPE),
    sa.column("status", sa.Text()),
)
STASHED = ["zone", "schema_json", "status"]


def upgrade() -> None:
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("zone", sa.Text(), nullable=False, server_default="bronze"))
        batch_op.add_column(sa.Column("schema_json", JSON_TYPE, nullable=True))
        batch_op.add_column(sa.Column("status", sa.Text(), nullable=False, server_default="committed"))
        batch_op.drop_constraint("uq_dataset_versions_company_dataset_name_version_tag", type_="unique")
        batch_op.create_unique_constraint(
            "uq_dataset_versions_company_zone_dataset_name_version_tag",
            ["company", "zone", "dataset_name", "version_tag"],
        )
        batch_op.create_check_constraint("ck_dataset_versions_zone", "zone IN ('bronze', 'silver', 'gold')")
        batch_op.create_check_constraint("ck_dataset_versions_status", "status IN ('committed', 'expired')")
    op.execute(sa.update(versions).values(zone=_zone_from_manifest_path()))
    restore_columns(revision, versions, ["id"], STASHED)


def downgrade() -> None:
    _refuse_tags_shared_across_zones()
    underivable = sa.or_(
        versions.c.zone != _zone_from_manifest_path(),
        versions.c.schema_json.is_not(None),
        versions.c.status != "committed",
    )
    stash_columns(revision, versions, ["id"], STASHED, where=underivable)
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


def _zone_from_manifest_path() -> ColumnElement[str]:
    """The zone a version's manifest path names (``<company>/manifests/<zone>/...``), else bronze."""
    whens = []
    for zone in ZONES:
        prefix = versions.c.company + f"/manifests/{zone}/"
        whens.append((sa.func.substr(versions.c.file_path, 1, sa.func.length(prefix)) == prefix, zone))
    return sa.case(*whens, else_="bronze")


def _refuse_tags_shared_across_zones() -> None:
    key = (versions.c.company, versions.c.dataset_name, versions.c.version_tag)
    query = sa.select(*key, sa.func.count().label("n")).group_by(*key).having(sa.func.count() > 1)
    shared = op.get_bind().execute(query.order_by(*key)).all()
    if shared:
        first = shared[0]
        raise DowngradeRefusedError(
            revision,
            f"{sum(r.n for r in shared)} rows of table dataset_versions share (company, dataset_name, "
            f"version_tag) with a row of another zone (e.g. {first.company}/{first.dataset_name}/"
            f"{first.version_tag}); revision {down_revision} holds one row per such triple, so the zone "
            "column of those rows would be lost",
            "delete or retag the extra versions first, or stay at this revision",
        )
