"""``lakehouse build`` on a data root in a bucket of the local S3 server: dbt reads bronze and the
build writes silver and gold through the object store; an incremental build shares its unchanged
chunks there; a backfill is published but not current; every version verifies."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane import duck
from lakehouse.dataplane.ingest import BronzeIngest
from lakehouse.dataplane.s3 import S3Access
from lakehouse.dataplane.zones import DataRoot
from lakehouse.runtime import dataset_store
from lakehouse.sample.generator import generate
from tests.build_fixtures import COMPANY, REPO, Lakehouse
from tests.data_fixtures import files_under

pytestmark = [pytest.mark.s3, pytest.mark.slow]


@pytest.fixture
def lake(s3_env: dict[str, str], tmp_path: Path, db_url: str) -> Iterator[Lakehouse]:
    access = S3Access.from_env(s3_env)
    root = DataRoot.on_s3(f"s3://{s3_env['LAKEHOUSE_TEST_BUCKET']}/lake", tmp_path / "state", access)
    duck.use_s3(access)
    extract = tmp_path / "extract"
    generate(COMPANY, extract, days=35, scale=0.03, seed=11)
    config_dir = tmp_path / "config"
    shutil.copytree(REPO / "config", config_dir)
    project_dir = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project_dir, ignore=shutil.ignore_patterns("target", "logs"))
    store = dataset_store(DataAccessLayer.from_url(db_url), root)
    try:
        yield Lakehouse(store, extract, config_dir, project_dir)
    finally:
        duck.use_s3(None)
        store.dal.close()


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_builds_incremental_builds_backfills_and_time_travel_on_the_bucket(lake: Lakehouse) -> None:
    """A build, an incremental one after a new day (sharing its unchanged chunks in the bucket), then a
    backfill as of an earlier day: published but not current; read_dataset by run id and by date reads
    each version's objects from the bucket; every version verifies; nothing durable stays local."""
    days = sorted(p for p in lake.extract.iterdir() if p.is_dir())
    BronzeIngest(lake.store).run(COMPANY, days[:-1])
    first = lake.builder().run(COMPANY, extract=False)

    silver = [i.key for i in lake.store.root.objects.list(f"{COMPANY}/silver/")]
    assert silver and all(k.endswith(".parquet") for k in silver)
    jobs = lake.store.read_dataset(COMPANY, "silver", "jobs")
    assert jobs.num_rows > 0

    BronzeIngest(lake.store).run(COMPANY, days[-1:])
    newest = lake.builder().run(COMPANY, extract=False)

    assert newest.incremental_from == first.run_id and newest.files_shared > 0
    assert newest.as_of == date.fromisoformat(days[-1].name)
    now = lake.store.read_dataset(COMPANY, "silver", "jobs")
    assert now.num_rows >= jobs.num_rows

    earlier = date.fromisoformat(days[-8].name)
    backfill = lake.builder().run(COMPANY, as_of=earlier, extract=False)

    assert backfill.backfill and backfill.as_of == earlier
    assert now.equals(lake.store.read_dataset(COMPANY, "silver", "jobs"))  # still current
    assert now.equals(lake.store.read_dataset(COMPANY, "silver", "jobs", as_of=newest.run_id))
    then = lake.store.read_dataset(COMPANY, "silver", "jobs", as_of=backfill.run_id)
    assert then.equals(lake.store.read_dataset(COMPANY, "silver", "jobs", as_of=earlier))
    assert 0 < then.num_rows < now.num_rows
    # The backfill saw bronze up to its date only.
    assert max(then.column("dt").to_pylist()) <= earlier < max(now.column("dt").to_pylist())

    assert lake.store.maintenance.verify(COMPANY).ok
    assert lake.store.maintenance.gc(COMPANY).removed_files == []
    # nothing durable on the worker: its folder holds the catalog and the dbt parse cache
    local = files_under(lake.store.root.root)
    assert not [f for f in local if f.endswith((".parquet", ".json"))], local
