"""Incremental builds: what they read, write and share, and when a build is a full one instead."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.ingest import BronzeIngest
from lakehouse.dataplane.store import StagedVersion
from lakehouse.dataplane.zones import DataRoot
from lakehouse.runtime import dataset_store
from lakehouse.sample.generator import generate
from lakehouse.transform import build as build_module
from lakehouse.transform.build import BuildResult
from lakehouse.transform.dbt_runner import PARSE_CACHE, list_models
from tests.build_fixtures import COMPANY, REPO, Lakehouse
from tests.parse_cache import seed_parse_cache

# One process for the module: its SQLite tests copy one built lakehouse (sqlite_built), built once.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("build-incremental")]
#: The fallbacks, gc and discard are control-plane-neutral: SQLite only (each test builds 2-4 times).
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

DAYS = 40  # two months and more: silver has several chunks


def _ingested_and_built(home: Path, db_url: str, seed: bool) -> Lakehouse:
    """A company under ``home`` with all but the last three of its days ingested and built once."""
    extract = home / "extract"
    generate(COMPANY, extract, days=DAYS, scale=0.04, seed=5)
    config_dir = home / "config"
    shutil.copytree(REPO / "config", config_dir)
    project_dir = home / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project_dir, ignore=shutil.ignore_patterns("target", "logs"))
    store = dataset_store(DataAccessLayer.from_url(db_url), DataRoot.from_uri(str(home / "data")))
    lh = Lakehouse(store, extract, config_dir, project_dir)
    BronzeIngest(store).run(COMPANY, _days(lh)[:-3])
    if seed:
        seed_parse_cache(home / "data")
    first = lh.builder().run(COMPANY, extract=False)
    assert first.incremental_from is None and first.files_shared == 0
    return lh


@pytest.fixture(scope="module")
def sqlite_built(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Path]:
    """:func:`_ingested_and_built` once on SQLite for the module: each test gets a copy."""
    home = tmp_path_factory.mktemp("incremental")
    shutil.copy(sqlite_template, home / "control.db")
    lh = _ingested_and_built(home, f"sqlite:///{home / 'control.db'}", seed=False)
    lh.dal.close()
    yield home


@pytest.fixture
def lake(tmp_path: Path, db_url: str, request: pytest.FixtureRequest) -> Iterator[Lakehouse]:
    """A company with all but the last three of its days ingested and built once: on SQLite a copy
    of one such lakehouse (its data root, control-plane file, extract, config and project), unless
    the test is about that first build's dbt parse."""
    own_first_parse = request.node.get_closest_marker("first_parse_in_full") is not None
    if own_first_parse or not db_url.startswith("sqlite"):
        lh = _ingested_and_built(tmp_path, db_url, seed=not own_first_parse)
    else:
        home = request.getfixturevalue("sqlite_built")
        for name in ("extract", "config", "dbt_project", "data"):
            # the template's parse cache names its own data root: this copy's comes from seed_parse_cache
            shutil.copytree(home / name, tmp_path / name, ignore=shutil.ignore_patterns(PARSE_CACHE))
        shutil.copy(home / "control.db", db_url.removeprefix("sqlite:///"))
        store = dataset_store(DataAccessLayer.from_url(db_url), DataRoot.from_uri(str(tmp_path / "data")))
        store.refresh_catalog(COMPANY)  # the catalog's views name the template's files
        seed_parse_cache(tmp_path / "data")
        lh = Lakehouse(store, tmp_path / "extract", tmp_path / "config", tmp_path / "dbt_project")
    yield lh
    lh.dal.close()


def _days(lake: Lakehouse) -> list[Path]:
    return sorted(p for p in lake.extract.iterdir() if p.is_dir())


def _last_build(lake: Lakehouse) -> BuildResult:
    return lake.builder().run(COMPANY, extract=False)


def _input_manifest(lake: Lakehouse, result: BuildResult) -> dict[str, object]:
    return lake.dal.get_pipeline_run(result.run_id).input_manifest or {}


def test_a_build_after_one_more_day_reads_only_its_files_and_shares_unchanged_chunks(lake: Lakehouse) -> None:
    first_run = lake.dal.list_pipeline_runs(COMPANY, "dbt_build")[0]
    before = {
        (z, n): {e.path for e in lake.store.version_entries(v[0])}
        for (z, n), v in lake.store.current_versions(COMPANY).items()
        if z == "silver"
    }
    ingested = BronzeIngest(lake.store).run(COMPANY, _days(lake)[-3:-2])

    result = _last_build(lake)

    assert result.incremental_from == first_run.run_id
    assert result.bronze_files_read == len(ingested.ingested) == 5  # not the 37 days before
    described = _input_manifest(lake, result)["incremental_from"]
    assert isinstance(described, dict) and described["run_id"] == first_run.run_id
    assert result.files_shared > 0
    # unchanged months are shared: the very same files of the first build, not rewritten (a month
    # where some id got a newer version is written again)
    shared_by = {}
    for (zone, name), old_paths in before.items():
        version = lake.store.resolve_version(COMPANY, zone, name)
        paths = {e.path for e in lake.store.version_entries(version)}
        kept = paths & old_paths
        assert all(first_run.run_id in p for p in kept)
        assert any(result.run_id in p for p in paths - kept), f"{zone}.{name} wrote no new chunk"
        shared_by[name] = len(kept)
    assert sum(shared_by.values()) > 0, shared_by
    # shared files are listed by the manifest and the file index alike, and verify
    assert lake.store.maintenance.verify(COMPANY).ok
    # every snapshot's dt is its as-of, shared files included (in read_dataset and in the catalog)
    calls = lake.store.read_dataset(COMPANY, "silver", "calls")
    assert set(calls.column("dt").to_pylist()) == {result.as_of}


@sqlite_only
def test_full_refresh_and_a_changed_project_build_in_full(lake: Lakehouse) -> None:
    BronzeIngest(lake.store).run(COMPANY, _days(lake)[-3:-2])
    forced = lake.builder().run(COMPANY, extract=False, full_refresh=True)
    assert forced.incremental_from is None and forced.files_shared == 0

    BronzeIngest(lake.store).run(COMPANY, _days(lake)[-2:-1])
    model = lake.project_dir / "models" / "gold" / "revenue_by_month.sql"
    model.write_text(model.read_text() + "\n-- a comment changes the project\n")
    changed = _last_build(lake)
    assert changed.incremental_from is None
    assert "changed" in str(_input_manifest(lake, changed)["full_build"])

    BronzeIngest(lake.store).run(COMPANY, _days(lake)[-1:])
    assert _last_build(lake).incremental_from == changed.run_id


@sqlite_only
def test_a_backfill_and_a_select_build_are_followed_by_a_full_build(lake: Lakehouse) -> None:
    current = lake.store.resolve_version(COMPANY, "silver", "jobs").as_of
    assert current is not None
    backfill = lake.builder().run(COMPANY, as_of=current - timedelta(days=5), extract=False)
    assert backfill.backfill and backfill.incremental_from is None

    BronzeIngest(lake.store).run(COMPANY, _days(lake)[-3:-2])
    lake.builder().run(COMPANY, select=["revenue_by_month"], extract=False)
    after_select = _last_build(lake)
    assert after_select.incremental_from is None
    assert "--select" in str(_input_manifest(lake, after_select)["full_build"])


@sqlite_only
def test_a_last_build_whose_kept_dbt_manifest_is_gone_is_followed_by_a_full_build(lake: Lakehouse) -> None:
    [last] = lake.dal.list_pipeline_runs(COMPANY, "dbt_build", limit=1)
    kept = [a for a in (last.output_manifest or {})["dbt_artifacts"] if a.endswith("manifest.json")]
    lake.store.root.objects.delete(kept)
    BronzeIngest(lake.store).run(COMPANY, _days(lake)[-3:-2])

    result = _last_build(lake)

    assert result.incremental_from is None
    assert "cannot read the dbt manifest" in str(_input_manifest(lake, result)["full_build"])


@sqlite_only
def test_a_table_reading_bronze_past_the_incremental_models_makes_builds_full(lake: Lakehouse) -> None:
    # a gold table over a staging view would see only the new files in an incremental build
    (lake.project_dir / "models" / "gold" / "jobs_raw_count.sql").write_text(
        "select count(*) as jobs_seen from {{ ref('stg_jobs') }}\n"
    )
    _last_build(lake)  # the project changed: a full build
    BronzeIngest(lake.store).run(COMPANY, _days(lake)[-3:-2])
    result = _last_build(lake)
    assert result.incremental_from is None
    assert "jobs_raw_count" in str(_input_manifest(lake, result)["full_build"])
    rows = lake.store.read_dataset(COMPANY, "gold", "jobs_raw_count").to_pylist()
    bronze_jobs = lake.store.read_dataset(COMPANY, "bronze", "jobs").num_rows
    assert rows[0]["jobs_seen"] == bronze_jobs


@sqlite_only
def test_gc_keeps_files_a_current_version_shares_with_an_expired_one(lake: Lakehouse) -> None:
    for day in _days(lake)[-3:]:
        BronzeIngest(lake.store).run(COMPANY, [day])
        assert _last_build(lake).incremental_from is not None
    report = lake.store.maintenance.gc(COMPANY, keep=1, min_age=timedelta(0))
    assert report.expired_versions
    verified = lake.store.maintenance.verify(COMPANY)
    assert verified.ok, verified.problems
    assert lake.store.read_dataset(COMPANY, "silver", "calls").num_rows > 0


@sqlite_only
def test_discarding_a_staged_version_leaves_the_files_it_shares(lake: Lakehouse) -> None:
    version = lake.store.resolve_version(COMPANY, "silver", "customers")
    shared = lake.store.version_entries(version)
    staged = StagedVersion(COMPANY, "silver", "customers", "20991231T000000000000Z-0badc0de", "1")
    staged.files.extend(shared)
    lake.store.discard([staged])
    assert all(lake.store.root.resolve(e.path).exists() for e in shared)


@sqlite_only
@pytest.mark.first_parse_in_full
def test_the_next_build_reuses_dbts_parse_and_still_gets_its_own_as_of(
    lake: Lakehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    BronzeIngest(lake.store).run(COMPANY, _days(lake)[-3:-2])

    result = _last_build(lake)

    logs = {p.parent.name: p.read_text() for p in lake.store.root.company_dir(COMPANY).rglob("dbt.log")}
    assert "Unable to do partial parsing" in min(logs.items())[1]  # the first build parsed in full
    assert "partial pars" not in logs[result.run_id].lower()  # the second did not
    facts = lake.store.read_dataset(COMPANY, "gold", "event_facts").to_pylist()
    assert facts and {f["as_of_date"] for f in facts} == {result.as_of}
    # the run's link to its folder goes with the run; gc leaves the parse cache and removes what a
    # killed build leaves: its folder and a link to it
    work = lake.store.root.company_dir(COMPANY) / "_work"
    assert not (work / "dbt-current").is_symlink()
    (work / "dead-run").mkdir()
    (work / "dbt-current").symlink_to("dead-run")
    lake.store.maintenance.gc(COMPANY, keep=2, min_age=timedelta(0))
    assert sorted(p.name for p in work.iterdir()) == ["dbt-partial-parse.msgpack"]
    assert lake.store.resolve_version(COMPANY, "silver", "jobs").as_of == result.as_of

    # A --select build lists its models (dbt ls) with the builds' parse: dbt rewrites its
    # partial_parse.msgpack only when it parses, and the listing finds the cache and leaves it as is.
    listings: list[tuple[int | None, int | None]] = []

    def spied(project_dir: Path, target_dir: Path, *args: Any) -> list[dict[str, Any]]:
        cache = target_dir / "partial_parse.msgpack"
        before = cache.stat().st_mtime_ns if cache.exists() else None
        listed = list_models(project_dir, target_dir, *args)
        listings.append((before, cache.stat().st_mtime_ns))
        return listed

    monkeypatch.setattr(build_module, "list_models", spied)
    lake.builder().run(COMPANY, select=["revenue_by_month"], extract=False)
    assert len(listings) == 2
    assert all(before is not None and before == after for before, after in listings), listings
