"""`lakehouse build`: write-audit-publish of dbt silver/gold, run manifests, events, locking."""

from __future__ import annotations

import csv
import json
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from lakehouse.dataplane.atomic import sha256_file
from lakehouse.dataplane.ingest import BronzeIngest
from lakehouse.dataplane.schemas import schema_from_json
from lakehouse.db.company_lock import company_lock
from lakehouse.errors import BuildFailedError, DataPlaneError, LockBusyError, TransformError
from lakehouse.transform.build import BuildResult
from tests.build_fixtures import COMPANY, Lakehouse, make_lakehouse, one_backend

pytestmark = pytest.mark.slow


@pytest.fixture
def lake(tmp_path: Path, db_url: str) -> Iterator[Lakehouse]:
    lh = make_lakehouse(tmp_path, db_url)
    yield lh
    lh.dal.close()


def _latest_rows(extract: Path, dataset: str, key: str) -> dict[str, dict[str, str]]:
    """Independent silver: the last version of each id by (updated_at, day folder, line)."""
    best: dict[str, tuple[tuple[str, str, int], dict[str, str]]] = {}
    for day in sorted(p for p in extract.iterdir() if p.is_dir() and not p.name.startswith("_")):
        path = day / f"{dataset}.csv"
        if not path.exists():
            continue
        with path.open(newline="") as fh:
            for n, row in enumerate(csv.DictReader(fh)):
                rank = (row["updated_at"], day.name, n)
                if row[key] not in best or rank >= best[row[key]][0]:
                    best[row[key]] = (rank, row)
    return {k: v[1] for k, v in best.items()}


def gold_columns(lake: Lakehouse, dataset: str) -> list[str]:
    return list(lake.store.read_dataset(COMPANY, "gold", dataset).column_names)


@one_backend("sqlite")
def test_build_publishes_gold_that_matches_an_independent_computation(lake: Lakehouse) -> None:
    result = lake.builder().run(COMPANY)

    newest_day = max(date.fromisoformat(p.name) for p in lake.extract.iterdir() if p.name[0].isdigit())
    assert result.as_of == newest_day  # as-of defaults to the newest bronze dt, not the wall clock
    published = {(v["zone"], v["dataset"]) for v in result.versions}
    assert {("silver", "invoices"), ("gold", "revenue_by_month"), ("gold", "customer_360")} <= published

    invoices = _latest_rows(lake.extract, "invoices", "invoice_id")
    jobs = _latest_rows(lake.extract, "jobs", "job_id")
    expected: dict[tuple[date, str], list[Decimal]] = defaultdict(
        lambda: [Decimal(0), Decimal(0), Decimal(0)]
    )
    for inv in invoices.values():
        if inv["status"] == "void":
            continue
        month = date.fromisoformat(inv["invoice_date"]).replace(day=1)
        acc = expected[(month, jobs[inv["job_id"]]["business_unit"])]
        acc[0] += 1
        acc[1] += Decimal(inv["total"])
        acc[2] += Decimal(inv["total"]) - Decimal(inv["balance"])
    gold = lake.store.read_dataset(COMPANY, "gold", "revenue_by_month").to_pylist()
    actual = {
        (r["month"], r["business_unit"]): [
            Decimal(r["invoice_count"]),
            r["invoiced_total"],
            r["collected_total"],
        ]
        for r in gold
    }
    assert actual == expected
    assert {r["dt"] for r in gold} == {result.as_of}

    c360 = {r["customer_id"]: r for r in lake.store.read_dataset(COMPANY, "gold", "customer_360").to_pylist()}
    assert set(c360) == set(_latest_rows(lake.extract, "customers", "customer_id"))
    revenue: dict[str, Decimal] = defaultdict(Decimal)
    for inv in invoices.values():
        if inv["status"] != "void":
            revenue[inv["customer_id"]] += Decimal(inv["total"])
    for customer_id, row in c360.items():
        assert row["lifetime_revenue"] == revenue.get(customer_id, Decimal(0))

    # every published file is tagged and listed with its checksum in the run's output manifest
    run = lake.dal.get_pipeline_run(result.run_id)
    assert run.status == "success" and run.pipeline_name == "dbt_build"
    manifest = run.output_manifest or {}
    assert manifest["dbt_invocation_id"] == result.invocation_id
    statuses = {n["unique_id"]: n["status"] for n in manifest["nodes"]}
    assert statuses["model.lakehouse.revenue_by_month"] == "success"
    assert all("execution_time" in n for n in manifest["nodes"])
    for output in manifest["outputs"]:
        for f in output["files"]:
            path = lake.store.root.resolve(f["path"])
            assert sha256_file(path) == f["checksum"]
            assert pq.ParquetFile(path).metadata.num_rows == f["row_count"]
            meta = {k.decode(): v.decode() for k, v in (pq.read_metadata(path).metadata or {}).items()}
            assert meta["lakehouse.dataset"] == output["dataset"]
            assert meta["lakehouse.run_id"] == result.run_id
            assert meta["lakehouse.schema_version"] == output["schema_version"]
    run_results = json.loads(lake.store.root.resolve(manifest["dbt_artifacts"][0]).read_text())
    assert run_results["metadata"]["env"]["LAKEHOUSE_RUN_ID"] == result.run_id
    assert lake.store.maintenance.verify(COMPANY).ok

    # each version records its schema in one JSON form (dbt models and the extraction alike)
    c360_version = lake.store.resolve_version(COMPANY, "gold", "customer_360")
    c360_schema = schema_from_json(c360_version.schema or {})
    assert (c360_schema.name, c360_schema.version, c360_schema.primary_key) == ("customer_360", "1", None)
    assert list(c360_schema.column_names) == [c for c in gold_columns(lake, "customer_360") if c != "dt"]
    assert c360_schema.column("customer_id").type == "VARCHAR"
    profiles = lake.store.resolve_version(COMPANY, "gold", "customer_profiles")
    profiles_schema = schema_from_json(profiles.schema or {})
    assert profiles_schema.primary_key == "customer_id" and profiles_schema.version == "1"
    assert all(c.nullable and c.enum is None for c in profiles_schema.columns)


@one_backend("postgres")
def test_a_failing_dbt_test_publishes_nothing_and_keeps_the_old_version(lake: Lakehouse) -> None:
    first = lake.builder().run(COMPANY)
    before = lake.store.read_dataset(COMPANY, "gold", "revenue_by_month")
    (lake.project_dir / "tests" / "always_fails.sql").write_text(
        "-- a reconciliation that can never hold\nselect * from {{ ref('revenue_by_month') }}\n"
    )
    (lake.project_dir / "models" / "gold" / "broken_model.sql").write_text(
        "select no_such_column from {{ ref('jobs') }}\n"
    )
    with pytest.raises(BuildFailedError, match="always_fails") as failure:
        lake.builder().run(COMPANY)
    run_id = failure.value.run_id
    failed_run = lake.dal.get_pipeline_run(run_id)
    assert failed_run.status == "failed"
    failed_nodes = (failed_run.error or {})["failed_nodes"]
    assert any("always_fails" in n for n in failed_nodes)

    # the failing nodes' SQL is kept with the run's artifacts, and the error names the kept files
    kept = lake.store.root.manifests_dir(COMPANY) / "dbt" / run_id / "failed"
    model_sql = kept / "model.lakehouse.broken_model.sql"
    test_sql = kept / "test.lakehouse.always_fails.sql"
    assert "no_such_column" in model_sql.read_text()
    assert "create" in (kept / "model.lakehouse.broken_model.run.sql").read_text().lower()
    assert "revenue_by_month" in test_sql.read_text()
    for path in (model_sql, test_sql):
        relative = lake.store.root.relative(path)
        assert f"(compiled SQL: {relative})" in str(failure.value)
        assert any(relative in n for n in failed_nodes)
    log = (kept.parent / "dbt.log").read_text()
    assert str(model_sql) in log.rsplit("lakehouse:", 1)[1]
    assert not (lake.store.root.company_dir(COMPANY) / "_work" / run_id).exists()
    current = lake.store.resolve_version(COMPANY, "gold", "revenue_by_month")
    assert current.version_tag == first.run_id
    assert lake.store.read_dataset(COMPANY, "gold", "revenue_by_month").equals(before)
    assert first.extraction is not None
    producers = {first.run_id, first.extraction.run_id}  # dbt models, then transcript profiles
    assert all(v.version_tag in producers for v in lake.dal.list_dataset_versions(COMPANY, zone="gold"))

    # a project that does not even compile fails the build too, naming the kept dbt log
    (lake.project_dir / "models" / "gold" / "broken_model.sql").write_text(
        "select * from {{ ref('no_such_model') }}\n"
    )
    with pytest.raises(BuildFailedError, match="no_such_model") as parse_failure:
        lake.builder().run(COMPANY)
    assert parse_failure.value.log is not None
    assert "no_such_model" in lake.store.root.resolve(parse_failure.value.log).read_text()
    assert lake.store.resolve_version(COMPANY, "gold", "revenue_by_month").version_tag == first.run_id


@one_backend("postgres")
def test_a_user_added_model_is_built_tested_versioned_and_published(lake: Lakehouse) -> None:
    (lake.project_dir / "models" / "gold" / "jobs_per_unit.sql").write_text(
        "select business_unit, count(*) as job_count from {{ ref('jobs') }} group by business_unit\n"
    )
    result = lake.builder().run(COMPANY)
    assert ("gold", "jobs_per_unit") in {(v["zone"], v["dataset"]) for v in result.versions}
    table = lake.store.read_dataset(COMPANY, "gold", "jobs_per_unit")
    jobs = lake.store.read_dataset(COMPANY, "silver", "jobs")
    assert sum(table.column("job_count").to_pylist()) == jobs.num_rows
    version = lake.store.resolve_version(COMPANY, "gold", "jobs_per_unit")
    assert version.schema_version == "1"


@one_backend("postgres")
def test_event_lifecycle_across_builds(lake: Lakehouse) -> None:
    lake.set_event_parameter("unsold_estimate", "min_total", 0.0)
    lake.set_event_parameter("unsold_estimate", "min_age_days", 0)
    lake.builder().run(COMPANY)
    active = {e.event_id: e for e in lake.dal.list_events(COMPANY, "active", "unsold_estimate")}
    assert active, "the generator leaves some estimates open"

    lake.set_event_parameter("unsold_estimate", "min_total", 10_000_000.0)
    result = lake.builder().run(COMPANY)
    assert result.events["unsold_estimate"] == {"detected": 0, "resolved": len(active)}
    assert lake.dal.list_events(COMPANY, "active", "unsold_estimate") == []

    lake.set_event_parameter("unsold_estimate", "min_total", 0.0)
    lake.builder().run(COMPANY)
    again = {e.event_id: e for e in lake.dal.list_events(COMPANY, "active", "unsold_estimate")}
    assert set(again) == set(active)
    for event_id, event in again.items():
        assert event.first_seen_at == active[event_id].first_seen_at
        assert event.last_seen_at > active[event_id].last_seen_at
        assert "total" in event.details


def test_a_second_build_is_refused_or_waits_while_one_holds_the_lease(lake: Lakehouse) -> None:
    with (
        company_lock(lake.dal, f"build:{COMPANY}", "run-holding"),
        pytest.raises(LockBusyError, match="run-holding"),
    ):
        lake.builder().run(COMPANY)

    # Two real builds at once: the second waits for the first, and their runs never overlap.
    results: list[object] = []
    messages: list[str] = []

    def build() -> None:
        try:
            results.append(
                lake.builder().run(COMPANY, wait_seconds=300, on_wait=messages.append, extract=False)
            )
        except BaseException as exc:  # asserted below
            results.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(r, BuildResult) for r in results), results
    runs = sorted(
        (lake.dal.get_pipeline_run(r.run_id) for r in results if isinstance(r, BuildResult)),
        key=lambda r: r.started_at,
    )
    assert [r.status for r in runs] == ["success", "success"]
    assert runs[0].finished_at is not None and runs[0].finished_at <= runs[1].started_at
    assert len(messages) == 1 and "held by run" in messages[0]
    assert lake.store.maintenance.verify(COMPANY).ok


@one_backend("sqlite")
def test_selective_builds_backfills_and_as_of_checks(lake: Lakehouse, tmp_path: Path) -> None:
    silver_only = lake.builder().run(COMPANY, select=["customers"])  # staging parents come along
    assert [(v["zone"], v["dataset"]) for v in silver_only.versions] == [("silver", "customers")]

    with pytest.raises(TransformError, match="matched no silver or gold model"):
        lake.builder().run(COMPANY, select=["no_such_model"])
    newest = silver_only.as_of
    with pytest.raises(DataPlaneError, match="after the newest bronze data"):
        lake.builder().run(COMPANY, as_of=newest + timedelta(days=1))

    # a bronze dataset that dbt does not read does not move the default as-of date
    widgets = tmp_path / "widgets.csv"
    widgets.write_text("widget_id,size\nW1,3\n")
    BronzeIngest(lake.store).run(COMPANY, [widgets], dt=newest + timedelta(days=3))
    full = lake.builder().run(COMPANY)
    assert full.as_of == newest
    events = {(e.event_id, e.status, e.last_seen_at) for e in lake.dal.list_events(COMPANY)}
    assert events

    backfill = lake.builder().run(COMPANY, as_of=newest - timedelta(days=10), extract=False)
    assert backfill.events == {}  # events describe the present: a backfill leaves them alone
    assert {(e.event_id, e.status, e.last_seen_at) for e in lake.dal.list_events(COMPANY)} == events
