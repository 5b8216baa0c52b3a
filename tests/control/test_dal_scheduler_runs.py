"""Scheduler and pipeline-run parts of the DAL, on both backends."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import DatasetVersionSpec, TaskRun, TaskSpec, TaskUpdate
from lakehouse.errors import AlreadyExistsError, InvalidStateError, NotFoundError
from lakehouse.ids import is_run_id


def test_create_update_and_list_tasks(dal: DataAccessLayer) -> None:
    dal.create_task(TaskSpec("acme-nightly", "build", "acme", "cron", "0 3 * * *", config={"days": 90}))
    dal.create_task(TaskSpec("beta-nightly", "build", "beta", "cron", "0 4 * * *"))
    dal.create_task(TaskSpec("old", "build", "acme", "cron", "0 5 * * *", status="paused"))
    assert [t.task_key for t in dal.list_active_tasks()] == ["acme-nightly", "beta-nightly"]
    assert [t.task_key for t in dal.list_active_tasks("acme")] == ["acme-nightly"]

    updated = dal.update_task(TaskUpdate("acme-nightly", status="paused", config={"days": 30}))
    assert updated.status == "paused"
    assert updated.config == {"days": 30}
    assert updated.updated_at >= updated.created_at
    assert [t.task_key for t in dal.list_active_tasks()] == ["beta-nightly"]


def test_duplicate_task_key_raises_a_clear_error(dal: DataAccessLayer) -> None:
    dal.create_task(TaskSpec("k", "build", "acme", "cron", "0 3 * * *"))
    with pytest.raises(AlreadyExistsError, match="scheduler task 'k' already exists"):
        dal.create_task(TaskSpec("k", "build", "acme", "cron", "0 3 * * *"))


def test_update_unknown_task_raises(dal: DataAccessLayer) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        dal.update_task(TaskUpdate("nope", status="paused"))


def test_record_task_run(dal: DataAccessLayer) -> None:
    dal.create_task(TaskSpec("k", "build", "acme", "cron", "0 3 * * *"))
    start = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    dal.record_task_run(TaskRun("k", "run-1", start, start + timedelta(seconds=2.5), True, "ok", {"rows": 3}))
    runs = dal.list_task_runs("k")
    assert len(runs) == 1
    assert runs[0].success is True
    assert runs[0].started_at == start
    assert runs[0].duration_ms == 2500
    assert runs[0].metadata == {"rows": 3}
    with pytest.raises(AlreadyExistsError):
        dal.record_task_run(TaskRun("k", "run-1", start))
    with pytest.raises(NotFoundError):
        dal.record_task_run(TaskRun("missing", "run-2", start))


def test_pipeline_run_lifecycle(dal: DataAccessLayer) -> None:
    run_id = dal.start_pipeline_run("acme", "ingest", stage="bronze", input_manifest={"files": ["a.csv"]})
    assert is_run_id(run_id)
    running = dal.get_pipeline_run(run_id)
    assert running.status == "running"
    assert running.finished_at is None

    done = dal.finish_pipeline_run(run_id, "success", manifests={"outputs": [1]}, error=None)
    assert done.status == "success"
    assert done.output_manifest == {"outputs": [1]}
    assert done.input_manifest == {"files": ["a.csv"]}
    assert done.finished_at is not None and done.finished_at >= done.started_at

    with pytest.raises(InvalidStateError, match="already success"):
        dal.finish_pipeline_run(run_id, "failed", error={"message": "late"})
    with pytest.raises(NotFoundError, match="no pipeline run 'nope'"):
        dal.finish_pipeline_run("nope", "failed")


def test_run_ids_are_unique_and_sortable(dal: DataAccessLayer) -> None:
    ids = [dal.start_pipeline_run("acme", "ingest") for _ in range(5)]
    assert len(set(ids)) == 5
    assert ids == sorted(ids)
    assert [r.run_id for r in dal.list_pipeline_runs("acme")] == sorted(ids, reverse=True)


def test_register_dataset_version(dal: DataAccessLayer) -> None:
    run_id = dal.start_pipeline_run("acme", "ingest")
    spec = DatasetVersionSpec(
        company="acme",
        dataset_name="customers",
        version_tag="v1",
        schema_version="1",
        manifest_path="acme/manifests/x.json",
        row_count=10,
        checksum="sha256:" + "0" * 64,
        produced_by_run_id=run_id,
    )
    rec = dal.register_dataset_version(spec)
    assert rec.row_count == 10
    assert [v.version_tag for v in dal.list_dataset_versions("acme", "customers")] == ["v1"]
    with pytest.raises(AlreadyExistsError, match="acme/bronze.customers@v1"):
        dal.register_dataset_version(spec)


def test_a_listing_without_schemas_has_every_other_field(dal: DataAccessLayer) -> None:
    run_id = dal.start_pipeline_run("acme", "ingest")
    for tag, day in (("v1", 3), ("v2", 1)):
        dal.register_dataset_version(
            DatasetVersionSpec(
                company="acme",
                dataset_name="jobs",
                version_tag=tag,
                schema_version="2",
                manifest_path=f"acme/manifests/{tag}.json",
                row_count=day * 10,
                checksum="sha256:" + str(day) * 64,
                produced_by_run_id=run_id,
                zone="silver",
                schema={"name": "jobs", "columns": []},
                as_of=date(2026, 9, day),
            )
        )
    full = dal.list_dataset_versions("acme")
    lean = dal.list_dataset_versions("acme", with_schema=False)
    assert [v.schema for v in full] == [{"name": "jobs", "columns": []}] * 2
    assert lean == [dataclasses.replace(v, schema=None) for v in full]


def test_fail_pipeline_run_records_the_error_and_never_raises(dal: DataAccessLayer) -> None:
    run_id = dal.start_pipeline_run("acme", "ingest")
    dal.fail_pipeline_run(run_id, ValueError("bad row"), failed_nodes=["x"])
    run = dal.get_pipeline_run(run_id)
    assert run.status == "failed"
    assert run.error == {"type": "ValueError", "message": "bad row", "failed_nodes": ["x"]}
    dal.fail_pipeline_run(run_id, RuntimeError("again"))  # already finished: logged, not raised
    assert dal.get_pipeline_run(run_id).error == run.error
