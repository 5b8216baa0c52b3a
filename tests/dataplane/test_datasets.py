"""DatasetStore: the commit protocol of silver/gold versions, time travel, verify, gc and the catalog.

Every test runs on SQLite and on PostgreSQL (the ``dal`` fixture of conftest).
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lakehouse.query.catalog_hook as datasets_mod
from lakehouse.dataplane.maintenance import Maintenance, VerifyProblem
from lakehouse.dataplane.manifest import FileEntry, version_checksum
from lakehouse.dataplane.store import DatasetStore, StagedVersion
from lakehouse.errors import (
    AlreadyExistsError,
    DatabaseUnavailableError,
    DataPlaneError,
    DatasetNotFoundError,
    IntegrityError,
    InvalidNameError,
)
from tests.data_fixtures import (
    COMPANY,
    catalog_counts,
    data_files,
    files_under,
    flip_byte,
    publish_many,
    publish_table,
)
from tests.recovery_fixtures import kill_holder

#: gc's grace period off: these tests expire versions replaced moments ago.
NO_GRACE = timedelta(0)


def _customers(n: int, tag: str) -> pa.Table:
    return pa.table({"customer_id": [f"C{i}" for i in range(n)], "name": [f"{tag}-{i}" for i in range(n)]})


def _files_of(store: DatasetStore, zone: str, dataset: str, as_of: str | None = None) -> list[str]:
    return [store.root.relative(p) for p in store.dataset_files(COMPANY, zone, dataset, as_of)]


# --- writing and publishing ------------------------------------------------------------------------


def test_write_file_stamps_curated_metadata_and_publish_records_the_manifest(
    store: DatasetStore, root: Path
) -> None:
    run_id = store.dal.start_pipeline_run(COMPANY, "dbt_build", stage="silver")
    staged = StagedVersion(COMPANY, "silver", "customers", run_id, "3", schema={"name": "customers"})
    with duckdb.connect() as con:
        first = store.write_file(con, staged, _customers(3, "a"), date(2026, 9, 29))
        second = store.write_file(
            con, staged, "SELECT ? AS customer_id, ? AS name", date(2026, 9, 30), params=["C9", "z"]
        )
    assert first.path == (f"{COMPANY}/silver/dataset=customers/dt=2026-09-29/part-{run_id}-00000.parquet")
    assert second.path == f"{COMPANY}/silver/dataset=customers/dt=2026-09-30/part-{run_id}-00001.parquet"
    # Written but not published: invisible.
    assert store.versions(COMPANY, "silver", "customers") == []
    with pytest.raises(DatasetNotFoundError):
        store.read_dataset(COMPANY, "silver", "customers")

    for entry in (first, second):
        path = root / entry.path
        footer = pq.read_metadata(path)
        kv = {k.decode(): v.decode() for k, v in (footer.metadata or {}).items()}
        assert kv["lakehouse.schema_version"] == "3"
        assert kv["lakehouse.dataset"] == "customers"
        assert kv["lakehouse.run_id"] == run_id
        assert entry.size_bytes == path.stat().st_size
        assert entry.row_count == footer.num_rows
        assert entry.checksum == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert (first.row_count, second.row_count) == (3, 1)

    [record] = store.publish([staged])
    assert record.zone == "silver"
    assert record.version_tag == run_id
    assert record.produced_by_run_id == run_id
    assert record.schema_version == "3"
    assert record.row_count == 4
    assert record.schema == {"name": "customers"}
    assert record.manifest_path == f"{COMPANY}/manifests/silver/customers/{run_id}.json"
    manifest = json.loads((root / record.manifest_path).read_text())
    assert manifest["checksum"] == record.checksum == version_checksum([first, second])
    assert [f["path"] for f in manifest["files"]] == [first.path, second.path]
    assert manifest["row_count"] == 4

    table = store.read_dataset(COMPANY, "silver", "customers")
    assert sorted(table.column_names) == ["customer_id", "dt", "name"]
    assert sorted(table.column("customer_id").to_pylist()) == ["C0", "C1", "C2", "C9"]
    # a snapshot's dt is its as-of (the newest dt of its files, here), whichever folder holds a file
    assert record.as_of == date(2026, 9, 30)
    assert set(table.column("dt").to_pylist()) == {date(2026, 9, 30)}
    assert catalog_counts(root / COMPANY / "catalog.duckdb") == {"silver.customers": 4}


def test_publish_is_all_or_nothing_when_a_claim_is_taken(store: DatasetStore, root: Path) -> None:
    before = publish_table(store, "silver", "customers", _customers(2, "old"))
    catalog = root / COMPANY / "catalog.duckdb"
    catalog_bytes = catalog.read_bytes()
    assert store.dal.claim_idempotency_key("build", "k1")

    run_id = store.dal.start_pipeline_run(COMPANY, "dbt_build")
    staged = [
        StagedVersion(COMPANY, "silver", "customers", run_id, "1"),
        StagedVersion(COMPANY, "gold", "kpis", run_id, "1"),
    ]
    with duckdb.connect() as con:
        store.write_file(con, staged[0], _customers(5, "new"), date(2026, 9, 30))
        store.write_file(con, staged[1], pa.table({"k": [1]}), date(2026, 9, 30))
    with pytest.raises(AlreadyExistsError):
        store.publish(staged, claims=[("build", "k2"), ("build", "k1")])

    assert store.versions(COMPANY, "silver", "customers") == [before]
    assert store.versions(COMPANY, "gold", "kpis") == []
    assert store.dal.idempotency_claim_of("build", "k2") is None  # rolled back with the versions
    assert store.read_dataset(COMPANY, "silver", "customers").num_rows == 2
    assert catalog.read_bytes() == catalog_bytes
    store.discard(staged)
    assert store.maintenance.verify(COMPANY).ok


# --- reading ---------------------------------------------------------------------------------------


def test_time_travel_reads_an_older_silver_version_by_tag(store: DatasetStore) -> None:
    v1 = publish_table(store, "silver", "customers", _customers(2, "v1"), dt=date(2026, 9, 29))
    v2 = publish_table(store, "silver", "customers", _customers(3, "v2"), dt=date(2026, 9, 30))
    assert v1.version_tag < v2.version_tag

    current = store.read_dataset(COMPANY, "silver", "customers")
    assert sorted(current.column("name").to_pylist()) == ["v2-0", "v2-1", "v2-2"]
    old = store.read_dataset(COMPANY, "silver", "customers", as_of=v1.version_tag)
    assert sorted(old.column("name").to_pylist()) == ["v1-0", "v1-1"]
    assert old.column("dt").to_pylist() == [date(2026, 9, 29)] * 2
    # Silver is a snapshot: one version's files only, never the union.
    assert _files_of(store, "silver", "customers", v1.version_tag) != _files_of(store, "silver", "customers")
    assert store.resolve_version(COMPANY, "silver", "customers") == v2
    assert store.resolve_version(COMPANY, "silver", "customers", v1.produced_by_run_id) == v1

    with pytest.raises(DatasetNotFoundError, match="at version 'nope'"):
        store.read_dataset(COMPANY, "silver", "customers", as_of="nope")
    with pytest.raises(DatasetNotFoundError, match="no published dataset gold.customers"):
        store.read_dataset(COMPANY, "gold", "customers")


def test_bronze_versions_accumulate(store: DatasetStore) -> None:
    b1 = publish_table(store, "bronze", "jobs", pa.table({"job_id": ["J1"]}), dt=date(2026, 9, 29))
    b2 = publish_table(store, "bronze", "jobs", pa.table({"job_id": ["J2", "J3"]}), dt=date(2026, 9, 30))
    assert sorted(store.read_dataset(COMPANY, "bronze", "jobs").column("job_id").to_pylist()) == [
        "J1",
        "J2",
        "J3",
    ]
    assert store.read_dataset(COMPANY, "bronze", "jobs", as_of=b1.version_tag).column(
        "job_id"
    ).to_pylist() == ["J1"]
    assert store.read_dataset(COMPANY, "bronze", "jobs", as_of=b2.version_tag).num_rows == 3


BAD_NAMES = ["../x", "/etc", "", "Acme", "a b", "x/../../y", "..", "a\x00b"]


def test_names_are_refused_before_any_file_is_touched(store: DatasetStore, root: Path) -> None:
    for name in BAD_NAMES:
        with pytest.raises(InvalidNameError):
            store.read_dataset(name, "bronze", "jobs")
        with pytest.raises(InvalidNameError):
            store.read_dataset(COMPANY, "bronze", name)
        with pytest.raises(InvalidNameError):
            store.maintenance.verify(name)
        with pytest.raises(InvalidNameError):
            store.maintenance.verify(COMPANY, name)
        with pytest.raises(InvalidNameError):
            store.maintenance.gc(name)
        with pytest.raises(InvalidNameError), duckdb.connect() as con:
            store.write_file(
                con,
                StagedVersion(COMPANY, "silver", name, "r1", "1"),
                pa.table({"a": [1]}),
                date(2026, 9, 30),
            )
    assert not root.exists()


def test_an_unknown_zone_is_refused(store: DatasetStore) -> None:
    with pytest.raises(DataPlaneError, match="unknown zone"):
        store.read_dataset(COMPANY, "../bronze", "jobs")
    with pytest.raises(DataPlaneError, match="unknown zone"):
        store.read_dataset(COMPANY, "manifests", "jobs")


# --- verify ----------------------------------------------------------------------------------------


def test_verify_reports_altered_missing_and_extra_files(store: DatasetStore, root: Path) -> None:
    a, b = publish_many(
        store, [("silver", "customers", _customers(3, "a")), ("gold", "kpis", pa.table({"k": [1, 2]}))]
    )
    report = store.maintenance.verify(COMPANY)
    assert report.ok
    assert (report.versions_checked, report.files_checked, report.problems) == (2, 2, [])

    [altered] = _files_of(store, "silver", "customers")
    [missing] = _files_of(store, "gold", "kpis")
    flip_byte(root / altered)
    (root / missing).unlink()
    extra = f"{COMPANY}/silver/dataset=customers/dt=2026-09-30/dropped-by-hand.parquet"
    pq.write_table(pa.table({"x": [1]}), root / extra)

    report = store.maintenance.verify(COMPANY)
    assert not report.ok
    assert sorted((p.kind, p.path) for p in report.problems) == [
        ("altered", altered),
        ("extra", extra),
        ("missing", missing),
    ]
    assert f"version {b.version_tag}" in next(p.detail for p in report.problems if p.kind == "missing")
    only_gold = store.maintenance.verify(COMPANY, "kpis")
    assert [(p.kind, p.path) for p in only_gold.problems] == [("missing", missing)]
    assert only_gold.versions_checked == 1
    assert a.version_tag  # the silver version itself is still listed
    assert str(VerifyProblem("extra", extra, "d")) == f"extra: {extra} (d)"


def test_verify_reports_an_edited_manifest_and_reads_keep_to_the_file_index(
    store: DatasetStore, root: Path
) -> None:
    v = publish_table(store, "silver", "customers", _customers(2, "a"))
    expected = store.read_dataset(COMPANY, "silver", "customers")
    path = root / v.manifest_path
    doc = json.loads(path.read_text())
    doc["files"][0]["checksum"] = "sha256:" + "0" * 64
    path.write_text(json.dumps(doc))

    report = store.maintenance.verify(COMPANY)
    assert [(p.kind, p.path) for p in report.problems] == [("manifest", v.manifest_path)]
    with pytest.raises(IntegrityError, match="edited"):
        store.manifest_entries(v)
    # Reads list the files from the control plane's index, committed with the version: the audit
    # copy being edited changes nothing they see.
    assert store.read_dataset(COMPANY, "silver", "customers").equals(expected)

    # A manifest rewritten consistently (checksum recomputed) still differs from the committed row.
    files = [FileEntry.from_dict(f, "m") for f in doc["files"]]
    doc["checksum"] = version_checksum(files)
    path.write_text(json.dumps(doc))
    with pytest.raises(IntegrityError, match="does not match the checksum committed"):
        store.manifest_entries(v)
    [problem] = store.maintenance.verify(COMPANY).problems
    assert (problem.kind, problem.path) == ("manifest", v.manifest_path)


# --- gc --------------------------------------------------------------------------------------------


def test_gc_expires_old_silver_and_gold_versions_but_never_bronze(store: DatasetStore, root: Path) -> None:
    records = publish_many(
        store,
        [("silver", "customers", _customers(i + 1, f"v{i}")) for i in range(3)]
        + [("gold", "kpis", pa.table({"k": [i]})) for i in range(2)]
        + [("bronze", "jobs", pa.table({"job_id": [f"J{i}"]})) for i in range(3)],
    )
    s, g, b = records[:3], records[3:5], records[5:]
    old_files = [f for v in (s[0], s[1]) for f in _files_of(store, "silver", "customers", v.version_tag)]
    old_files += _files_of(store, "gold", "kpis", g[0].version_tag)
    old_manifests = [s[0].manifest_path, s[1].manifest_path, g[0].manifest_path]
    everything = files_under(root)

    dry = store.maintenance.gc(COMPANY, keep=1, dry_run=True, min_age=NO_GRACE)
    assert dry.dry_run
    assert sorted(dry.expired_versions) == sorted(
        [
            f"silver.customers@{s[0].version_tag}",
            f"silver.customers@{s[1].version_tag}",
            f"gold.kpis@{g[0].version_tag}",
        ]
    )
    assert dry.removed_files == sorted(old_files + old_manifests)
    assert files_under(root) == everything
    assert len(store.versions(COMPANY, "silver", "customers")) == 3

    report = store.maintenance.gc(COMPANY, keep=1, min_age=NO_GRACE)
    assert not report.dry_run
    assert report.removed_files == dry.removed_files
    assert sorted(report.expired_versions) == sorted(dry.expired_versions)
    assert store.versions(COMPANY, "silver", "customers") == [s[2]]
    assert store.versions(COMPANY, "gold", "kpis") == [g[1]]
    assert store.versions(COMPANY, "bronze", "jobs") == b
    expired = store.dal.list_dataset_versions(COMPANY, "customers", "silver", include_expired=True)
    assert [v.status for v in expired] == ["expired", "expired", "committed"]
    for rel in report.removed_files:
        assert not (root / rel).exists(), rel
    assert store.read_dataset(COMPANY, "silver", "customers").num_rows == 3
    assert store.read_dataset(COMPANY, "bronze", "jobs").num_rows == 3
    with pytest.raises(DatasetNotFoundError):
        store.read_dataset(COMPANY, "silver", "customers", as_of=s[0].version_tag)
    assert store.maintenance.verify(COMPANY).ok
    assert catalog_counts(root / COMPANY / "catalog.duckdb") == {
        "bronze.jobs": 3,
        "gold.kpis": 1,
        "silver.customers": 3,
    }
    again = store.maintenance.gc(COMPANY, keep=1, min_age=NO_GRACE)
    assert (again.removed_files, again.expired_versions) == ([], [])


def test_gc_keeps_the_newest_n(store: DatasetStore) -> None:
    s = publish_many(store, [("silver", "customers", _customers(1, f"v{i}")) for i in range(4)])
    report = store.maintenance.gc(COMPANY, keep=2, min_age=NO_GRACE)
    assert sorted(report.expired_versions) == [f"silver.customers@{v.version_tag}" for v in s[:2]]
    assert store.versions(COMPANY, "silver", "customers") == s[2:]
    assert store.read_dataset(COMPANY, "silver", "customers", as_of=s[2].version_tag).num_rows == 1
    with pytest.raises(DataPlaneError, match="at least 1"):
        store.maintenance.gc(COMPANY, keep=0)


def test_gc_removes_temp_files_and_orphans_but_not_in_flight_files(
    store: DatasetStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = publish_table(store, "silver", "customers", _customers(2, "a"))
    part_dir = root / COMPANY / "silver" / "dataset=customers" / "dt=2026-09-30"
    temp_data = part_dir / ".tmp-0123abcd-part-x-00000.parquet"
    temp_data.write_bytes(b"partial")
    temp_manifest = root / COMPANY / "manifests" / "silver" / "customers" / ".tmp-0123abcd-x.json"
    temp_manifest.write_text("{")
    run_artifact = root / COMPANY / "manifests" / "runs" / "r.json"
    run_artifact.parent.mkdir(parents=True)
    run_artifact.write_text("{}")
    rejects = root / COMPANY / "bronze" / "_rejects" / "dataset=jobs" / "dt=2026-09-30" / "rejects-r-x.jsonl"
    rejects.parent.mkdir(parents=True)
    rejects.write_text("{}\n")

    def stage(status: str | None) -> list[str]:
        run_id = store.dal.start_pipeline_run(COMPANY, "dbt_build")
        staged = StagedVersion(COMPANY, "silver", "customers", run_id, "1")
        with duckdb.connect() as con:
            store.write_file(con, staged, _customers(1, run_id), date(2026, 9, 30))
        if status is not None:
            store.dal.finish_pipeline_run(run_id, "failed", error={"message": status})
        return [f.path for f in staged.files]

    failed = stage("crashed")
    running = stage(None)
    rel_temp = store.root.relative(temp_data)
    # The temporary name of a file a running run is writing right now.
    writing = f"{running[0].rsplit('/', 1)[0]}/.tmp-{'ab' * 16}-{running[0].rsplit('/', 1)[1].replace('-00000', '-00001')}"
    (root / writing).write_bytes(b"half a parquet file")

    report = store.maintenance.verify(COMPANY)
    assert sorted((p.kind, p.path) for p in report.problems) == sorted(
        [("extra", failed[0]), ("extra", rel_temp)]
    )

    dry = store.maintenance.gc(COMPANY, dry_run=True)
    expected = sorted([*failed, rel_temp, store.root.relative(temp_manifest)])
    assert dry.removed_files == expected
    assert temp_data.exists()

    report_gc = store.maintenance.gc(COMPANY)
    assert report_gc.removed_files == expected
    assert report_gc.expired_versions == []
    assert not temp_data.exists() and not temp_manifest.exists()
    assert not (root / failed[0]).exists()
    assert (root / running[0]).exists()  # a running run whose process is alive may still publish
    assert (root / writing).exists()
    assert run_artifact.exists() and rejects.exists()
    assert store.maintenance.verify(COMPANY).ok
    assert store.versions(COMPANY, "silver", "customers") == [kept]

    # Once its process has died, a run still marked running is no longer in flight: at once.
    [alive] = store.dal.running_pipeline_runs(COMPANY)
    kill_holder(store.dal, alive.run_id)
    assert sorted((p.kind, p.path) for p in store.maintenance.verify(COMPANY).problems) == sorted(
        [("extra", running[0]), ("extra", writing)]
    )
    assert store.maintenance.gc(COMPANY).removed_files == sorted([running[0], writing])
    assert store.maintenance.verify(COMPANY).ok
    assert data_files(root) == _files_of(store, "silver", "customers")
    assert store.read_dataset(COMPANY, "silver", "customers").num_rows == 2


def test_gc_stops_rather_than_guess_when_the_control_plane_fails(
    store: DatasetStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_table(store, "silver", "customers", _customers(1, "a"))
    run_id = store.dal.start_pipeline_run(COMPANY, "dbt_build")
    staged = StagedVersion(COMPANY, "silver", "customers", run_id, "1")
    with duckdb.connect() as con:
        store.write_file(con, staged, _customers(1, "b"), date(2026, 9, 30))
    everything = files_under(root)

    def unavailable(run_id: str) -> None:
        raise DatabaseUnavailableError("sqlite:///x", "connection reset")

    monkeypatch.setattr(store.dal, "get_pipeline_run", unavailable)
    with pytest.raises(DatabaseUnavailableError):
        store.maintenance.gc(COMPANY)
    assert files_under(root) == everything


def test_discard_never_removes_a_committed_version(store: DatasetStore, root: Path) -> None:
    run_id = store.dal.start_pipeline_run(COMPANY, "dbt_build")
    published = StagedVersion(COMPANY, "silver", "customers", run_id, "1")
    unpublished = StagedVersion(COMPANY, "gold", "kpis", run_id, "1")
    with duckdb.connect() as con:
        store.write_file(con, published, _customers(2, "a"), date(2026, 9, 30))
        store.write_file(con, unpublished, pa.table({"k": [1]}), date(2026, 9, 30))
    store.publish([published])
    # A caller that fails after publish() returned discards everything it staged.
    store.discard([published, unpublished])
    assert store.maintenance.verify(COMPANY).ok
    assert store.read_dataset(COMPANY, "silver", "customers").num_rows == 2
    assert data_files(root) == [published.files[0].path]


def test_gc_marks_abandoned_runs_failed_and_removes_their_build_scratch(
    store: DatasetStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_table(store, "silver", "customers", _customers(1, "a"))
    dead = store.dal.start_pipeline_run(COMPANY, "dbt_build")
    (root / COMPANY / "_work" / dead / "target").mkdir(parents=True)
    (root / COMPANY / "_work" / dead / "build.duckdb").write_bytes(b"x")

    young = store.maintenance.gc(COMPANY)  # its process (this one) is alive
    assert young.abandoned_runs == []
    assert (root / COMPANY / "_work" / dead).exists()
    assert store.dal.get_pipeline_run(dead).status == "running"

    kill_holder(store.dal, dead)  # the process died: no grace period
    dry = store.maintenance.gc(COMPANY, dry_run=True)
    assert dry.abandoned_runs == [dead]
    assert f"{COMPANY}/_work/{dead}/" in dry.removed_files
    assert store.dal.get_pipeline_run(dead).status == "running"

    report = store.maintenance.gc(COMPANY)
    assert report.abandoned_runs == [dead]
    assert not (root / COMPANY / "_work" / dead).exists()
    run = store.dal.get_pipeline_run(dead)
    assert run.status == "failed"
    assert (run.error or {})["type"] == "ProcessDied"
    assert "is gone (marked failed by gc)" in (run.error or {})["message"]


def test_gc_never_removes_a_version_committed_while_it_scans(
    store: DatasetStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_table(store, "silver", "customers", _customers(1, "a"))
    scan = Maintenance._all_files
    late: list[str] = []

    def scan_with_a_concurrent_publish(self: Maintenance, company: str) -> list[Path]:
        # Another process commits and finishes a run after gc listed the versions, before it scans.
        record = publish_table(store, "bronze", "jobs", pa.table({"job_id": ["J1"]}))
        late.append(record.version_tag)
        return scan(self, company)

    monkeypatch.setattr(Maintenance, "_all_files", scan_with_a_concurrent_publish)
    report = store.maintenance.gc(COMPANY)
    assert late and report.removed_files == []
    assert store.maintenance.verify(COMPANY).ok
    assert store.read_dataset(COMPANY, "bronze", "jobs").num_rows == 1


def test_verify_catches_an_edited_row_count_in_a_manifest(store: DatasetStore, root: Path) -> None:
    record = publish_table(store, "silver", "customers", _customers(2, "a"))
    path = root / record.manifest_path
    document = json.loads(path.read_text())
    document["files"][0]["row_count"] += 1
    path.write_text(json.dumps(document))
    problems = store.maintenance.verify(COMPANY).problems
    assert [(p.kind, p.path) for p in problems] == [("manifest", record.manifest_path)]


def test_the_catalog_shows_both_of_two_racing_publishes(
    store: DatasetStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write = datasets_mod.write_catalog
    raced: list[bool] = []

    def slow_write(path: Path, views: object, reflects: str | None = None) -> None:
        if not raced:  # another process commits and writes its catalog while this one is writing
            raced.append(True)
            publish_table(store, "gold", "kpis", pa.table({"k": [1, 2]}))
        write(path, views, reflects)  # type: ignore[arg-type]

    monkeypatch.setattr(datasets_mod, "write_catalog", slow_write)
    publish_table(store, "silver", "customers", _customers(3, "a"))
    assert catalog_counts(root / COMPANY / "catalog.duckdb") == {"gold.kpis": 2, "silver.customers": 3}


def test_gc_removes_rejects_of_runs_that_did_not_succeed(store: DatasetStore, root: Path) -> None:
    publish_table(store, "silver", "customers", _customers(1, "a"))
    folder = root / COMPANY / "bronze" / "_rejects" / "dataset=jobs" / "dt=2026-09-30"
    folder.mkdir(parents=True)
    runs = {}
    for outcome in ("success", "failed", "running"):
        run_id = store.dal.start_pipeline_run(COMPANY, "ingest")
        if outcome != "running":
            store.dal.finish_pipeline_run(run_id, outcome)  # type: ignore[arg-type]
        runs[outcome] = folder / f"rejects-{run_id}-0123456789ab.jsonl"
        runs[outcome].write_text("{}\n")
    unknown = folder / "rejects-20260101T000000000000Z-deadbeef-0123456789ab.jsonl"
    unknown.write_text("{}\n")

    report = store.maintenance.gc(COMPANY)
    rel = {store.root.relative(p) for p in (runs["failed"], unknown)}
    assert set(report.removed_files) == rel
    assert runs["success"].exists() and runs["running"].exists()  # kept, and in flight
    assert not runs["failed"].exists() and not unknown.exists()
