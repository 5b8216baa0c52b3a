"""Helpers shared by the data-plane tests (datasets, ingest, CLI): stores, small extracts, file trees."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.ingest import BronzeIngest
from lakehouse.dataplane.schemas import RAW_SCHEMAS
from lakehouse.dataplane.store import DatasetStore, StagedVersion
from lakehouse.dataplane.zones import DataRoot, Zone
from lakehouse.db.records import DatasetVersionRecord
from lakehouse.runtime import dataset_store

COMPANY = "acme"
REPO = Path(__file__).resolve().parents[1]
JOBS_HEADER: tuple[str, ...] = RAW_SCHEMAS["jobs"].column_names


def make_store(dal: DataAccessLayer, root: Path) -> DatasetStore:
    """A dataset store over ``root`` (created lazily by the writes) and the test's control plane, with
    the analysts' catalog hook the runtime plugs in."""
    return dataset_store(dal, DataRoot(root))


def job_row(job_id: str, **overrides: str) -> list[str]:
    """One valid row of ``jobs.csv`` in schema column order; ``overrides`` replace values by column."""
    values = {
        "job_id": job_id,
        "customer_id": "C1",
        "job_type": "repair",
        "business_unit": "HVAC",
        "technician_id": "T1",
        "status": "scheduled",
        "created_at": "2026-09-01 08:00:00",
        "scheduled_for": "2026-09-02 09:00:00",
        "completed_at": "",
        "job_total": "120.50",
        "updated_at": "2026-09-01 08:00:00",
    }
    unknown = set(overrides) - set(values)
    assert not unknown, f"not a jobs column: {unknown}"
    values.update(overrides)
    return [values[c] for c in JOBS_HEADER]


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    """Write a CSV extract (``\\n`` line endings, minimal quoting); folders are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jobs(folder: Path, day: str, ids: Sequence[str]) -> Path:
    """``folder/<day>/jobs.csv`` with one valid row per id."""
    return write_csv(folder / day / "jobs.csv", JOBS_HEADER, [job_row(i) for i in ids])


def files_under(root: Path) -> list[str]:
    """Every file below ``root`` as sorted posix paths relative to it ([] when ``root`` is missing)."""
    if not root.exists():
        return []
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def data_files(root: Path, company: str = COMPANY) -> list[str]:
    """Parquet files of the zones of ``company``, relative to the data root."""
    return [
        f"{company}/{f}"
        for f in files_under(root / company)
        if f.split("/", 1)[0] in ("bronze", "silver", "gold") and "/_rejects/" not in f"/{f}"
    ]


def flip_byte(path: Path, offset: int = 8) -> None:
    """Corrupt ``path`` in place by inverting one byte (size unchanged)."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def catalog_counts(catalog: Path) -> dict[str, int]:
    """``zone.dataset`` -> row count of every view of a company catalog."""
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        views = con.execute(
            "select schema_name, view_name from duckdb_views() "
            "where not internal and schema_name in ('bronze', 'silver', 'gold') order by 1, 2"
        ).fetchall()
        counts: dict[str, int] = {}
        for schema, view in views:
            row = con.execute(f'select count(*) from "{schema}"."{view}"').fetchone()
            assert row is not None
            counts[f"{schema}.{view}"] = int(row[0])
        return counts
    finally:
        con.close()


def publish_table(
    store: DatasetStore,
    zone: Zone,
    dataset: str,
    table: pa.Table,
    dt: date = date(2026, 9, 30),
    schema_version: str = "1",
    company: str = COMPANY,
) -> DatasetVersionRecord:
    """Publish ``table`` as a new version of ``zone.dataset`` (one file) in its own successful run."""
    [record] = publish_many(store, [(zone, dataset, table)], dt, schema_version, company)
    return record


def publish_many(
    store: DatasetStore,
    items: Sequence[tuple[Zone, str, pa.Table]],
    dt: date = date(2026, 9, 30),
    schema_version: str = "1",
    company: str = COMPANY,
) -> list[DatasetVersionRecord]:
    """Publish one version per ``(zone, dataset, table)``, each from its own run (in this order), with
    a single commit (and a single catalog refresh: quicker than one publish per version)."""
    staged: list[StagedVersion] = []
    with duckdb.connect() as con:
        for zone, dataset, table in items:
            run_id = store.dal.start_pipeline_run(company, "test_build", stage=zone)
            version = StagedVersion(company, zone, dataset, run_id, schema_version)
            store.write_file(con, version, table, dt)
            staged.append(version)
    records = store.publish(staged)
    for version in staged:
        store.dal.finish_pipeline_run(version.run_id, "success")
    return records


def run_child(code: str, env: Mapping[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run Python ``code`` in a fresh interpreter with the repo importable and ``env`` added."""
    child_env = dict(os.environ)
    child_env.update(env)
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), child_env.get("PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- fixtures (registered for every test by tests/conftest.py; a module may define its own) --------


@pytest.fixture
def store(dal: DataAccessLayer, root: Path) -> DatasetStore:
    """A dataset store over the test's data root (``root``) and control plane (each backend)."""
    return make_store(dal, root)


@pytest.fixture
def ingest(store: DatasetStore) -> BronzeIngest:
    """The bronze ingest over :func:`store`."""
    return BronzeIngest(store)
