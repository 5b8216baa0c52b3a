"""The analysts' catalog: noticed stale and refreshed, queried as of a date, safe from gc's grace.

Driven through the CLI with the settings of the environment, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.store import DatasetStore, StagedVersion
from lakehouse.settings import get_settings
from tests.cli_fixtures import as_json, cli, ok, one_line_error
from tests.data_fixtures import COMPANY, make_store

pytestmark = pytest.mark.usefixtures("env")


def _publish(store: DatasetStore, rows: int, as_of: date, refresh: bool = True) -> str:
    run_id = store.dal.start_pipeline_run(COMPANY, "test_build", stage="gold")
    version = StagedVersion(COMPANY, "gold", "kpis", run_id, "1", as_of=as_of)
    with duckdb.connect() as con:
        store.write_file(con, version, pa.table({"k": list(range(rows))}), as_of)
    if refresh:
        store.publish([version])
    else:  # as if killed between the commit and the catalog refresh
        original = store.refresh_catalog
        store.refresh_catalog = lambda company: (_ for _ in ()).throw(SystemExit(9))  # type: ignore[method-assign]
        try:
            with pytest.raises(SystemExit):
                store.publish([version])
        finally:
            store.refresh_catalog = original  # type: ignore[method-assign]
    store.dal.finish_pipeline_run(run_id, "success")
    return run_id


def _count(*extra: str) -> int:
    rows = as_json(ok("query", "-c", COMPANY, "-f", "json", *extra, "select count(*) as n from gold.kpis"))
    return int(rows[0]["n"])


def _store(data_root: Path) -> tuple[DataAccessLayer, DatasetStore]:
    dal = DataAccessLayer.from_settings(get_settings())
    return dal, make_store(dal, data_root)


def test_a_stale_catalog_is_noticed_and_refreshed_by_query(root: Path) -> None:  # noqa: F811
    dal, store = _store(root)
    try:
        day = date(2026, 9, 30)
        _publish(store, 3, day)
        assert _count() == 3
        _publish(store, 5, day, refresh=False)  # committed, catalog not refreshed
        with duckdb.connect(str(store.root.catalog_path(COMPANY)), read_only=True) as con:
            assert con.execute("select count(*) from gold.kpis").fetchone() == (3,)  # stale
        assert _count() == 5  # query noticed and refreshed it
        assert store.ensure_catalog(COMPANY) is False  # now current
    finally:
        dal.close()


def test_query_as_of_a_date_reads_the_version_current_then(root: Path) -> None:  # noqa: F811
    dal, store = _store(root)
    try:
        day = date(2026, 9, 30)
        _publish(store, 4, day)
        _publish(store, 2, day - timedelta(days=20))  # a backfill: published, not current
        assert _count() == 4
        assert _count("--as-of", str(day - timedelta(days=1))) == 2
        assert _count("--as-of", str(day)) == 4
        listed = {r["dataset"]: r for r in as_json(ok("datasets", "-c", COMPANY, "-o", "json"))}
        assert listed["kpis"]["as_of"] == day.isoformat() and listed["kpis"]["rows"] == 4
        # After every as-of: the current versions, said so; before every one: the dataset is named.
        later = cli("query", "-c", COMPANY, "--as-of", "2030-01-01", "select count(*) as n from gold.kpis")
        assert later.exit_code == 0
        assert later.stderr.strip() == (
            f"note: --as-of 2030-01-01 is after the newest as-of published ({day}): this reads the current versions"
        )
        line = one_line_error(
            cli("query", "-c", COMPANY, "--as-of", "2020-01-01", "select count(*) from gold.kpis")
        )
        assert line.startswith("error: gold.kpis had no version on or before --as-of 2020-01-01"), line
    finally:
        dal.close()


def test_gc_waits_out_the_grace_period_so_open_sessions_keep_working(root: Path, tmp_path: Path) -> None:  # noqa: F811
    dal, store = _store(root)
    try:
        day = date(2026, 9, 30)
        _publish(store, 1, day)
        analyst = duckdb.connect(str(store.root.catalog_path(COMPANY)), read_only=True)  # opened before
        _publish(store, 2, day)
        _publish(store, 3, day)
        report = as_json(ok("gc", "-c", COMPANY, "--keep", "1", "-o", "json"))
        assert report["expired_versions"] == []  # replaced moments ago: within retention.min_age_minutes
        assert analyst.execute("select count(*) from gold.kpis").fetchone() == (1,)
        analyst.close()

        config = tmp_path / "config" / "global.json"
        document = json.loads(config.read_text())
        document["retention"]["min_age_minutes"] = 0
        config.write_text(json.dumps(document))
        report = as_json(ok("gc", "-c", COMPANY, "--keep", "1", "-o", "json"))
        assert len(report["expired_versions"]) == 2
        assert _count() == 3
    finally:
        dal.close()
