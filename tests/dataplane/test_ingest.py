"""Bronze ingest: round trip, crash safety (exceptions and a killed process), idempotency, strict rows,
quarantine, schema drift of undeclared datasets and time travel. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import hashlib
import json
import signal
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.ingest import BronzeIngest, IngestResult, discover_sources
from lakehouse.dataplane.json_io import read_jsonl
from lakehouse.dataplane.manifest import FileEntry, version_checksum
from lakehouse.dataplane.schemas import RAW_SCHEMAS
from lakehouse.dataplane.store import DatasetStore
from lakehouse.errors import (
    DataPlaneError,
    DatasetNotFoundError,
    InvalidNameError,
    RowValidationError,
    SchemaMismatchError,
)
from lakehouse.sample.generator import generate
from tests.data_fixtures import (
    COMPANY,
    JOBS_HEADER,
    catalog_counts,
    data_files,
    files_under,
    job_row,
    run_child,
    write_csv,
    write_jobs,
)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _job_ids(table: pa.Table) -> list[str]:
    return sorted(table.column("job_id").to_pylist())


def _expected_records(path: Path, key: str) -> list[tuple[str, int]]:
    """(primary key, 1-based physical line where the record starts) of every record of an extract."""
    out: list[tuple[str, int]] = []
    if path.suffix == ".jsonl":
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if text.strip():
                out.append((json.loads(text)[key], number))
        return out
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        index = next(reader).index(key)
        start = reader.line_num + 1
        for row in reader:
            out.append((row[index], start))
            start = reader.line_num + 1
    return out


class State:
    """What a reader can see of a company: versions, rows, catalog bytes, files."""

    def __init__(self, store: DatasetStore, dataset: str = "jobs") -> None:
        self.versions = store.dal.list_dataset_versions(COMPANY)
        self.rows = store.read_dataset(COMPANY, "bronze", dataset).to_pylist()
        self.catalog = _sha(store.root.catalog_path(COMPANY))
        self.files = files_under(store.root.root)

    def assert_unchanged(self, store: DatasetStore, dataset: str = "jobs") -> None:
        assert store.dal.list_dataset_versions(COMPANY) == self.versions
        assert store.read_dataset(COMPANY, "bronze", dataset).to_pylist() == self.rows
        assert _sha(store.root.catalog_path(COMPANY)) == self.catalog


def _run_of(store: DatasetStore, status: str) -> Any:
    [run] = [r for r in store.dal.list_pipeline_runs(COMPANY, "ingest") if r.status == status]
    return run


# --- round trip ------------------------------------------------------------------------------------


def test_round_trip_of_a_generated_extract(ingest: BronzeIngest, store: DatasetStore, src: Path) -> None:
    summary = generate(COMPANY, src, days=3, scale=0.02, seed=11)
    result = ingest.run(COMPANY, [src])
    assert result.run_id is not None
    run_id = result.run_id
    keys = {name: schema.primary_key for name, schema in RAW_SCHEMAS.items()}
    ingested = {Path(i["path"]) for i in result.ingested}
    # Byte-identical files of one dataset (e.g. header-only extracts of two days) are ingested once.
    for s in result.skipped:
        twin = next(i for i in result.ingested if i["sha256"] == s["sha256"] and i["dataset"] == s["dataset"])
        assert twin["rows"] == 0, s
    assert len(result.ingested) + len(result.skipped) == 3 * 5
    assert {v["dataset"] for v in result.versions} == set(RAW_SCHEMAS)

    for name, key in keys.items():
        assert key is not None
        table = store.read_dataset(COMPANY, "bronze", name)
        assert table.num_rows == summary.row_counts[name], name
        assert table.column_names[: len(RAW_SCHEMAS[name].columns)] == list(RAW_SCHEMAS[name].column_names)
        assert {"_ingest_run_id", "_ingested_at", "_source_file", "_source_line", "dt"} <= set(
            table.column_names
        )
        assert "dataset" not in table.column_names
        assert set(table.column("_ingest_run_id").to_pylist()) == {run_id}
        rows = table.to_pylist()
        for source in sorted(p for p in ingested if p.name.split(".")[0] == name):
            got = sorted((r[key], r["_source_line"]) for r in rows if r["_source_file"] == str(source))
            assert got == sorted(_expected_records(source, key)), source
            assert {r["dt"] for r in rows if r["_source_file"] == str(source)} <= {
                date.fromisoformat(source.parent.name)
            }

        [version] = store.versions(COMPANY, "bronze", name)
        assert version.version_tag == version.produced_by_run_id == run_id
        assert version.manifest_path == f"{COMPANY}/manifests/bronze/{name}/{run_id}.json"
        assert version.row_count == table.num_rows
        assert version.schema_version == "1"
        manifest = json.loads((store.root.root / version.manifest_path).read_text())
        entries = [FileEntry.from_dict(f, version.manifest_path) for f in manifest["files"]]
        assert version.checksum == manifest["checksum"] == version_checksum(entries)
        assert sum(e.row_count for e in entries) == version.row_count
        for entry in entries:
            path = store.root.root / entry.path
            assert entry.path.startswith(f"{COMPANY}/bronze/dataset={name}/dt={entry.dt}/part-{run_id}-")
            assert entry.size_bytes == path.stat().st_size
            assert entry.row_count == pq.read_metadata(path).num_rows
            assert entry.checksum == "sha256:" + _sha(path)
            kv = pq.read_metadata(path).metadata or {}
            assert kv[b"lakehouse.dataset"] == name.encode()
            assert kv[b"lakehouse.run_id"] == run_id.encode()

    run = store.dal.get_pipeline_run(run_id)
    assert run.status == "success"
    assert run.output_manifest is not None
    assert {o["dataset"] for o in run.output_manifest["outputs"]} == set(RAW_SCHEMAS)
    assert catalog_counts(store.root.catalog_path(COMPANY)) == {
        f"bronze.{name}": summary.row_counts[name] for name in RAW_SCHEMAS
    }
    assert store.maintenance.verify(COMPANY).ok


def test_discover_sources_shapes(src: Path) -> None:
    day = write_jobs(src, "2026-09-29", ["J1"]).parent
    write_jobs(src, "2026-09-30", ["J2"])
    (src / "_notes").mkdir()
    (src / "_notes" / "x.csv").write_text("a\n1\n")
    (src / "2026-09-30" / "notes.txt").write_text("not data")
    assert [(s.dataset, s.dt.isoformat()) for s in discover_sources([src])] == [
        ("jobs", "2026-09-29"),
        ("jobs", "2026-09-30"),
    ]
    assert [s.path for s in discover_sources([day])] == [day / "jobs.csv"]
    [one] = discover_sources([day / "jobs.csv"], dataset="work_orders", dt=date(2026, 1, 2))
    assert (one.dataset, one.dt, one.fmt) == ("work_orders", date(2026, 1, 2), "csv")
    loose = write_csv(src.parent / "loose" / "jobs.csv", JOBS_HEADER, [job_row("J")])
    with pytest.raises(DataPlaneError, match="--dt"):
        discover_sources([loose])
    with pytest.raises(DataPlaneError, match="no such file"):
        discover_sources([src / "missing"])
    with pytest.raises(DataPlaneError, match="no .csv"):
        discover_sources([src / "_notes"])


# --- crash safety ----------------------------------------------------------------------------------


def _first_ingest(ingest: BronzeIngest, src: Path) -> IngestResult:
    result = ingest.run(COMPANY, [write_jobs(src, "2026-09-29", ["J1", "J2"])])
    assert result.run_id is not None
    return result


def test_crash_in_the_commit_publishes_nothing(
    ingest: BronzeIngest, store: DatasetStore, src: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _first_ingest(ingest, src)
    before = State(store)

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("control plane went away")

    monkeypatch.setattr(DataAccessLayer, "commit_dataset_versions", boom)
    day2 = write_jobs(src, "2026-09-30", ["J3"])
    with pytest.raises(RuntimeError, match="went away"):
        ingest.run(COMPANY, [day2])
    monkeypatch.undo()

    before.assert_unchanged(store)
    failed = _run_of(store, "failed")
    assert failed.error == {"type": "RuntimeError", "message": "control plane went away"}
    # The ingest removed what it had written (data files and the manifest): nothing is left over.
    assert files_under(store.root.root) == before.files
    assert store.maintenance.verify(COMPANY).ok
    assert store.maintenance.gc(COMPANY).removed_files == []
    # The file was not claimed: it ingests once the control plane is back.
    again = ingest.run(COMPANY, [day2])
    assert again.rows == 1
    assert _job_ids(store.read_dataset(COMPANY, "bronze", "jobs")) == ["J1", "J2", "J3"]


def test_crash_while_writing_the_second_file_publishes_nothing(
    ingest: BronzeIngest, store: DatasetStore, src: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _first_ingest(ingest, src)
    before = State(store)
    real_write = DatasetStore.write_file
    calls: list[str] = []

    def flaky_write(self: DatasetStore, *args: Any, **kwargs: Any) -> FileEntry:
        if calls:
            raise OSError(28, "No space left on device")
        entry = real_write(self, *args, **kwargs)
        calls.append(entry.path)
        return entry

    monkeypatch.setattr(DatasetStore, "write_file", flaky_write)
    paths = [write_jobs(src, "2026-09-30", ["J3"]), write_jobs(src, "2026-10-01", ["J4"])]
    with pytest.raises(OSError, match="No space left"):
        ingest.run(COMPANY, paths)
    monkeypatch.undo()

    before.assert_unchanged(store)
    assert len(calls) == 1 and not (store.root.root / calls[0]).exists()
    assert _run_of(store, "failed").error["type"] == "OSError"
    assert files_under(store.root.root) == before.files
    assert store.maintenance.verify(COMPANY).ok


def test_leftovers_of_a_failed_run_are_extra_until_gc_removes_them(
    ingest: BronzeIngest, store: DatasetStore, src: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the ingest could not even clean up after itself, verify and gc take over."""
    _first_ingest(ingest, src)
    before = State(store)

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(DataAccessLayer, "commit_dataset_versions", boom)
    monkeypatch.setattr(DatasetStore, "discard", lambda self, versions: None)
    with pytest.raises(RuntimeError):
        ingest.run(COMPANY, [write_jobs(src, "2026-09-30", ["J3"])])
    monkeypatch.undo()

    before.assert_unchanged(store)
    run_id = _run_of(store, "failed").run_id
    leftovers = sorted(set(files_under(store.root.root)) - set(before.files))
    leftover_data = [f"{p}" for p in leftovers if p.endswith(".parquet")]
    assert leftover_data == [f"{COMPANY}/bronze/dataset=jobs/dt=2026-09-30/part-{run_id}-00000.parquet"]
    assert leftovers == sorted([*leftover_data, f"{COMPANY}/manifests/bronze/jobs/{run_id}.json"])

    report = store.maintenance.verify(COMPANY)
    assert [(p.kind, p.path) for p in report.problems] == [("extra", leftover_data[0])]
    assert report.versions_checked == 1
    gc = store.maintenance.gc(COMPANY)
    assert gc.removed_files == leftovers
    assert gc.expired_versions == []
    assert files_under(store.root.root) == before.files
    assert store.maintenance.verify(COMPANY).ok
    before.assert_unchanged(store)


_CHILD = """
import os, signal
from pathlib import Path
from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.store import DatasetStore
from lakehouse.dataplane.ingest import BronzeIngest
from lakehouse.runtime import open_store

def die(*args, **kwargs):
    if {mode!r} == "exit":
        os._exit(1)
    os.kill(os.getpid(), signal.SIGKILL)

if {mode!r} == "exit":
    DatasetStore.publish = die  # data files written, no manifest, no commit
else:
    DataAccessLayer.commit_dataset_versions = die  # data files and manifest written, no commit
with open_store() as store:
    BronzeIngest(store).run("acme", [Path({path!r})])
raise SystemExit("the ingest was not killed")
"""


@pytest.mark.parametrize(("mode", "returncode"), [("exit", 1), ("kill", -signal.SIGKILL)])
def test_a_killed_ingest_publishes_nothing_and_gc_cleans_up_at_once(
    ingest: BronzeIngest,
    store: DatasetStore,
    db_url: str,
    src: Path,
    mode: str,
    returncode: int,
) -> None:
    _first_ingest(ingest, src)
    before = State(store)
    day2 = write_jobs(src, "2026-09-30", ["J3", "J4"])

    child = run_child(
        _CHILD.format(mode=mode, path=str(day2)),
        {"LAKEHOUSE_DATABASE_URL": db_url, "LAKEHOUSE_DATA_ROOT": str(store.root.root)},
    )
    assert child.returncode == returncode, child.stderr

    # Nothing visible changed.
    before.assert_unchanged(store)
    run = _run_of(store, "running")  # a killed run cannot mark itself failed
    leftovers = sorted(set(files_under(store.root.root)) - set(before.files))
    data = [p for p in leftovers if p.endswith(".parquet")]
    assert data == [f"{COMPANY}/bronze/dataset=jobs/dt=2026-09-30/part-{run.run_id}-00000.parquet"]
    manifest = f"{COMPANY}/manifests/bronze/jobs/{run.run_id}.json"
    assert leftovers == (sorted([*data, manifest]) if mode == "kill" else data)

    # Its process is gone: at once its files are extra, and gc removes them and marks the run failed.
    assert [(p.kind, p.path) for p in store.maintenance.verify(COMPANY).problems] == [("extra", data[0])]
    report = store.maintenance.gc(COMPANY)
    assert report.removed_files == leftovers
    assert report.abandoned_runs == [run.run_id]
    assert (store.dal.get_pipeline_run(run.run_id).error or {})["type"] == "ProcessDied"
    assert files_under(store.root.root) == before.files
    assert store.maintenance.verify(COMPANY).ok
    before.assert_unchanged(store)


def test_a_failing_catalog_refresh_after_the_commit_keeps_the_published_version(
    ingest: BronzeIngest, store: DatasetStore, src: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit is the point of no return: what fails afterwards must not delete committed files."""
    _first_ingest(ingest, src)

    def broken(self: DatasetStore, company: str) -> Path:
        raise DataPlaneError("catalog file is locked")

    monkeypatch.setattr(DatasetStore, "refresh_catalog", broken)
    result = ingest.run(COMPANY, [write_jobs(src, "2026-09-30", ["J3"])])
    monkeypatch.undo()

    assert result.run_id is not None
    assert store.dal.get_pipeline_run(result.run_id).status == "success"
    assert _job_ids(store.read_dataset(COMPANY, "bronze", "jobs")) == ["J1", "J2", "J3"]
    assert store.maintenance.verify(COMPANY).ok
    # The catalog is stale until the next refresh.
    catalog = store.root.catalog_path(COMPANY)
    assert catalog_counts(catalog) == {"bronze.jobs": 2}
    store.refresh_catalog(COMPANY)
    assert catalog_counts(catalog) == {"bronze.jobs": 3}


# --- names -----------------------------------------------------------------------------------------


def test_bad_names_are_refused_before_any_file_is_touched(
    ingest: BronzeIngest, store: DatasetStore, root: Path, src: Path
) -> None:
    path = write_jobs(src, "2026-09-30", ["J1"])
    for name in ["../x", "/etc", "", "Acme", "a b", "..", "x/y"]:
        with pytest.raises(InvalidNameError):
            ingest.run(COMPANY, [path], dataset=name)
        with pytest.raises(InvalidNameError):
            ingest.run(name, [path])
        with pytest.raises(InvalidNameError):
            store.read_dataset(COMPANY, "bronze", name)
        with pytest.raises(InvalidNameError):
            store.read_dataset(name, "bronze", "jobs")
    assert not root.exists()
    assert store.dal.list_pipeline_runs() == []


def test_a_file_named_like_a_bad_dataset_is_refused(ingest: BronzeIngest, root: Path, src: Path) -> None:
    path = write_csv(src / "2026-09-30" / "Jobs Export.csv", JOBS_HEADER, [job_row("J1")])
    with pytest.raises(InvalidNameError, match="'Jobs Export'"):
        ingest.run(COMPANY, [path])
    assert not root.exists()


# --- idempotency -----------------------------------------------------------------------------------


def test_re_ingesting_the_same_files_is_a_no_op(ingest: BronzeIngest, store: DatasetStore, src: Path) -> None:
    first = _first_ingest(ingest, src)
    before = State(store)
    again = ingest.run(COMPANY, [src])
    assert again.run_id is None
    assert again.ingested == [] and again.versions == []
    [skipped] = again.skipped
    assert skipped["path"] == str(src / "2026-09-29" / "jobs.csv")
    assert skipped["reason"] == f"already ingested by run {first.run_id}"
    assert len(store.dal.list_pipeline_runs(COMPANY)) == 1
    before.assert_unchanged(store)

    # The same bytes in another folder for the same day: still the same file.
    copy = src / "again" / "2026-09-29" / "jobs.csv"
    copy.parent.mkdir(parents=True)
    copy.write_bytes((src / "2026-09-29" / "jobs.csv").read_bytes())
    assert ingest.run(COMPANY, [copy]).run_id is None

    # A changed file ingests, in a new run and version; its twin for the same day is skipped once.
    changed_file = write_jobs(src, "2026-09-30", ["J1", "J2", "J3"])
    twin = src / "again" / "2026-09-30" / "jobs.csv"
    twin.parent.mkdir()
    twin.write_bytes(changed_file.read_bytes())
    changed = ingest.run(COMPANY, [changed_file, twin])
    assert changed.run_id is not None and changed.rows == 3
    assert [s["reason"] for s in changed.skipped] == [f"same content as {changed_file} in this ingest"]
    assert len(store.versions(COMPANY, "bronze", "jobs")) == 2
    assert _job_ids(store.read_dataset(COMPANY, "bronze", "jobs")) == ["J1", "J1", "J2", "J2", "J3"]


# --- strict rows and quarantine --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "column", "reason"),
    [
        ({"business_unit": "Roofing"}, "business_unit", "not in enum"),
        ({"job_total": "12.5x"}, "job_total", "bad type: expected DECIMAL(12,2)"),
        ({"customer_id": ""}, "customer_id", "missing value in non-nullable column"),
    ],
)
def test_a_bad_row_aborts_the_ingest(
    ingest: BronzeIngest,
    store: DatasetStore,
    src: Path,
    override: dict[str, str],
    column: str,
    reason: str,
) -> None:
    good = write_jobs(src, "2026-09-29", ["J0"])
    bad = write_csv(
        src / "2026-09-30" / "jobs.csv",
        JOBS_HEADER,
        [job_row("J1"), job_row("J2", **override), job_row("J3")],
    )
    with pytest.raises(RowValidationError) as info:
        ingest.run(COMPANY, [good, bad])
    err = info.value
    assert (err.file, err.line, err.column) == (str(bad), 3, column)
    assert str(err).startswith(f"{bad}, line 3, column {column!r}: {reason}")
    assert "nothing was ingested" in str(err)

    assert store.dal.list_dataset_versions(COMPANY) == []
    run = _run_of(store, "failed")
    assert run.error == {"type": "RowValidationError", "message": str(err)}
    assert data_files(store.root.root) == []
    assert not store.root.rejects_dir(COMPANY).exists()
    with pytest.raises(DatasetNotFoundError):
        store.read_dataset(COMPANY, "bronze", "jobs")


def test_quarantine_publishes_good_rows_and_keeps_the_rejects(
    ingest: BronzeIngest, store: DatasetStore, src: Path
) -> None:
    rows = [
        job_row("J1"),
        job_row("J2", business_unit="Roofing"),
        job_row("J3"),
        job_row("J4", job_total="abc", status="done"),
        job_row("J5", customer_id=""),
        job_row("J6"),
    ]
    path = write_csv(src / "2026-09-30" / "jobs.csv", JOBS_HEADER, rows)
    result = ingest.run(COMPANY, [path], on_error="quarantine")
    assert result.run_id is not None
    assert result.rejected_rows == 3
    assert result.rows == 3
    [rejects] = result.rejects_files
    sha = "sha256:" + _sha(path)
    assert rejects == (
        f"{COMPANY}/bronze/_rejects/dataset=jobs/dt=2026-09-30/rejects-{result.run_id}-{sha[7:19]}.jsonl"
    )
    # One line per rejected row, holding every problem of the row.
    lines = read_jsonl(store.root.root / rejects)
    assert len(lines) == result.rejected_rows
    assert [(r["line"], [(p["column"], p["value"]) for p in r["problems"]]) for r in lines] == [
        (3, [("business_unit", "Roofing")]),
        (5, [("status", "done"), ("job_total", "abc")]),
        (6, [("customer_id", "")]),
    ]
    by_column = {p["column"]: p["reason"] for r in lines for p in r["problems"]}
    assert by_column["business_unit"].startswith("not in enum")
    assert by_column["job_total"] == "bad type: expected DECIMAL(12,2)"
    assert by_column["customer_id"] == "missing value in non-nullable column"
    assert {r["source_file"] for r in lines} == {str(path)}
    # the whole raw row is kept (and the header), so a rejected row can be repaired and re-ingested
    text = path.read_text().splitlines()
    assert [(r["line"], r["raw"]) for r in lines] == [(n, text[n - 1]) for n in (3, 5, 6)]
    assert {r["header"] for r in lines} == {text[0]}

    table = store.read_dataset(COMPANY, "bronze", "jobs")
    assert sorted(
        zip(table.column("job_id").to_pylist(), table.column("_source_line").to_pylist(), strict=True)
    ) == [
        ("J1", 2),
        ("J3", 4),
        ("J6", 7),
    ]
    run = store.dal.get_pipeline_run(result.run_id)
    assert run.output_manifest is not None
    assert run.output_manifest["rejected_rows"] == 3
    assert run.output_manifest["rejects_files"] == [rejects]
    # Rejects are kept by gc and are not data files for verify.
    assert store.maintenance.verify(COMPANY).ok
    assert store.maintenance.gc(COMPANY).removed_files == []


def test_rejects_of_a_run_that_failed_later_are_removed(
    ingest: BronzeIngest, store: DatasetStore, src: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_csv(src / "2026-09-30" / "jobs.csv", JOBS_HEADER, [job_row("J1"), job_row("J2", status="?")])

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(DataAccessLayer, "commit_dataset_versions", boom)
    with pytest.raises(RuntimeError):
        ingest.run(COMPANY, [path], on_error="quarantine")
    assert files_under(store.root.root) == []


# --- schema drift of an undeclared dataset ---------------------------------------------------------


def _widgets(src: Path, day: str, header: list[str], rows: list[list[object]]) -> Path:
    return write_csv(src / day / "widgets.csv", header, rows)


def test_schema_drift_of_an_undeclared_dataset(ingest: BronzeIngest, store: DatasetStore, src: Path) -> None:
    v1 = _widgets(src, "2026-09-27", ["id", "name", "qty"], [[1, "a", 3], [2, "b", 4]])
    first = ingest.run(COMPANY, [v1])
    [version] = store.versions(COMPANY, "bronze", "widgets")
    assert version.schema_version == "1"
    assert version.schema is not None
    assert version.schema["version"] == "1"
    assert [(c["name"], c["type"], c["nullable"]) for c in version.schema["columns"]] == [
        ("id", "BIGINT", True),
        ("name", "VARCHAR", True),
        ("qty", "BIGINT", True),
    ]
    assert first.rows == 2

    def refused(path: Path, message: str, evolve: bool = False) -> None:
        runs = len(store.dal.list_pipeline_runs(COMPANY))
        with pytest.raises(SchemaMismatchError) as info:
            ingest.run(COMPANY, [path], allow_schema_evolution=evolve)
        assert message in str(info.value)
        assert str(path) in str(info.value)
        assert store.versions(COMPANY, "bronze", "widgets") == [version]
        assert len(store.dal.list_pipeline_runs(COMPANY)) == runs + 1
        assert store.dal.list_pipeline_runs(COMPANY, limit=1)[0].status == "failed"

    changed = _widgets(src, "2026-09-28", ["id", "name", "qty"], [[3, "c", 1.5]])
    refused(changed, "columns differ from dataset 'widgets' schema version 1: changed: qty BIGINT -> DOUBLE")
    refused(changed, "changed: qty BIGINT -> DOUBLE (only adding nullable columns can evolve a schema)", True)
    removed = _widgets(src, "2026-09-29", ["id", "name"], [[4, "d"]])
    refused(removed, ": removed: qty;")
    added = _widgets(src, "2026-09-30", ["id", "name", "qty", "color"], [[5, "e", 6, "red"]])
    refused(added, ": added: color VARCHAR (nullable); pass --allow-schema-evolution")
    assert data_files(store.root.root) == [f.path for f in store.version_entries(version)]

    evolved = ingest.run(COMPANY, [added], allow_schema_evolution=True)
    assert evolved.rows == 1
    latest = store.versions(COMPANY, "bronze", "widgets")[-1]
    assert latest.schema_version == "2"
    assert latest.schema is not None
    assert [c["name"] for c in latest.schema["columns"]] == ["id", "name", "qty", "color"]
    table = store.read_dataset(COMPANY, "bronze", "widgets").sort_by("id")
    assert table.column("color").to_pylist() == [None, None, "red"]
    # The next file of the same shape matches schema version 2 without the flag.
    same = _widgets(src, "2026-10-01", ["id", "name", "qty", "color"], [[6, "f", 7, None]])
    assert ingest.run(COMPANY, [same]).rows == 1
    assert store.versions(COMPANY, "bronze", "widgets")[-1].schema_version == "2"
    # What the sniffer guesses from a small file is not a type change when every value fits the
    # recorded type: "t"/"f" look boolean, an all-empty column looks like text.
    sparse = _widgets(
        src, "2026-10-02", ["id", "name", "qty", "color"], [[7, "t", None, None], [8, "f", None, None]]
    )
    assert ingest.run(COMPANY, [sparse]).rows == 2
    assert store.versions(COMPANY, "bronze", "widgets")[-1].schema_version == "2"
    assert store.read_dataset(COMPANY, "bronze", "widgets").sort_by("id").column("name").to_pylist()[-2:] == [
        "t",
        "f",
    ]


def test_schema_drift_within_one_run_is_refused_too(
    ingest: BronzeIngest, store: DatasetStore, src: Path
) -> None:
    v1 = _widgets(src, "2026-09-29", ["id", "name", "qty"], [[1, "a", 3]])
    removed = _widgets(src, "2026-09-30", ["id", "name"], [[2, "b"]])
    with pytest.raises(
        SchemaMismatchError,
        match=r"widgets.csv: columns differ from dataset 'widgets' schema version 1: removed: qty;",
    ):
        ingest.run(COMPANY, [v1, removed])
    added = _widgets(src, "2026-10-01", ["id", "name", "qty", "color"], [[3, "c", 4, "red"]])
    with pytest.raises(SchemaMismatchError, match="added: color VARCHAR"):
        ingest.run(COMPANY, [v1, added])
    assert store.dal.list_dataset_versions(COMPANY) == []
    assert data_files(store.root.root) == []

    result = ingest.run(COMPANY, [v1, added], allow_schema_evolution=True)
    assert result.rows == 2
    [version] = store.versions(COMPANY, "bronze", "widgets")
    assert version.schema_version == "2"
    assert version.schema is not None
    assert [c["name"] for c in version.schema["columns"]] == ["id", "name", "qty", "color"]
    table = store.read_dataset(COMPANY, "bronze", "widgets").sort_by("id")
    assert table.column("color").to_pylist() == [None, "red"]


# --- time travel -----------------------------------------------------------------------------------


def test_time_travel_over_bronze_ingests(ingest: BronzeIngest, store: DatasetStore, src: Path) -> None:
    first = _first_ingest(ingest, src)
    second = ingest.run(COMPANY, [write_jobs(src, "2026-09-30", ["J3"])])
    assert first.run_id is not None and second.run_id is not None
    old = store.read_dataset(COMPANY, "bronze", "jobs", as_of=first.run_id)
    assert _job_ids(old) == ["J1", "J2"]
    assert set(old.column("_ingest_run_id").to_pylist()) == {first.run_id}
    assert set(old.column("dt").to_pylist()) == {date(2026, 9, 29)}
    assert _job_ids(store.read_dataset(COMPANY, "bronze", "jobs")) == ["J1", "J2", "J3"]
    assert _job_ids(store.read_dataset(COMPANY, "bronze", "jobs", as_of=second.run_id)) == ["J1", "J2", "J3"]
    with pytest.raises(DatasetNotFoundError):
        store.read_dataset(COMPANY, "bronze", "jobs", as_of="20200101T000000000000Z-00000000")


def test_progress_is_reported(ingest: BronzeIngest, src: Path) -> None:
    seen: list[tuple[str, int, int]] = []

    def report(label: str, done: int, total: int) -> None:
        seen.append((label, done, total))

    ingest.run(COMPANY, [write_jobs(src, "2026-09-30", ["J1"])], progress=report)
    assert seen == [("jobs 2026-09-30 (jobs.csv)", 0, 1), ("publishing", 1, 1)]


def test_a_concurrent_ingest_of_the_same_file_is_a_no_op(
    ingest: BronzeIngest, store: DatasetStore, src: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_jobs(src, "2026-09-30", ["J1", "J2"])
    publish = DatasetStore.publish
    other: list[IngestResult] = []

    def publish_after_a_rival(self: DatasetStore, *args: Any, **kwargs: Any) -> Any:
        if not other:  # another process ingests the same file while this run is about to commit
            monkeypatch.setattr(DatasetStore, "publish", publish)
            other.append(BronzeIngest(store).run(COMPANY, [path]))
            monkeypatch.setattr(DatasetStore, "publish", publish_after_a_rival)
        return publish(self, *args, **kwargs)

    monkeypatch.setattr(DatasetStore, "publish", publish_after_a_rival)
    result = ingest.run(COMPANY, [path])
    assert other[0].run_id is not None and other[0].rows == 2
    assert result.run_id is not None and result.rows == 0
    assert result.ingested == [] and result.versions == []
    assert [s["reason"] for s in result.skipped] == [f"ingested concurrently by run {other[0].run_id}"]
    run = store.dal.get_pipeline_run(result.run_id)
    assert run.status == "success"
    assert run.output_manifest is not None and run.output_manifest["outputs"] == []
    assert _job_ids(store.read_dataset(COMPANY, "bronze", "jobs")) == ["J1", "J2"]
    assert len(store.versions(COMPANY, "bronze", "jobs")) == 1
    assert store.maintenance.verify(COMPANY).ok
