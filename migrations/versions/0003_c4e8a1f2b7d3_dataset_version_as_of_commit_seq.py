"""Dataset versions: the as-of date they describe and the order they were committed in.

``as_of`` is the business date of a version (a build's as-of; a bronze version's newest ``dt``);
``commit_seq`` numbers commit transactions (every version of one commit shares its number). The
current silver/gold version is the one with the newest as_of, then the highest commit_seq, so a
backfill (an older as-of) is published but never current, and the run id plays no part.

Lossless: the downgrade keeps both columns in a stash table, which the upgrade restores from. Rows
with no stash (committed before this revision, or while at an older one) are derived from what
remains: a version's as_of is the newest ``dt`` of its files in its run's output manifest
(``pipeline_runs.output_manifest_json``), or the run's recorded ``as_of``; its commit_seq is the rank
of its commit (versions of one run form one commit) in commit-time order.

Revision ID: c4e8a1f2b7d3
Revises: 9b3d47e1c2a4
Create Date: 2026-12-01 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from alembic import op

from lakehouse.db.migrate import restore_columns, stash_columns

revision: str = "c4e8a1f2b7d3"
down_revision: str | None = "9b3d47e1c2a4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("as_of", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("commit_seq", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.create_index(
            "ix_dataset_versions_company_zone_dataset_name_as_of_commit_seq",
            ["company", "zone", "dataset_name", "as_of", "commit_seq"],
            unique=False,
        )
    _derive(op.get_bind())
    restore_columns(revision, VERSIONS, ["id"], COLUMNS)


VERSIONS = sa.table(
    "dataset_versions",
    sa.column("id", sa.Uuid()),
    sa.column("as_of", sa.Date()),
    sa.column("commit_seq", sa.BigInteger()),
)
COLUMNS = ["as_of", "commit_seq"]


def downgrade() -> None:
    stash_columns(revision, VERSIONS, ["id"], COLUMNS)
    with op.batch_alter_table("dataset_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_dataset_versions_company_zone_dataset_name_as_of_commit_seq")
        batch_op.drop_column("commit_seq")
        batch_op.drop_column("as_of")


def _derive(bind: sa.Connection) -> None:
    meta = sa.MetaData()
    versions = sa.Table("dataset_versions", meta, autoload_with=bind)
    runs = sa.Table("pipeline_runs", meta, autoload_with=bind)
    manifests: dict[str, tuple[Any, Any]] = {
        row.run_id: (row.input_manifest_json, row.output_manifest_json)
        for row in bind.execute(
            sa.select(runs.c.run_id, runs.c.input_manifest_json, runs.c.output_manifest_json)
        )
    }
    rows = bind.execute(
        sa.select(
            versions.c.id,
            versions.c.zone,
            versions.c.dataset_name,
            versions.c.produced_by_run_id,
            versions.c.created_at,
        )
    ).all()
    first_commit: dict[str, tuple[Any, str]] = {}
    for row in rows:
        seen = first_commit.get(row.produced_by_run_id)
        if seen is None or row.created_at < seen[0]:
            first_commit[row.produced_by_run_id] = (row.created_at, row.produced_by_run_id)
    order = sorted(first_commit.values(), key=lambda pair: (str(pair[0]), pair[1]))
    seq = {run_id: n for n, (_at, run_id) in enumerate(order, start=1)}
    for row in rows:
        inputs, outputs = manifests.get(row.produced_by_run_id, (None, None))
        as_of = _as_of(row.zone, row.dataset_name, inputs, outputs)
        bind.execute(
            versions.update()
            .where(versions.c.id == row.id)
            .values(as_of=as_of, commit_seq=seq[row.produced_by_run_id])
        )


def _as_of(zone: str, dataset: str, inputs: Any, outputs: Any) -> date | None:
    """The newest dt of the version's files in its run's output manifest, else the run's as_of."""
    for entry in (outputs or {}).get("outputs", []) if isinstance(outputs, dict) else []:
        if entry.get("zone") == zone and entry.get("dataset") == dataset:
            if entry.get("as_of"):
                return date.fromisoformat(str(entry["as_of"]))
            days = [str(f["dt"]) for f in entry.get("files", []) if f.get("dt")]
            if days:
                return date.fromisoformat(max(days))
    for document in (outputs, inputs):
        if isinstance(document, dict) and document.get("as_of"):
            return date.fromisoformat(str(document["as_of"]))
    return None
