"""The one pipeline-run lifecycle (lakehouse.pipeline_run.PipelineRun), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from lakehouse.dataplane.manifest import run_manifest
from lakehouse.dataplane.pipeline_run import PipelineRun
from lakehouse.dataplane.store import DatasetStore, StagedVersion
from lakehouse.errors import BuildFailedError, LockBusyError
from tests.data_fixtures import COMPANY, files_under


def _stage(store: DatasetStore, run: PipelineRun, dataset: str = "customers") -> StagedVersion:
    version = run.stage(StagedVersion(COMPANY, "silver", dataset, run.run_id, "1"))
    with duckdb.connect() as con:
        store.write_file(con, version, pa.table({"id": [1, 2]}), date(2026, 9, 30))
    return version


def _manifest(run: PipelineRun) -> dict[str, object]:
    return run_manifest(run_id=run.run_id, company=COMPANY, pipeline="test", inputs=[], outputs=[])


def test_a_run_that_finishes_commits_its_versions_and_removes_its_scratch(
    store: DatasetStore, root: Path, tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch"
    with PipelineRun(store, COMPANY, "test") as run:
        assert store.dal.list_pipeline_runs(COMPANY) == []  # nothing recorded before start
        run.start(stage="silver", inputs={"sources": []})
        assert store.dal.get_pipeline_run(run.run_id).holder_host is not None
        run.scratch(scratch).mkdir()
        _stage(store, run)
        [record] = run.publish()
        run.finish(_manifest(run))
    finished = store.dal.get_pipeline_run(run.run_id)
    assert finished.status == "success" and finished.output_manifest is not None
    assert record.produced_by_run_id == run.run_id
    assert store.read_dataset(COMPANY, "silver", "customers").num_rows == 2
    assert not scratch.exists()


def test_a_failure_before_the_commit_marks_the_run_failed_and_removes_what_it_wrote(
    store: DatasetStore, root: Path, tmp_path: Path
) -> None:
    rejects = root / COMPANY / "bronze" / "_rejects" / "x.jsonl"
    with pytest.raises(ValueError, match="bad\nrow"), PipelineRun(store, COMPANY, "test") as run:
        run.start()
        _stage(store, run)
        rejects.parent.mkdir(parents=True)
        rejects.write_text("{}\n")
        run.remove_unless_committed(f"{COMPANY}/bronze/_rejects/x.jsonl")
        raise ValueError("bad\nrow")
    failed = store.dal.get_pipeline_run(run.run_id)
    assert failed.status == "failed"
    assert failed.error == {"type": "ValueError", "message": "bad row"}
    assert [p for p in files_under(root) if p.endswith(".parquet")] == []
    assert not rejects.exists()


def test_a_failure_after_the_commit_keeps_the_versions_and_says_so(store: DatasetStore, root: Path) -> None:
    with pytest.raises(OSError, match="manifest"), PipelineRun(store, COMPANY, "test") as run:
        run.start()
        _stage(store, run)
        [record] = run.publish()
        raise OSError("could not write the run manifest")
    failed = store.dal.get_pipeline_run(run.run_id)
    assert failed.status == "failed"
    assert (failed.error or {})["published_versions"] == [f"silver.customers@{record.version_tag}"]
    assert store.read_dataset(COMPANY, "silver", "customers").num_rows == 2


def test_a_run_that_ends_without_finishing_is_failed_not_left_running(store: DatasetStore) -> None:
    with PipelineRun(store, COMPANY, "test") as run:
        run.start()
    error = store.dal.get_pipeline_run(run.run_id).error or {}
    assert error["type"] == "InvalidStateError" and "a bug of the test pipeline" in error["message"]


def test_an_error_records_its_own_details(store: DatasetStore) -> None:
    with pytest.raises(BuildFailedError), PipelineRun(store, COMPANY, "dbt_build") as run:
        run.start()
        raise BuildFailedError(run.run_id, ["test.not_null_x"])
    assert (store.dal.get_pipeline_run(run.run_id).error or {})["failed_nodes"] == ["test.not_null_x"]


def test_the_lock_is_held_for_the_whole_block_and_released_after(store: DatasetStore) -> None:
    with PipelineRun(store, COMPANY, "dbt_build", lock=f"build:{COMPANY}") as first:
        with (
            pytest.raises(LockBusyError, match=f"run {first.run_id}"),
            PipelineRun(store, COMPANY, "dbt_build", lock=f"build:{COMPANY}"),
        ):
            pass
        first.start()
        first.finish(_manifest(first))
    with PipelineRun(store, COMPANY, "dbt_build", lock=f"build:{COMPANY}") as second:
        second.start()
        second.finish(_manifest(second))
    assert store.dal.get_pipeline_run(second.run_id).status == "success"


def test_a_run_commits_once(store: DatasetStore) -> None:
    with pytest.raises(Exception, match="publish again"), PipelineRun(store, COMPANY, "test") as run:
        run.start()
        _stage(store, run)
        run.publish()
        run.publish()
    assert store.dal.get_pipeline_run(run.run_id).status == "failed"


def test_a_finish_rolled_back_with_its_transaction_is_failed(store: DatasetStore) -> None:
    """Other writes that commit with the finish (the build's events) fail: the run is not left running."""
    with pytest.raises(RuntimeError, match="events"), PipelineRun(store, COMPANY, "dbt_build") as run:
        run.start()
        with store.dal.transaction():
            run.finish(_manifest(run))
            raise RuntimeError("events sync failed")
    assert store.dal.get_pipeline_run(run.run_id).status == "failed"


def test_a_failure_after_the_run_finished_leaves_it_successful(store: DatasetStore) -> None:
    with pytest.raises(RuntimeError), PipelineRun(store, COMPANY, "dbt_build") as run:
        run.start()
        run.finish(_manifest(run))
        raise RuntimeError("the extraction that follows failed")
    assert store.dal.get_pipeline_run(run.run_id).status == "success"
