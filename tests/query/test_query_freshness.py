"""lakehouse.query.freshness: the direct read of the SQLite control plane agrees with the DAL's."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.catalog_fingerprint import versions_fingerprint
from lakehouse.dataplane.store import DatasetStore, fingerprint
from lakehouse.db import migrate, schema_head
from lakehouse.errors import MigrationRequiredError
from lakehouse.query import freshness
from lakehouse.query.catalog import catalog_reflects
from tests.data_fixtures import COMPANY, make_store, publish_table


@pytest.fixture
def published(tmp_path: Path, sqlite_template: Path) -> Iterator[tuple[str, DatasetStore]]:
    """A SQLite control plane (its URL) and a store with two committed datasets of ``COMPANY``."""
    control = tmp_path / "control.db"
    shutil.copy(sqlite_template, control)
    url = f"sqlite:///{control}"
    dal = DataAccessLayer.from_url(url)
    store = make_store(dal, tmp_path / "data")
    publish_table(store, "silver", "jobs", pa.table({"job_id": ["j1"]}), date(2026, 1, 1))
    publish_table(store, "silver", "jobs", pa.table({"job_id": ["j1", "j2"]}), date(2026, 1, 2))
    publish_table(store, "bronze", "calls", pa.table({"call_id": ["c1"]}), date(2026, 1, 2))
    try:
        yield url, store
    finally:
        dal.close()


def test_head_revision_is_alembics() -> None:
    assert schema_head.head_revision() == migrate.head_revision()


def test_the_fingerprint_is_the_stores(published: tuple[str, DatasetStore]) -> None:
    url, store = published
    versions = store.dal.list_dataset_versions(COMPANY)
    rows = [(v.zone, v.dataset_name, v.version_tag, v.checksum) for v in versions]

    assert versions_fingerprint(rows) == fingerprint(versions) == store.catalog_fingerprint(COMPANY)
    catalog = store.root.catalog_path(COMPANY)
    assert catalog_reflects(catalog) == fingerprint(versions)
    assert freshness.current_catalog(url, catalog, COMPANY) == catalog


def test_a_stale_catalog_is_not_current(published: tuple[str, DatasetStore]) -> None:
    url, store = published
    catalog = store.root.catalog_path(COMPANY)
    with sqlite3.connect(url[len("sqlite:///") :]) as con:
        con.execute("update dataset_versions set checksum = 'other' where dataset_name = 'calls'")

    assert freshness.current_catalog(url, catalog, COMPANY) is None


def test_an_expired_version_makes_the_catalog_stale(published: tuple[str, DatasetStore]) -> None:
    url, store = published
    with sqlite3.connect(url[len("sqlite:///") :]) as con:
        con.execute("update dataset_versions set status = 'expired' where dataset_name = 'calls'")

    assert freshness.current_catalog(url, store.root.catalog_path(COMPANY), COMPANY) is None


def test_a_database_behind_the_migrations_is_left_to_the_dal(published: tuple[str, DatasetStore]) -> None:
    url, store = published
    with sqlite3.connect(url[len("sqlite:///") :]) as con:
        con.execute("update alembic_version set version_num = 'older'")

    assert freshness.current_catalog(url, store.root.catalog_path(COMPANY), COMPANY) is None


def test_an_unknown_company_or_a_missing_catalog_is_left_to_the_dal(
    published: tuple[str, DatasetStore], tmp_path: Path
) -> None:
    url, store = published
    catalog = store.root.catalog_path(COMPANY)

    assert freshness.current_catalog(url, catalog, "globex") is None
    assert freshness.current_catalog(url, tmp_path / "none.duckdb", COMPANY) is None
    assert freshness.current_catalog(f"sqlite:///{tmp_path / 'none.db'}", catalog, COMPANY) is None


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:////srv/data/_control/lakehouse.db", Path("/srv/data/_control/lakehouse.db")),
        ("sqlite:///relative.db", Path("relative.db")),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:x?mode=memory&uri=true", None),
        ("sqlite:////srv/x.db?timeout=5", None),
        ("sqlite+pysqlite:////srv/x.db", None),
        ("postgresql+psycopg://postgres@127.0.0.1:5432/lakehouse", None),
    ],
)
def test_only_a_plain_sqlite_url_is_read_directly(url: str, path: Path | None) -> None:
    assert freshness.sqlite_file(url) == path


def test_the_dal_checks_the_schema_head_without_alembic(tmp_path: Path) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'cp.db'}"
    migrate.upgrade(url, "head")
    code = (
        "import sys; from lakehouse.dal import DataAccessLayer; DataAccessLayer.from_url(sys.argv[1]).close(); "
        "print('alembic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
    # a database behind the code is still refused, by Alembic, with the revisions named
    migrate.downgrade(url, "-1")
    with pytest.raises(MigrationRequiredError, match="lakehouse db upgrade"):
        DataAccessLayer.from_url(url)
