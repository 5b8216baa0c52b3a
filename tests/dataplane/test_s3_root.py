"""A data root in a bucket of the local S3 server: ingest, read_dataset, the catalog, verify and gc
through the object store, with nothing durable left on the worker's local folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane import duck
from lakehouse.dataplane.ingest import BronzeIngest
from lakehouse.dataplane.objects import S3ObjectStore
from lakehouse.dataplane.s3 import S3Access
from lakehouse.dataplane.store import DatasetStore
from lakehouse.dataplane.zones import DataRoot
from lakehouse.errors import QueryRefusedError
from lakehouse.query.sandbox import run_query
from lakehouse.runtime import dataset_store
from tests.data_fixtures import COMPANY, files_under, write_jobs
from tests.s3_server import TEST_KEY_ID, TEST_SECRET

pytestmark = pytest.mark.s3


@pytest.fixture
def s3_store(s3_env: dict[str, str], dal: DataAccessLayer, tmp_path: Path) -> Iterator[DatasetStore]:
    access = S3Access.from_env(s3_env)
    root = DataRoot.on_s3(f"s3://{s3_env['LAKEHOUSE_TEST_BUCKET']}/lake", tmp_path / "state", access)
    duck.use_s3(access)
    try:
        yield dataset_store(dal, root)
    finally:
        duck.use_s3(None)


def _objects(store: DatasetStore, prefix: str = "") -> list[str]:
    return [i.key for i in store.root.objects.list(prefix)]


def test_an_ingest_writes_its_files_and_manifests_to_the_bucket(
    s3_store: DatasetStore, tmp_path: Path
) -> None:
    extract = write_jobs(tmp_path / "extract", "2026-09-30", ["J1", "J2", "J3"])

    result = BronzeIngest(s3_store).run(COMPANY, [extract])

    assert result.rows == 3
    parts = _objects(s3_store, f"{COMPANY}/bronze/dataset=jobs/")
    assert len(parts) == 1 and parts[0].startswith(f"{COMPANY}/bronze/dataset=jobs/dt=2026-09-30/part-")
    assert _objects(s3_store, f"{COMPANY}/manifests/bronze/jobs/")
    assert isinstance(s3_store.root.objects, S3ObjectStore)
    assert s3_store.root.url(parts[0]).startswith("s3://")
    # the worker's local folder holds no data: only the analysts' catalog (views over s3:// URLs)
    local = files_under(s3_store.root.root)
    assert not [f for f in local if f.endswith((".parquet", ".json", ".jsonl"))], local
    jobs = s3_store.read_dataset(COMPANY, "bronze", "jobs")
    assert sorted(jobs.column("job_id").to_pylist()) == ["J1", "J2", "J3"]
    catalog = s3_store.root.catalog_path(COMPANY)
    raw = catalog.read_bytes()
    assert b"s3://" in raw and TEST_SECRET.encode() not in raw and TEST_KEY_ID.encode() not in raw

    # analysts' queries read the bucket through the catalog, inside the company's prefixes only
    allowed = [s3_store.root.zone_location(COMPANY, z) for z in ("bronze", "silver", "gold")]
    assert allowed[0].startswith("s3://") and allowed[0].endswith(f"/{COMPANY}/bronze/")
    counted = run_query(catalog, "select count(*) as n from bronze.jobs", None, allowed)
    assert counted.to_pylist() == [{"n": 3}]
    elsewhere = s3_store.root.url("beta/bronze/dataset=jobs/x.parquet")
    with pytest.raises(QueryRefusedError, match="outside"):
        run_query(catalog, f"select * from read_parquet('{elsewhere}')", None, allowed)

    again = BronzeIngest(s3_store).run(COMPANY, [extract])
    assert again.rows == 0 and len(_objects(s3_store, f"{COMPANY}/bronze/dataset=jobs/")) == 1


def test_verify_and_gc_work_on_the_bucket(s3_store: DatasetStore, tmp_path: Path) -> None:
    BronzeIngest(s3_store).run(COMPANY, [write_jobs(tmp_path / "extract", "2026-09-30", ["J1"])])
    [part] = _objects(s3_store, f"{COMPANY}/bronze/dataset=jobs/")
    orphan = f"{COMPANY}/bronze/dataset=jobs/dt=2026-09-29/part-20260101T000000000000Z-deadbeef-00000.parquet"
    s3_store.root.objects.put_bytes(orphan, b"left by a killed writer")

    report = s3_store.maintenance.verify(COMPANY)
    assert [(p.kind, p.path) for p in report.problems] == [("extra", orphan)]

    gc = s3_store.maintenance.gc(COMPANY)
    assert gc.removed_files == [orphan]
    assert _objects(s3_store, f"{COMPANY}/bronze/dataset=jobs/") == [part]
    assert s3_store.maintenance.verify(COMPANY).ok

    s3_store.root.objects.put_bytes(part, b"altered", if_absent=False)
    [problem] = s3_store.maintenance.verify(COMPANY).problems
    assert (problem.kind, problem.path) == ("altered", part)


def test_an_s3_data_root_needs_a_shared_control_plane(monkeypatch: pytest.MonkeyPatch) -> None:
    from lakehouse.errors import SettingsError
    from lakehouse.settings import Settings

    monkeypatch.delenv("LAKEHOUSE_DATABASE_URL", raising=False)
    monkeypatch.setenv("LAKEHOUSE_DATA_ROOT", "s3://lake-bucket/prod")
    with pytest.raises(SettingsError, match="LAKEHOUSE_DATABASE_URL"):
        Settings()
    monkeypatch.setenv("LAKEHOUSE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/lakehouse")
    settings = Settings()
    assert settings.data_root == "s3://lake-bucket/prod" and settings.data_root_is_remote
