"""Chunked export of a model (incremental.write_chunks) against a baseline version: what is shared,
what is written again, and rows whose chunk column is null."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from lakehouse.dataplane.store import DatasetStore, StagedVersion
from lakehouse.transform.incremental import PreviousOutput, chunk_stats, write_chunks
from tests.data_fixtures import COMPANY

AS_OF = date(2026, 9, 30)
ROWS = """(VALUES ('J-1', DATE '2026-08-03', 10), ('J-2', DATE '2026-09-11', 20),
                  ('J-3', NULL, 30)) AS t(job_id, _bronze_dt, amount)"""


def _export(
    store: DatasetStore, con: duckdb.DuckDBPyConnection, previous: PreviousOutput | None
) -> StagedVersion:
    run_id = store.dal.start_pipeline_run(COMPANY, "test_build", stage="silver")
    version = StagedVersion(COMPANY, "silver", "jobs", run_id, "1", key_column="job_id")
    columns = [str(r[0]) for r in con.execute("DESCRIBE jobs").fetchall()]
    write_chunks(store, con, version, "jobs", columns, AS_OF, previous)
    store.publish([version])
    return version


def _baseline(store: DatasetStore, con: duckdb.DuckDBPyConnection, version: StagedVersion) -> PreviousOutput:
    """What find_baseline/sort_chunks/seed_tables make of a published version."""
    record = store.resolve_version(COMPANY, "silver", "jobs", version.run_id)
    entries = store.manifest_entries(record)
    files = ", ".join(f"'{store.root.resolve(e.path)}'" for e in entries)
    source = f"read_parquet([{files}], hive_partitioning = false)"
    shape = [(str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    columns = [name for name, _ in shape]
    previous = PreviousOutput(record, entries, columns=columns, shape=shape)
    for entry in entries:
        one = f"read_parquet('{store.root.resolve(entry.path)}', hive_partitioning = false)"
        [chunk] = {
            r[0] for r in con.execute(f"SELECT date_trunc('month', _bronze_dt)::DATE FROM {one}").fetchall()
        }
        previous.files.setdefault(chunk, []).append(entry)
    previous.stats.update(chunk_stats(con, source, columns))
    return previous


def test_rows_with_a_null_chunk_column_are_exported_in_a_chunk_of_their_own(store: DatasetStore) -> None:
    with duckdb.connect() as con:
        con.execute(f"CREATE TABLE jobs AS SELECT * FROM {ROWS}")
        version = _export(store, con, None)

        assert len(version.files) == 3  # August, September and the null chunk
        assert sorted(store.read_dataset(COMPANY, "silver", "jobs").column("job_id").to_pylist()) == [
            "J-1",
            "J-2",
            "J-3",
        ]


def test_unchanged_chunks_are_shared_and_changed_ones_written_again(store: DatasetStore) -> None:
    with duckdb.connect() as con:
        con.execute(f"CREATE TABLE jobs AS SELECT * FROM {ROWS}")
        first = _export(store, con, None)
        con.execute("UPDATE jobs SET amount = 21 WHERE job_id = 'J-2'")

        second = _export(store, con, _baseline(store, con, first))

        shared = {e.path for e in second.files} & {e.path for e in first.files}
        assert len(shared) == 2  # August and the null chunk; September was written again
        amounts = store.read_dataset(COMPANY, "silver", "jobs").to_pydict()
        assert sorted(zip(amounts["job_id"], amounts["amount"], strict=True)) == [
            ("J-1", 10),
            ("J-2", 21),
            ("J-3", 30),
        ]


@pytest.mark.parametrize(
    "change", ["ALTER jobs ALTER amount TYPE BIGINT", "ALTER jobs ADD COLUMN note VARCHAR"]
)
def test_no_chunk_is_shared_once_the_models_columns_change(store: DatasetStore, change: str) -> None:
    with duckdb.connect() as con:
        con.execute(f"CREATE TABLE jobs AS SELECT * FROM {ROWS}")
        first = _export(store, con, None)
        con.execute(change.replace("ALTER jobs", "ALTER TABLE jobs"))

        second = _export(store, con, _baseline(store, con, first))

        assert not {e.path for e in second.files} & {e.path for e in first.files}
        read = store.read_dataset(COMPANY, "silver", "jobs").drop(["dt"])  # every file in the new shape
        table = con.execute("SELECT * FROM jobs").arrow()
        assert read.schema.names == table.schema.names
        assert read.schema.field("amount").type == table.schema.field("amount").type
