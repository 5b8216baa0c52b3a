"""Migrations are reversible and match the models, on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.util import CommandError
from sqlalchemy import create_engine, inspect, text

from lakehouse.dal import DataAccessLayer
from lakehouse.db.migrate import (
    DowngradeRefusedError,
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    stash_table_name,
    upgrade,
)
from lakehouse.db.models import Base
from lakehouse.db.records import TaskSpec
from lakehouse.db.types import UtcDateTime
from lakehouse.errors import ControlPlaneError, MigrationRequiredError

INITIAL = "5f1c0a7e2b10"  # 0001: the eight tables
ZONES_REVISION = "9b3d47e1c2a4"  # 0002: dataset_versions.zone, schema_json and status

TABLES = {
    "scheduler_tasks",
    "scheduler_runs",
    "pipeline_runs",
    "dataset_versions",
    "events_index",
    "review_gates",
    "notifications",
    "idempotency_keys",
}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _drift(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "render_as_batch": conn.dialect.name == "sqlite"}
            )
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_round_trip(empty_db_url: str) -> None:
    upgrade(empty_db_url, "head")
    assert TABLES <= _tables(empty_db_url)
    downgrade(empty_db_url, "base")
    assert _tables(empty_db_url) == set()
    upgrade(empty_db_url, "head")
    assert TABLES <= _tables(empty_db_url)
    engine = create_engine(empty_db_url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_models_and_migrations_do_not_drift(empty_db_url: str) -> None:
    upgrade(empty_db_url, "head")
    assert _drift(empty_db_url) == []


def test_dal_refuses_an_unmigrated_database(empty_db_url: str) -> None:
    with pytest.raises(MigrationRequiredError, match="lakehouse db upgrade"):
        DataAccessLayer.from_url(empty_db_url)


def test_timestamps_come_back_timezone_aware_utc(dal: DataAccessLayer) -> None:
    task = dal.create_task(TaskSpec("nightly", "build", "acme", "cron", "0 3 * * *"))
    fetched = dal.get_task("nightly")
    assert fetched.created_at.tzinfo is not None
    assert fetched.created_at.utcoffset() == timedelta(0)
    assert abs(fetched.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert fetched.created_at == task.created_at


def test_check_constraints_restrict_status_values(dal: DataAccessLayer) -> None:
    dal.create_task(TaskSpec("t1", "build", "acme", "cron", "* * * * *"))
    with pytest.raises(Exception, match="(?i)check"), dal._engine.begin() as conn:
        conn.execute(text("UPDATE scheduler_tasks SET status = 'exploded' WHERE task_key = 't1'"))


def test_foreign_key_from_runs_to_tasks_is_enforced(dal: DataAccessLayer) -> None:
    with pytest.raises(Exception, match="(?i)foreign key"), dal._engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO scheduler_runs (id, task_id, run_id, started_at, metadata_json) "
                "VALUES (:id, :task, 'r1', :now, '{}')"
            ),
            {
                "id": "0" * 32 if conn.dialect.name == "sqlite" else "00000000-0000-0000-0000-000000000001",
                "task": "1" * 32 if conn.dialect.name == "sqlite" else "00000000-0000-0000-0000-000000000002",
                "now": datetime(2026, 1, 1, tzinfo=UTC),
            },
        )


# --- 0002: zone, schema_json and status survive a downgrade ------------------------------------------

_V1_VERSIONS = sa.table(
    "dataset_versions",
    sa.column("id", sa.Uuid()),
    *(sa.column(c) for c in ("dataset_name", "company", "version_tag", "schema_version", "file_path")),
    *(sa.column(c) for c in ("row_count", "checksum", "produced_by_run_id")),
    sa.column("created_at", UtcDateTime()),
)
_V2_VERSIONS = sa.table(
    "dataset_versions", *(sa.column(c.name, c.type) for c in _V1_VERSIONS.c), sa.column("zone")
)


def _version_row(dataset: str, tag: str, file_path: str, **more: object) -> dict[str, object]:
    """A dataset_versions row with the columns of revision 0001 (and ``more``)."""
    return {
        "id": uuid.uuid4(),
        "dataset_name": dataset,
        "company": "acme",
        "version_tag": tag,
        "schema_version": "1",
        "file_path": file_path,
        "row_count": 10,
        "checksum": "sha256:" + "0" * 64,
        "produced_by_run_id": tag,
        "created_at": datetime(2026, 11, 1, tzinfo=UTC),
        **more,
    }


def _zones(url: str) -> dict[str, tuple[str, object, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT file_path, zone, schema_json, status FROM dataset_versions"))
            return {r.file_path: (r.zone, r.schema_json, r.status) for r in rows}
    finally:
        engine.dispose()


def _execute(url: str, statement: sa.Executable) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(statement)
    finally:
        engine.dispose()


def test_versions_recorded_before_zones_get_the_zone_their_manifest_path_names(empty_db_url: str) -> None:
    upgrade(empty_db_url, INITIAL)
    paths = {
        "silver": "acme/manifests/silver/stg_orders/r1.json",
        "gold": "acme/manifests/gold/revenue_monthly/r1.json",
        "bronze": "acme/manifests/bronze/orders/r0.json",
        "elsewhere": "legacy/orders.json",  # names no zone: a bronze ingest, like every 0001 version
    }
    rows = [_version_row(path.split("/")[-2], "r1", path) for path in paths.values()]
    _execute(empty_db_url, sa.insert(_V1_VERSIONS).values(rows))
    upgrade(empty_db_url, ZONES_REVISION)
    assert _zones(empty_db_url) == {
        paths["silver"]: ("silver", None, "committed"),
        paths["gold"]: ("gold", None, "committed"),
        paths["bronze"]: ("bronze", None, "committed"),
        paths["elsewhere"]: ("bronze", None, "committed"),
    }


def test_a_zone_the_path_does_not_name_is_stashed_and_restored(empty_db_url: str) -> None:
    upgrade(empty_db_url, INITIAL)
    _execute(
        empty_db_url,
        sa.insert(_V1_VERSIONS).values([_version_row("orders", "r1", "legacy/orders.json")]),
    )
    upgrade(empty_db_url, ZONES_REVISION)
    _execute(empty_db_url, text("UPDATE dataset_versions SET zone = 'silver', status = 'expired'"))
    downgrade(empty_db_url, INITIAL)
    stash = stash_table_name(ZONES_REVISION, "dataset_versions")
    assert stash in _tables(empty_db_url)
    upgrade(empty_db_url, ZONES_REVISION)
    assert _zones(empty_db_url) == {"legacy/orders.json": ("silver", None, "expired")}
    assert stash not in _tables(empty_db_url)


def test_downgrade_refuses_a_version_tag_shared_across_zones(empty_db_url: str) -> None:
    upgrade(empty_db_url, ZONES_REVISION)
    bronze = _version_row("orders", "r1", "acme/manifests/bronze/orders/r1.json", zone="bronze")
    silver = _version_row("orders", "r1", "acme/manifests/silver/orders/r1.json", zone="silver")
    _execute(empty_db_url, sa.insert(_V2_VERSIONS).values([bronze, silver]))
    with pytest.raises(DowngradeRefusedError, match=r"2 rows of table dataset_versions .* acme/orders/r1"):
        downgrade(empty_db_url, INITIAL)
    engine = create_engine(empty_db_url)
    try:
        assert current_revision(engine) == ZONES_REVISION
    finally:
        engine.dispose()
    assert {zone for zone, _schema, _status in _zones(empty_db_url).values()} == {"bronze", "silver"}


# --- 0001: downgrading to base drops data only when asked ---------------------------------------------


def test_plain_alembic_downgrade_to_base_refuses_rows_unless_x_drop_data(empty_db_url: str) -> None:
    upgrade(empty_db_url, INITIAL)
    _execute(
        empty_db_url,
        sa.insert(_V1_VERSIONS).values(
            [_version_row("orders", "r1", "acme/manifests/bronze/orders/r1.json")]
        ),
    )
    cfg = alembic_config(empty_db_url)
    with pytest.raises(DowngradeRefusedError, match=r"dataset_versions \(1 row\).*--drop-data"):
        command.downgrade(cfg, "base")
    assert _tables(empty_db_url) == TABLES
    cfg.cmd_opts = argparse.Namespace(x=["drop_data=true"])
    command.downgrade(cfg, "base")
    assert _tables(empty_db_url) == set()


def test_refused_downgrade_is_a_control_plane_and_alembic_error() -> None:
    error = DowngradeRefusedError(INITIAL, "3 rows would be lost", "stay here")
    assert isinstance(error, ControlPlaneError)
    assert isinstance(error, CommandError)
    assert str(error) == f"refusing to downgrade below revision {INITIAL}: 3 rows would be lost; stay here"


SCHEMAS_REVISION = "e7b3c5d9a1f4"  # 0005: dataset_schemas (ingest claims keyed by sha256 alone)


def test_ingest_claims_made_before_0006_are_keyed_by_the_day_their_run_ingested(empty_db_url: str) -> None:
    """A header-only file claimed by its bytes alone: its day comes from its run's input manifest, so
    the next day's identical file is that day's delivery, not "already ingested"."""
    upgrade(empty_db_url, SCHEMAS_REVISION)
    sha = "sha256:" + "ab" * 32
    run = {
        "id": uuid.uuid4(),
        "run_id": "20261001T000000000000Z-0000aaaa",
        "company": "acme",
        "pipeline_name": "ingest",
        "status": "success",
        "input_manifest_json": {"sources": [{"dataset": "customers", "dt": "2026-10-01", "sha256": sha}]},
        "started_at": datetime(2026, 10, 1, tzinfo=UTC),
    }
    runs = sa.table(
        "pipeline_runs",
        sa.column("id", sa.Uuid()),
        *(sa.column(c) for c in ("run_id", "company", "pipeline_name", "status")),
        sa.column("started_at", sa.DateTime(timezone=True)),
        sa.column("input_manifest_json", sa.JSON()),
    )
    keys = sa.table(
        "idempotency_keys",
        sa.column("key"),
        sa.column("scope"),
        sa.column("run_id"),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    _execute(empty_db_url, sa.insert(runs).values(run))
    scope = "ingest:acme:customers"
    _execute(
        empty_db_url,
        sa.insert(keys).values(
            key=f"{scope}:{sha}", scope=scope, run_id=run["run_id"], created_at=run["started_at"]
        ),
    )
    upgrade(empty_db_url, "head")
    dal = DataAccessLayer.from_url(empty_db_url)
    try:
        assert dal.idempotency_claim_of(scope, f"2026-10-01/{sha}") == run["run_id"]
        assert dal.idempotency_claim_of(scope, f"2026-10-02/{sha}") is None
        assert dal.idempotency_claim_of(scope, sha) is None
    finally:
        dal.close()
    downgrade(empty_db_url, SCHEMAS_REVISION)
    engine = create_engine(empty_db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.select(keys.c.key)).scalars().all() == [f"{scope}:{sha}"]
    finally:
        engine.dispose()
