"""As-of and backfill rules: what is current, reading as of a date, --select, the default as-of.

Current = the version with the newest as_of, then the latest commit; a backfill is published,
readable, never current. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.ingest import BronzeIngest
from lakehouse.dataplane.store import DatasetStore, StagedVersion
from lakehouse.errors import DataPlaneError, DatasetNotFoundError, EmptyVersionError, TransformError
from lakehouse.ids import new_run_id
from tests.build_fixtures import COMPANY, Lakehouse, make_lakehouse, one_backend
from tests.data_fixtures import make_store


@pytest.fixture
def lake(tmp_path: Path, db_url: str) -> Iterator[Lakehouse]:
    lh = make_lakehouse(tmp_path, db_url)
    yield lh
    lh.dal.close()


def _publish(store: DatasetStore, run_id: str, rows: int, as_of: date) -> None:
    store.dal.start_pipeline_run(COMPANY, "test_build", stage="gold", run_id=run_id)
    version = StagedVersion(COMPANY, "gold", "scores", run_id, "1", as_of=as_of)
    with duckdb.connect() as con:
        store.write_file(con, version, pa.table({"n": list(range(rows))}), as_of)
    store.publish([version])
    store.dal.finish_pipeline_run(run_id, "success")


def test_current_is_newest_as_of_then_latest_commit_never_the_run_id(
    dal: DataAccessLayer, tmp_path: Path
) -> None:
    store = make_store(dal, tmp_path / "data")
    day = date(2026, 8, 15)
    late_id = new_run_id()  # taken first (like a build that then waited) ...
    early_id = new_run_id()
    assert late_id < early_id
    _publish(store, early_id, 3, day)
    _publish(store, late_id, 5, day)  # ... committed last: it is current
    assert store.resolve_version(COMPANY, "gold", "scores").version_tag == late_id
    assert store.read_dataset(COMPANY, "gold", "scores").num_rows == 5

    backfill_id = new_run_id()
    _publish(store, backfill_id, 2, day - timedelta(days=30))  # an older as-of: never current
    assert store.resolve_version(COMPANY, "gold", "scores").version_tag == late_id
    assert store.read_dataset(COMPANY, "gold", "scores", as_of=backfill_id).num_rows == 2
    assert store.read_dataset(COMPANY, "gold", "scores", as_of=str(day - timedelta(days=1))).num_rows == 2
    assert store.read_dataset(COMPANY, "gold", "scores", as_of=str(day)).num_rows == 5
    with pytest.raises(DatasetNotFoundError):
        store.read_dataset(COMPANY, "gold", "scores", as_of="2020-01-01")
    views = store.current_views(COMPANY, as_of=day - timedelta(days=1))
    assert [store.root.relative(p) for p in views["gold"]["scores"]] == [
        store.root.relative(p) for p in store.dataset_files(COMPANY, "gold", "scores", backfill_id)
    ]
    [version] = [v for v in dal.list_dataset_versions(COMPANY) if v.version_tag == backfill_id]
    assert version.as_of == day - timedelta(days=30)


def _count(lake: Lakehouse, dataset: str, as_of: str | None = None) -> int:
    return int(lake.store.read_dataset(COMPANY, "gold", dataset, as_of=as_of).num_rows)


@pytest.mark.slow
def test_a_backfill_is_published_and_readable_but_never_current(lake: Lakehouse) -> None:
    full = lake.builder().run(COMPANY, extract=False)
    rows = _count(lake, "customer_360")
    events = {(e.event_id, e.status, e.last_seen_at) for e in lake.dal.list_events(COMPANY)}

    past = full.as_of - timedelta(days=10)
    back = lake.builder().run(COMPANY, as_of=past, extract=False)
    assert back.backfill and back.events == {}
    assert lake.store.resolve_version(COMPANY, "gold", "customer_360").version_tag == full.run_id
    assert _count(lake, "customer_360") == rows
    assert _count(lake, "customer_360", as_of=str(past)) == _count(lake, "customer_360", as_of=back.run_id)
    assert (
        lake.store.resolve_version(COMPANY, "gold", "customer_360", as_of=str(past)).version_tag
        == back.run_id
    )
    assert {(e.event_id, e.status, e.last_seen_at) for e in lake.dal.list_events(COMPANY)} == events

    # --select at the backfill's as-of reads the upstream versions of that as-of, never the current ones
    sel = lake.builder().run(COMPANY, select=["revenue_by_month"], as_of=past, extract=False)
    inputs = lake.dal.get_pipeline_run(sel.run_id).input_manifest or {}
    upstream = {(u["zone"], u["dataset"]): u for u in inputs["upstream_versions"]}
    assert upstream[("silver", "invoices")]["version"] == back.run_id
    assert upstream[("silver", "invoices")]["as_of"] == past.isoformat()
    assert "built_upstream" not in inputs
    assert lake.store.resolve_version(COMPANY, "gold", "revenue_by_month").version_tag == full.run_id

    # ... and builds them too where that as-of has none
    older = full.as_of - timedelta(days=20)
    sel2 = lake.builder().run(COMPANY, select=["revenue_by_month"], as_of=older, extract=False)
    inputs2 = lake.dal.get_pipeline_run(sel2.run_id).input_manifest or {}
    assert "invoices" in inputs2["built_upstream"]
    assert ("silver", "invoices") in {(v["zone"], v["dataset"]) for v in sel2.versions}

    # an as-of before any business happened would empty every dataset: refused unless --allow-empty
    with pytest.raises(EmptyVersionError, match="--allow-empty"):
        lake.builder().run(COMPANY, as_of=full.as_of - timedelta(days=400), extract=False)
    assert lake.store.resolve_version(COMPANY, "gold", "customer_360").version_tag == full.run_id


def _one_call_ahead(lake: Lakehouse, day: date) -> Path:
    """A calls.jsonl of one new call on ``day`` (a feed one day ahead of the others)."""
    days = sorted(p for p in lake.extract.iterdir() if p.is_dir() and p.name[:1].isdigit())
    for folder in reversed(days):
        lines = [line for line in (folder / "calls.jsonl").read_text().splitlines() if line.strip()]
        if lines:
            record = json.loads(lines[0])
            break
    record["call_id"] = "CALL-AHEAD-1"
    target = lake.extract.parent / "ahead" / day.isoformat()
    target.mkdir(parents=True)
    (target / "calls.jsonl").write_text(json.dumps(record) + "\n")
    return target


@pytest.mark.slow
@one_backend("postgres")
def test_one_feed_ahead_does_not_move_the_default_as_of(lake: Lakehouse) -> None:
    first = lake.builder().run(COMPANY, extract=False)
    ahead = first.as_of + timedelta(days=1)
    BronzeIngest(lake.store).run(COMPANY, [_one_call_ahead(lake, ahead)])

    again = lake.builder().run(COMPANY, extract=False)
    assert again.as_of == first.as_of
    assert any("calls reach" in n and "customers lags 1 day(s)" in n for n in again.notes), again.notes

    with pytest.raises(DataPlaneError, match=r"customers \(newest .*--allow-partial"):
        lake.builder().run(COMPANY, as_of=ahead, extract=False)
    partial = lake.builder().run(COMPANY, as_of=ahead, allow_partial=True, extract=False)
    assert partial.as_of == ahead and partial.events == {}
    inputs = lake.dal.get_pipeline_run(partial.run_id).input_manifest or {}
    assert inputs["partial"] is True and inputs["source_reach"]["calls"] == ahead.isoformat()


@pytest.mark.slow
@one_backend("sqlite")
def test_a_model_with_a_reserved_column_fails_clearly_and_publishes_nothing(lake: Lakehouse) -> None:
    (lake.project_dir / "models" / "gold" / "jobs_by_day.sql").write_text(
        "select cast(scheduled_for as date) as dt, count(*) as job_count from {{ ref('jobs') }} group by 1\n"
    )
    with pytest.raises(
        TransformError, match=r"jobs_by_day has reserved column\(s\): 'dt' is a partition key"
    ):
        lake.builder().run(COMPANY, select=["jobs_by_day"], extract=False)
    assert not [v for v in lake.dal.list_dataset_versions(COMPANY) if v.zone != "bronze"]


def test_datasets_counts_every_backfill_even_after_a_newer_build(
    dal: DataAccessLayer, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`lakehouse datasets`: a backfill stays counted when a normal build is committed after it."""
    import json

    from typer.testing import CliRunner

    from lakehouse.cli.main import app
    from lakehouse.settings import get_settings

    store = make_store(dal, tmp_path / "data")
    day = date(2026, 8, 15)
    _publish(store, new_run_id(), 3, day)
    _publish(store, new_run_id(), 2, day - timedelta(days=30))  # a backfill
    _publish(store, new_run_id(), 4, day + timedelta(days=1))  # the next normal build
    monkeypatch.setenv("LAKEHOUSE_DATABASE_URL", db_url)
    monkeypatch.setenv("LAKEHOUSE_DATA_ROOT", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["datasets", "-c", COMPANY, "-o", "json"])
        text = CliRunner().invoke(app, ["datasets", "-c", COMPANY])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.stderr
    [scores] = json.loads(result.stdout)
    assert (scores["versions"], scores["backfills"], scores["as_of"]) == (3, 1, "2026-08-16")
    assert "backfills" in text.stdout
