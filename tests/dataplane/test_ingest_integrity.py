"""Ingest integrity (issue 7, section 4): concurrent ingests, files changing while read, reserved and
hostile column names, symlinks, odd day folders, empty files, schema races and wide files.

Every test runs on SQLite and PostgreSQL; the races use two threads, each with its own control-plane
connection, that stage their versions first and then commit at the same moment.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.ingest import BronzeIngest, IngestResult, discover_sources
from lakehouse.dataplane.schemas import BRONZE_LINEAGE_COLUMNS, RAW_SCHEMAS, reserved_column_problems
from lakehouse.dataplane.store import DatasetStore
from lakehouse.dataplane.validate import MAX_COLUMNS
from lakehouse.errors import AlreadyExistsError, DataPlaneError, SchemaConflictError, SchemaMismatchError
from tests.data_fixtures import (
    COMPANY,
    data_files,
    files_under,
    make_store,
    write_csv,
    write_jobs,
)

CUSTOMERS_HEADER = RAW_SCHEMAS["customers"].column_names


def _job_ids(store: DatasetStore) -> list[str]:
    return sorted(store.read_dataset(COMPANY, "bronze", "jobs").column("job_id").to_pylist())


def _nothing_published(store: DatasetStore) -> None:
    assert store.dal.list_dataset_versions(COMPANY) == []
    assert data_files(store.root.root) == []
    assert [r.status for r in store.dal.list_pipeline_runs(COMPANY)] in ([], ["failed"])


# --- two ingests at once ---------------------------------------------------------------------------


@dataclass
class Outcome:
    result: IngestResult | None = None
    error: BaseException | None = None


@pytest.fixture
def race(db_url: str, root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., list[Outcome]]]:
    """Run ingests in threads (own control-plane connections) that all reach the commit, then commit
    at the same moment: a real race for the claims and the schema registry."""
    dals: list[DataAccessLayer] = []

    def run(*jobs: list[Path]) -> list[Outcome]:
        barrier = threading.Barrier(len(jobs), timeout=60)
        real = DataAccessLayer.commit_dataset_versions

        def commit_together(self: DataAccessLayer, *args: Any, **kwargs: Any) -> Any:
            barrier.wait()
            return real(self, *args, **kwargs)

        monkeypatch.setattr(DataAccessLayer, "commit_dataset_versions", commit_together)

        def one(paths: list[Path]) -> Outcome:
            dal = DataAccessLayer.from_url(db_url)
            dals.append(dal)
            try:
                return Outcome(result=BronzeIngest(make_store(dal, root)).run(COMPANY, paths))
            except BaseException as exc:  # the test inspects it
                barrier.abort()  # a run that failed before its commit must not hang the other
                return Outcome(error=exc)

        with ThreadPoolExecutor(len(jobs)) as pool:
            outcomes = list(pool.map(one, jobs))
        monkeypatch.undo()
        return outcomes

    yield run
    for dal in dals:
        dal.close()


def _header_only_customers(src: Path, day: str) -> Path:
    return write_csv(src / day / "customers.csv", CUSTOMERS_HEADER, [])


def test_two_ingests_sharing_one_identical_file_both_commit_the_rest(
    race: Callable[..., list[Outcome]], store: DatasetStore, src: Path
) -> None:
    shared = _header_only_customers(src, "2026-09-28")  # one file, given to both ingests
    day1 = [write_jobs(src, "2026-09-29", ["J1", "J2"]), shared]
    day2 = [write_jobs(src, "2026-09-30", ["J3"]), shared]

    first, second = race(day1, day2)
    assert first.error is None and second.error is None, (first.error, second.error)
    assert first.result is not None and second.result is not None
    results = [first.result, second.result]
    assert all(r.run_id is not None for r in results)
    # Every job of both days is published; the shared customers file exactly once.
    assert _job_ids(store) == ["J1", "J2", "J3"]
    [customers] = store.versions(COMPANY, "bronze", "customers")
    winner = next(r for r in results if r.run_id == customers.produced_by_run_id)
    loser = next(r for r in results if r is not winner)
    assert [s["path"] for s in winner.skipped] == []
    [skipped] = loser.skipped
    loser_day = day1 if loser is first.result else day2
    assert skipped["path"] == str(loser_day[1])
    assert skipped["reason"] == f"ingested concurrently by run {winner.run_id}"
    assert [i["dataset"] for i in loser.ingested] == ["jobs"]
    assert [v["dataset"] for v in loser.versions] == ["jobs"]
    assert sorted(v["dataset"] for v in winner.versions) == ["customers", "jobs"]
    # The loser's manifest lists only what it committed; no file of it is left over.
    for result in results:
        assert result.run_id is not None
        run = store.dal.get_pipeline_run(result.run_id)
        assert run.status == "success"
        assert run.output_manifest is not None
        outputs = {o["dataset"]: o for o in run.output_manifest["outputs"]}
        assert set(outputs) == {v["dataset"] for v in result.versions}
    assert store.maintenance.verify(COMPANY).ok
    assert store.maintenance.gc(COMPANY).removed_files == []
    # Every file now counts as ingested.
    again = BronzeIngest(store).run(COMPANY, [*day1, day2[0]])
    assert again.run_id is None and len(again.skipped) == 3


def test_the_same_bytes_on_another_day_are_that_days_delivery(store: DatasetStore, src: Path) -> None:
    """A header-only customers.csv is identical every day: each day's file is ingested (the source
    reaches every day), and only the same day's file again is "already ingested"."""
    from lakehouse.transform.build import source_reach

    days = [_header_only_customers(src, d) for d in ("2026-09-28", "2026-09-29", "2026-09-30")]
    assert len({p.read_bytes() for p in days}) == 1
    ingest = BronzeIngest(store)
    first = ingest.run(COMPANY, days[:2])
    assert [i["dt"] for i in first.ingested] == ["2026-09-28", "2026-09-29"] and first.skipped == []
    second = ingest.run(COMPANY, days)
    assert [i["dt"] for i in second.ingested] == ["2026-09-30"]
    assert [s["reason"] for s in second.skipped] == [f"already ingested by run {first.run_id}"] * 2
    assert source_reach(store, COMPANY).newest["customers"] == date(2026, 9, 30)
    # Twice the same day's bytes in one ingest (a copy in another folder) is one delivery.
    copy = src / "copy" / "2026-10-01" / "customers.csv"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(days[0].read_bytes())
    original = _header_only_customers(src, "2026-10-01")
    third = ingest.run(COMPANY, [original, copy])
    assert len(third.ingested) == 1 and third.skipped[0]["reason"].startswith("same content as ")


def test_two_ingests_of_the_same_files_publish_them_once(
    race: Callable[..., list[Outcome]], store: DatasetStore, src: Path
) -> None:
    day = [write_jobs(src, "2026-09-30", ["J1", "J2"]), _header_only_customers(src, "2026-09-30")]
    first, second = race(day, day)
    assert first.error is None and second.error is None, (first.error, second.error)
    assert first.result is not None and second.result is not None
    ran = [r for r in (first.result, second.result) if r.versions]
    [winner] = ran
    loser = first.result if winner is second.result else second.result
    assert loser.versions == [] and loser.ingested == [] and loser.rows == 0
    assert {s["reason"] for s in loser.skipped} == {f"ingested concurrently by run {winner.run_id}"}
    assert _job_ids(store) == ["J1", "J2"]
    assert len(store.dal.list_dataset_versions(COMPANY)) == 2
    assert store.maintenance.verify(COMPANY).ok
    assert store.maintenance.gc(COMPANY).removed_files == []


def _widgets(src: Path, day: str, rows: list[list[object]]) -> Path:
    return write_csv(src / day / "widgets.csv", ["id", "qty"], rows)


def test_two_ingests_creating_one_dataset_with_different_types_fail_one_clearly(
    race: Callable[..., list[Outcome]], store: DatasetStore, src: Path
) -> None:
    numbers = [_widgets(src, "2026-09-29", [[1, 5]]), write_jobs(src, "2026-09-29", ["J1"])]
    words = [_widgets(src, "2026-09-30", [[2, "many"]]), write_jobs(src, "2026-09-30", ["J2"])]
    outcomes = race(numbers, words)
    [failed] = [o for o in outcomes if o.error is not None]
    [won] = [o for o in outcomes if o.error is None]
    assert won.result is not None and won.result.run_id is not None
    assert isinstance(failed.error, SchemaConflictError)
    message = str(failed.error)
    assert "bronze.widgets" in message
    assert "schema version 1" in message
    assert f"registered by run {won.result.run_id}" in message
    # One schema version 1; the loser published nothing (nor its jobs), and left nothing behind.
    [widgets] = store.versions(COMPANY, "bronze", "widgets")
    assert widgets.produced_by_run_id == won.result.run_id
    registered = store.dal.registered_schema(COMPANY, "bronze", "widgets", "1")
    assert registered is not None and registered["columns"] == widgets.schema["columns"]  # type: ignore[index]
    assert {v.produced_by_run_id for v in store.dal.list_dataset_versions(COMPANY)} == {won.result.run_id}
    [run] = [r for r in store.dal.list_pipeline_runs(COMPANY) if r.status == "failed"]
    assert run.error is not None and run.error["type"] == "SchemaConflictError"
    assert store.maintenance.verify(COMPANY).ok
    assert store.maintenance.gc(COMPANY).removed_files == []


def test_an_ingest_after_the_race_is_checked_against_the_registered_schema(
    ingest: BronzeIngest, store: DatasetStore, src: Path
) -> None:
    first = ingest.run(COMPANY, [_widgets(src, "2026-09-29", [[1, 5]])])
    assert first.run_id is not None
    with pytest.raises(SchemaMismatchError, match=r"schema version 1: changed: qty BIGINT -> VARCHAR"):
        ingest.run(COMPANY, [_widgets(src, "2026-09-30", [[2, "many"]])])
    assert len(store.versions(COMPANY, "bronze", "widgets")) == 1


# --- a file that changes while it is ingested ------------------------------------------------------


@pytest.mark.parametrize("when", ["before it is read", "after it is read"])
def test_a_file_changed_during_the_ingest_is_refused(
    ingest: BronzeIngest, store: DatasetStore, src: Path, when: str
) -> None:
    path = write_jobs(src, "2026-09-30", ["J1", "J2"])
    original = path.read_bytes()
    grown = original + b"J3" + original.splitlines(keepends=True)[1][2:]

    def change(label: str, done: int, total: int) -> None:
        if (label == "publishing") == (when == "after it is read"):
            path.write_bytes(grown)

    with pytest.raises(DataPlaneError, match=r"changed while it was being ingested") as info:
        ingest.run(COMPANY, [path], progress=change)
    assert str(path) in str(info.value)
    _nothing_published(store)
    assert files_under(store.root.root) == files_under(store.root.root / "_control")  # nothing left over

    # Neither content was claimed: the original ingests (under its own sha256), then the new one.
    path.write_bytes(original)
    first = ingest.run(COMPANY, [path])
    assert first.rows == 2
    assert [i["sha256"] for i in first.ingested] == [_sha256(original)]
    path.write_bytes(grown)
    second = ingest.run(COMPANY, [path])
    assert second.rows == 3
    assert _job_ids(store) == ["J1", "J1", "J2", "J2", "J3"]


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- reserved and hostile column names -------------------------------------------------------------


@pytest.mark.parametrize(
    "column",
    ["dt", "dataset", "DT", "Dataset", "_source_file", "_ingest_run_id", "_ingested_at", "_source_line"],
)
def test_an_undeclared_dataset_may_not_use_a_reserved_column(
    ingest: BronzeIngest, store: DatasetStore, src: Path, column: str
) -> None:
    path = write_csv(src / "2026-09-30" / "widgets.csv", ["id", column], [[1, "mine"]])
    with pytest.raises(SchemaMismatchError, match="reserved") as info:
        ingest.run(COMPANY, [path])
    assert str(path) in str(info.value) and repr(column) in str(info.value)
    assert "rename" in str(info.value)
    _nothing_published(store)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_reserved_columns_are_refused_in_every_format(
    ingest: BronzeIngest, store: DatasetStore, src: Path, fmt: str
) -> None:
    path = src / "2026-09-30" / f"widgets.{fmt}"
    path.parent.mkdir(parents=True)
    if fmt == "jsonl":
        path.write_text(json.dumps({"id": 1, "dt": "mine"}) + "\n")
    else:
        pq.write_table(pa.table({"id": [1], "dataset": ["mine"]}), path)
    with pytest.raises(SchemaMismatchError, match="reserved"):
        ingest.run(COMPANY, [path])
    _nothing_published(store)


def test_reserved_column_problems() -> None:
    assert reserved_column_problems(["id", "name", "dt_local", "my_dataset", "source_file"]) == []
    problems = reserved_column_problems(["id", "DT", "dataset", "_source_file"])
    assert len(problems) == 3
    assert any("'DT'" in p and "partition" in p for p in problems)
    assert any("'_source_file'" in p and "lineage" in p for p in problems)
    # dbt models carry bronze's lineage columns on purpose: only the partition keys are reserved there.
    assert reserved_column_problems(["_source_file", "_ingested_at"], lineage=False) == []
    assert len(reserved_column_problems(["dt", "_source_file"], lineage=False)) == 1
    for schema in RAW_SCHEMAS.values():
        assert reserved_column_problems(schema.column_names) == []
    assert len(reserved_column_problems([c.name for c in BRONZE_LINEAGE_COLUMNS])) == 4


def test_a_hostile_header_is_one_column_name_not_sql(
    ingest: BronzeIngest, store: DatasetStore, src: Path
) -> None:
    path = src / "2026-09-30" / "widgets.csv"
    path.parent.mkdir(parents=True)
    path.write_text('x,"x"" AS a, version() AS ""b"\n1,2\n', encoding="utf-8")
    result = ingest.run(COMPANY, [path])
    assert result.rows == 1
    table = store.read_dataset(COMPANY, "bronze", "widgets")
    hostile = 'x" AS a, version() AS "b'
    assert table.column_names[:2] == ["x", hostile]
    assert "b" not in table.column_names and "a" not in table.column_names
    assert table.column(hostile).to_pylist() == [2]
    assert duckdb.__version__ not in json.dumps(table.to_pylist(), default=str)


def test_hostile_jsonl_keys_and_folder_names_are_kept_as_they_are(
    ingest: BronzeIngest, store: DatasetStore, tmp_path: Path
) -> None:
    folder = tmp_path / 'it\'s a "weird" [1] {a,b} ünï 🦆' / "2026-09-30"
    folder.mkdir(parents=True)
    path = folder / "widgets.jsonl"
    keys = ["id", "it's", 'q"uote', "semi;colon --", "new\nline"]
    path.write_text(
        json.dumps(dict(zip(keys, [1, "a", "b", "c", "d"], strict=True))) + "\n", encoding="utf-8"
    )
    result = ingest.run(COMPANY, [folder])
    assert result.rows == 1
    table = store.read_dataset(COMPANY, "bronze", "widgets")
    assert table.column_names[: len(keys)] == keys
    [row] = table.to_pylist()
    assert [row[k] for k in keys] == [1, "a", "b", "c", "d"]
    assert row["_source_file"] == str(path)


# --- symlinks --------------------------------------------------------------------------------------


def _secret(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.csv"
    secret.parent.mkdir(parents=True)
    secret.write_text("user,password\nroot,hunter2\n")
    return secret


def test_a_symlink_out_of_the_extract_folder_is_refused(
    ingest: BronzeIngest, store: DatasetStore, src: Path, tmp_path: Path
) -> None:
    write_jobs(src, "2026-09-30", ["J1"])
    link = src / "2026-09-30" / "leak.csv"
    link.symlink_to(_secret(tmp_path))
    for target in ([src], [src / "2026-09-30"], [link]):
        with pytest.raises(DataPlaneError, match="symbolic link") as info:
            ingest.run(COMPANY, target)
        assert str(link) in str(info.value) and "--follow-symlinks" in str(info.value)
    _nothing_published(store)
    assert store.dal.list_pipeline_runs(COMPANY) == []


def test_a_symlinked_day_folder_out_of_the_extract_folder_is_refused(
    ingest: BronzeIngest, store: DatasetStore, src: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    write_jobs(elsewhere, "2026-09-30", ["J1"])
    src.mkdir()
    (src / "2026-09-30").symlink_to(elsewhere / "2026-09-30", target_is_directory=True)
    with pytest.raises(DataPlaneError, match="symbolic link"):
        ingest.run(COMPANY, [src])
    _nothing_published(store)


def test_a_dangling_symlink_is_refused(ingest: BronzeIngest, src: Path) -> None:
    write_jobs(src, "2026-09-30", ["J1"])
    (src / "2026-09-30" / "gone.csv").symlink_to(src / "nowhere.csv")
    with pytest.raises(DataPlaneError, match="gone.csv.*points to nothing"):
        discover_sources([src], follow_symlinks=True)


def test_follow_symlinks_ingests_the_target_and_records_its_path(
    ingest: BronzeIngest, store: DatasetStore, src: Path, tmp_path: Path
) -> None:
    secret = _secret(tmp_path)
    link = src / "2026-09-30" / "leak.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    result = ingest.run(COMPANY, [src], follow_symlinks=True)
    assert result.rows == 1
    [entry] = result.ingested
    assert entry["path"] == str(secret) and entry["symlink"] == str(link)
    table = store.read_dataset(COMPANY, "bronze", "leak")
    assert table.column("_source_file").to_pylist() == [str(secret)]
    assert result.run_id is not None
    run = store.dal.get_pipeline_run(result.run_id)
    assert run.input_manifest is not None
    [source] = run.input_manifest["sources"]
    assert (source["path"], source["symlink"]) == (str(secret), str(link))


def test_a_symlink_inside_the_extract_folder_is_read_through(
    ingest: BronzeIngest, store: DatasetStore, src: Path
) -> None:
    real = write_jobs(src, "2026-09-29", ["J1"])
    link = src / "2026-09-30" / "jobs.csv"
    link.parent.mkdir()
    link.symlink_to(real)
    result = ingest.run(COMPANY, [src])
    # The link is the 2026-09-30 delivery (the same bytes on another day are that day's file).
    assert result.rows == 2 and result.skipped == []
    [through] = [i for i in result.ingested if i["dt"] == "2026-09-30"]
    assert (through["path"], through["symlink"]) == (str(real), str(link))


# --- day folders and empty files -------------------------------------------------------------------


@pytest.mark.parametrize("day", ["2024-02-30", "2026-13-01", "2026-00-10"])
def test_an_impossible_day_folder_is_reported(
    ingest: BronzeIngest, store: DatasetStore, src: Path, day: str
) -> None:
    write_jobs(src, "2026-09-30", ["J1"])
    bad = write_jobs(src, day, ["J2"])
    for target in ([src], [bad.parent], [bad]):
        with pytest.raises(DataPlaneError, match=f"{day}.*not a calendar date"):
            ingest.run(COMPANY, target)
    _nothing_published(store)
    # An explicit --dt still places a file from such a folder.
    [one] = discover_sources([bad], dt=date(2026, 9, 29))
    assert one.dt == date(2026, 9, 29)


def test_an_empty_jsonl_file_is_zero_records(ingest: BronzeIngest, store: DatasetStore, src: Path) -> None:
    jobs = write_jobs(src, "2026-09-30", ["J1"])
    calls = jobs.parent / "calls.jsonl"
    calls.write_bytes(b"")
    blank = src / "2026-10-01" / "calls.jsonl"
    blank.parent.mkdir()
    blank.write_text("\n  \n\n")
    result = ingest.run(COMPANY, [src])
    assert result.rows == 1
    assert {i["path"]: i["rows"] for i in result.ingested if i["dataset"] == "calls"} == {
        str(calls): 0,
        str(blank): 0,
    }
    [version] = store.versions(COMPANY, "bronze", "calls")
    assert version.row_count == 0
    assert store.read_dataset(COMPANY, "bronze", "calls").column_names[
        : len(RAW_SCHEMAS["calls"].columns)
    ] == list(RAW_SCHEMAS["calls"].column_names)


def test_an_empty_jsonl_file_of_an_undeclared_dataset_keeps_its_schema(
    ingest: BronzeIngest, store: DatasetStore, src: Path
) -> None:
    first = src / "2026-09-29" / "widgets.jsonl"
    first.parent.mkdir(parents=True)
    first.write_text('{"id": 1}\n')
    ingest.run(COMPANY, [first])
    empty = src / "2026-09-30" / "widgets.jsonl"
    empty.parent.mkdir()
    empty.write_bytes(b"")
    assert ingest.run(COMPANY, [empty]).rows == 0
    assert [v.schema_version for v in store.versions(COMPANY, "bronze", "widgets")] == ["1", "1"]


def test_an_empty_csv_file_is_still_an_error(ingest: BronzeIngest, store: DatasetStore, src: Path) -> None:
    path = src / "2026-09-30" / "jobs.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    with pytest.raises(SchemaMismatchError, match="no header"):
        ingest.run(COMPANY, [path])
    _nothing_published(store)


# --- wide files ------------------------------------------------------------------------------------


def _wide(src: Path, columns: int, rows: int = 3) -> Path:
    header = [f"c{i}" for i in range(columns)]
    return write_csv(
        src / "2026-09-30" / "wide.csv", header, [[r * i for i in range(columns)] for r in range(rows)]
    )


def test_a_wide_file_of_2000_columns_ingests(ingest: BronzeIngest, store: DatasetStore, src: Path) -> None:
    """(It took 21 s and 3.1 GB before the checks were sliced; its time is a figure of bench_ingest.)"""
    result = ingest.run(COMPANY, [_wide(src, 2_000)])
    assert result.rows == 3
    table = store.read_dataset(COMPANY, "bronze", "wide")
    assert table.column("c1999").to_pylist() == [0, 1999, 3998]


def test_a_file_past_the_column_limit_is_refused_clearly(
    ingest: BronzeIngest, store: DatasetStore, src: Path
) -> None:
    with pytest.raises(SchemaMismatchError, match=f"{MAX_COLUMNS + 1:,} columns.*at most {MAX_COLUMNS:,}"):
        ingest.run(COMPANY, [_wide(src, MAX_COLUMNS + 1, rows=1)])
    _nothing_published(store)


# --- per-file claims at the commit point -----------------------------------------------------------


def test_a_commit_hands_every_taken_claim_to_on_taken_and_keeps_the_claims_it_got(
    dal: DataAccessLayer,
) -> None:
    assert dal.claim_idempotency_key("ingest:acme:jobs", "sha256:1", run_id="run-a")
    assert dal.claim_idempotency_key("ingest:acme:jobs", "sha256:3", run_id="run-b")
    claims = [("ingest:acme:jobs", f"sha256:{n}") for n in (3, 2, 1)]
    # Without on_taken nothing commits, not even the free claim.
    with pytest.raises(AlreadyExistsError):
        dal.commit_dataset_versions([], claims)
    assert dal.idempotency_claim_of("ingest:acme:jobs", "sha256:2") is None
    seen: list[list[tuple[str, str, str]]] = []

    def on_taken(taken: Sequence[tuple[str, str, str]]) -> list[Any]:
        seen.append(list(taken))
        return []

    assert dal.commit_dataset_versions([], claims, on_taken=on_taken) == []
    assert seen == [[("ingest:acme:jobs", "sha256:1", "run-a"), ("ingest:acme:jobs", "sha256:3", "run-b")]]
    assert dal.idempotency_claim_of("ingest:acme:jobs", "sha256:2") is not None
