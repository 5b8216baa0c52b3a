"""Ingest claims per day: a file's idempotency key is its partition date and sha256, not the sha256 alone.

A header-only ``customers.csv`` (or a 0-byte ``calls.jsonl`` of a quiet day) has the same bytes every
day: keyed by its sha256 alone, every day after the first was skipped as "already ingested", so that
source never reached those days and held back the default as-of of every build. The key of an ingest
claim (scope ``ingest:<company>:<dataset>``) becomes ``<dt>/sha256:<hex>``; the same file delivered
twice for the same day is still ingested once.

Upgrade: each claim's day is read from the input manifest of the run that holds it (every ingest run
lists its sources with dataset, dt and sha256). A claim whose run or source is not found keeps its key.

Lossless: the downgrade keeps every per-day claim in a stash table and leaves the earliest claim of
each file's bytes under the bare key; the upgrade puts the stashed claims back in place of those.

Revision ID: f3a8d2c6b9e1
Revises: e7b3c5d9a1f4
Create Date: 2026-12-02 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from lakehouse.db.migrate import restore_rows, stash_columns, stash_table_name

revision: str = "f3a8d2c6b9e1"
down_revision: str | None = "e7b3c5d9a1f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYS = sa.table(
    "idempotency_keys",
    sa.column("key", sa.Text()),
    sa.column("scope", sa.Text()),
    sa.column("run_id", sa.Text()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("expires_at", sa.DateTime(timezone=True)),
)
RUNS = sa.table(
    "pipeline_runs",
    sa.column("run_id", sa.Text()),
    sa.column(
        "input_manifest_json", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    ),
)
SHA = "sha256:"


def _ingest_claims() -> list[Any]:
    return list(
        op.get_bind()
        .execute(
            sa.select(KEYS.c.key, KEYS.c.scope, KEYS.c.run_id, KEYS.c.created_at).where(
                KEYS.c.scope.like("ingest:%")
            )
        )
        .all()
    )


def _rekey(old: str, new: str) -> None:
    op.execute(sa.update(KEYS).where(KEYS.c.key == old).values(key=new))


def upgrade() -> None:
    bind = op.get_bind()
    stash = stash_table_name(revision, "idempotency_keys")
    if sa.inspect(bind).has_table(stash):
        # The downgrade's claims: the bare keys it made give way to the stashed per-day ones.
        stashed = sa.table(stash, sa.column("key", sa.Text()), sa.column("scope", sa.Text()))
        bare_keys = {
            f"{row.scope}:{row.key[len(row.scope) + 1 :].partition('/')[2]}"
            for row in bind.execute(sa.select(stashed.c.key, stashed.c.scope)).all()
        }
        if bare_keys:
            op.execute(sa.delete(KEYS).where(KEYS.c.key.in_(sorted(bare_keys))))
        restore_rows(revision, KEYS)
    manifests: dict[str, Any] = {}
    for claim in _ingest_claims():
        bare = claim.key[len(claim.scope) + 1 :]
        if not bare.startswith(SHA) or claim.run_id is None:
            continue  # keyed per day already
        if claim.run_id not in manifests:
            manifests[claim.run_id] = bind.execute(
                sa.select(RUNS.c.input_manifest_json).where(RUNS.c.run_id == claim.run_id)
            ).scalar()
        dataset = claim.scope.split(":", 2)[2]
        sources = (manifests[claim.run_id] or {}).get("sources") or []
        days = sorted(
            {s.get("dt") for s in sources if s.get("sha256") == bare and s.get("dataset") == dataset}
        )
        if len(days) == 1 and days[0]:  # before this revision a run ingested the same bytes once
            _rekey(claim.key, f"{claim.scope}:{days[0]}/{bare}")


def downgrade() -> None:
    by_bytes: dict[str, list[Any]] = {}
    for claim in _ingest_claims():
        _day, _, bare = claim.key[len(claim.scope) + 1 :].partition("/")
        if bare.startswith(SHA):
            by_bytes.setdefault(f"{claim.scope}:{bare}", []).append(claim)
    per_day = [c.key for claims in by_bytes.values() for c in claims]
    # Every per-day claim is kept as it is for the upgrade; the earliest of each file's bytes stays
    # under the bare key, which is all the previous revision knows.
    stash_columns(
        revision,
        KEYS,
        ["key"],
        ["scope", "run_id", "created_at", "expires_at"],
        where=KEYS.c.key.in_(per_day),
    )
    for bare_key, claims in by_bytes.items():
        first, *others = sorted(claims, key=lambda c: (c.created_at, c.key))
        if others:
            op.execute(sa.delete(KEYS).where(KEYS.c.key.in_([c.key for c in others])))
        _rekey(first.key, bare_key)
