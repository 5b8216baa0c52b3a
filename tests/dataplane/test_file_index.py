"""The file index (``dataset_files``) on each backend: committed with its version, read for many
versions in one query (no manifest read), filled from the manifest for a version committed before
the index existed, and compared with the manifests by ``verify``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import duckdb
import pyarrow as pa
import pytest
from sqlalchemy import delete, event

from lakehouse.dataplane import store as store_module
from lakehouse.dataplane.store import DatasetStore, StagedVersion
from lakehouse.db.models import DatasetFile, table_of
from tests.data_fixtures import COMPANY, publish_many, publish_table

FILES = table_of(DatasetFile)


def _jobs(n: int) -> pa.Table:
    return pa.table({"job_id": [f"J{n}-{i}" for i in range(n)]})


@contextmanager
def _counting(store: DatasetStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Counts manifest reads and SELECTs on dataset_files while the block runs."""
    counts = {"manifest_reads": 0, "index_queries": 0}
    parse_json = store_module.parse_json

    def counted(data: bytes, name: str) -> Any:
        counts["manifest_reads"] += 1
        return parse_json(data, name)

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "dataset_files" in statement:
            counts["index_queries"] += 1

    engine = store.dal._engine
    monkeypatch.setattr(store_module, "parse_json", counted)
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield counts
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


def test_a_commit_indexes_every_file_as_its_manifest_lists_it(store: DatasetStore) -> None:
    [a, b] = publish_many(store, [("bronze", "jobs", _jobs(3)), ("silver", "jobs", _jobs(2))])
    indexed = store.dal.dataset_files_of([a, b])
    for v in (a, b):
        rows = indexed[v.id]
        assert [(f.path, f.size_bytes, f.row_count, f.checksum) for f in rows] == [
            (e.path, e.size_bytes, e.row_count, e.checksum) for e in store.manifest_entries(v)
        ]
        assert {f.dt for f in rows} == {date(2026, 9, 30)}
    assert sum(f.row_count for f in indexed[a.id]) == 3


def test_what_is_current_is_one_query_and_no_manifest_read(
    store: DatasetStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    for day in range(1, 21):  # twenty daily bronze ingests and a silver version
        publish_table(store, "bronze", "jobs", _jobs(day % 4 + 1), dt=date(2026, 9, day))
    publish_table(store, "silver", "jobs", _jobs(5))
    with _counting(store, monkeypatch) as counts:
        views = store.current_views(COMPANY)
        files = store.dataset_files(COMPANY, "bronze", "jobs", as_of="2026-09-10")
    assert len(views["bronze"]["jobs"]) == 20 and len(views["silver"]["jobs"]) == 1
    assert len(files) == 10
    assert counts == {"manifest_reads": 0, "index_queries": 2}


def test_a_version_without_index_rows_is_read_from_its_manifest_once(
    store: DatasetStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    v = publish_table(store, "silver", "jobs", _jobs(4))
    expected = store.read_dataset(COMPANY, "silver", "jobs")
    with store.dal._session() as s:  # as if committed before migration 0009
        s.execute(delete(FILES).where(FILES.c.version_id == v.id))
    assert store.dal.dataset_files_of([v]) == {}

    with _counting(store, monkeypatch) as first:
        assert store.read_dataset(COMPANY, "silver", "jobs").equals(expected)
    assert first["manifest_reads"] == 1
    assert len(store.dal.dataset_files_of([v])[v.id]) == 1  # indexed from the manifest
    with _counting(store, monkeypatch) as again:
        assert store.read_dataset(COMPANY, "silver", "jobs").equals(expected)
    assert again["manifest_reads"] == 0
    assert store.maintenance.verify(COMPANY).ok


def test_verify_names_a_version_whose_index_and_manifest_disagree(store: DatasetStore) -> None:
    v = publish_table(store, "gold", "kpis", pa.table({"k": [1, 2]}))
    assert store.maintenance.verify(COMPANY).ok
    with store.dal._session() as s:
        s.execute(FILES.update().where(FILES.c.version_id == v.id).values(row_count=99))
    [problem] = store.maintenance.verify(COMPANY).problems
    assert (problem.kind, problem.path) == ("manifest", v.manifest_path)
    assert "file index (dataset_files)" in problem.detail and v.version_tag in problem.detail


def test_a_refused_commit_indexes_nothing(store: DatasetStore) -> None:
    import duckdb

    from lakehouse.dataplane.store import StagedVersion
    from lakehouse.errors import AlreadyExistsError

    store.dal.commit_dataset_versions([], [("test", "taken")])  # another run holds the claim
    run_id = store.dal.start_pipeline_run(COMPANY, "test_build", stage="silver")
    staged = StagedVersion(COMPANY, "silver", "jobs", run_id, "1")
    with duckdb.connect() as con:
        store.write_file(con, staged, _jobs(2), date(2026, 9, 30))
    with pytest.raises(AlreadyExistsError):
        store.publish([staged], [("test", "taken")])
    assert store.dal.list_dataset_versions(COMPANY) == []
    with store.dal._session() as s:
        assert s.execute(FILES.select()).all() == []


def test_each_file_indexes_the_range_of_its_bronze_days_and_of_its_key(store: DatasetStore) -> None:
    silver = pa.table(
        {
            "job_id": ["J-007", "J-100", "J-042"],
            "_bronze_dt": [date(2026, 9, 3), date(2026, 9, 28), date(2026, 9, 11)],
        }
    )
    run_id = store.dal.start_pipeline_run(COMPANY, "test_build", stage="silver")
    staged = [
        StagedVersion(COMPANY, "silver", "jobs", run_id, "1", key_column="job_id"),
        StagedVersion(COMPANY, "bronze", "jobs", run_id, "1", key_column="job_id"),
        StagedVersion(COMPANY, "gold", "totals", run_id, "1"),
    ]
    with duckdb.connect() as con:
        store.write_file(con, staged[0], silver, date(2026, 9, 30))
        store.write_file(con, staged[1], silver.drop(["_bronze_dt"]), date(2026, 9, 30))
        store.write_file(con, staged[2], pa.table({"total": [1, 2]}), date(2026, 9, 30))
    versions = store.publish(staged)

    indexed = store.dal.dataset_files_of(versions)
    [silver_file], [bronze_file], [gold_file] = (indexed[v.id] for v in versions)
    assert (silver_file.dt_min, silver_file.dt_max) == (date(2026, 9, 3), date(2026, 9, 28))
    assert (silver_file.key_min, silver_file.key_max) == ("J-007", "J-100")
    # bronze: the dt= folder is the file's day
    assert (bronze_file.dt_min, bronze_file.dt_max) == (date(2026, 9, 30), date(2026, 9, 30))
    assert (bronze_file.key_min, bronze_file.key_max) == ("J-007", "J-100")
    assert (gold_file.dt_min, gold_file.key_min, gold_file.key_max) == (None, None, None)
    # the manifest (the audit copy) lists the same ranges, and verify finds them equal
    [entry] = store.manifest_entries(versions[0])
    assert (entry.dt_min, entry.key_max) == ("2026-09-03", "J-100")
    assert store.maintenance.verify(COMPANY).ok
