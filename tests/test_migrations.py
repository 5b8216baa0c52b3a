"""Migrations are reversible and match the models, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from lakehouse.dal import DataAccessLayer
from lakehouse.db.migrate import current_revision, downgrade, head_revision, upgrade
from lakehouse.db.models import Base
from lakehouse.db.records import TaskSpec
from lakehouse.errors import MigrationRequiredError

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
    with pytest.raises(Exception, match="(?i)check"), dal.engine.begin() as conn:
        conn.execute(text("UPDATE scheduler_tasks SET status = 'exploded' WHERE task_key = 't1'"))


def test_foreign_key_from_runs_to_tasks_is_enforced(dal: DataAccessLayer) -> None:
    with pytest.raises(Exception, match="(?i)foreign key"), dal.engine.begin() as conn:
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
