"""Property: however the same days arrive (any order, any batch sizes, late updates to old ids),
the incremental builds end where a full rebuild of the same bronze ends, row for row, for every
silver and gold dataset.

Each case shuffles the day folders of one generated company plus two late-correction folders (an
old day's file that updates old ids: one newer version that must win, one stale version that must
lose), splits them into batches of 1 to 5 folders, ingests and builds after each batch, then
rebuilds with ``full_refresh`` and compares every dataset. A random order leaves gaps (a job whose
customer's day has not arrived yet), so the project's tests are made warnings in the copy the cases
build with: every build publishes, and the comparison is what checks the rows. ``LAKEHOUSE_PROPERTY_CASES`` sets how
many cases run (``make test-incremental`` runs many; the default suite a few).
"""

from __future__ import annotations

import csv
import os
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lakehouse.config import load_config
from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.ingest import BronzeIngest
from lakehouse.dataplane.store import DatasetStore
from lakehouse.dataplane.zones import DataRoot
from lakehouse.runtime import dataset_store
from lakehouse.sample.generator import generate
from lakehouse.transform.build import DbtBuild
from tests.build_fixtures import COMPANY, REPO

pytestmark = pytest.mark.slow

CASES = int(os.environ.get("LAKEHOUSE_PROPERTY_CASES", "1"))
DAYS = 12


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The day folders of a generated company, and two late corrections of old days."""
    base = tmp_path_factory.mktemp("feeds")
    extract = base / "extract"
    generate(COMPANY, extract, days=DAYS, scale=0.03, seed=11)
    days = sorted(p for p in extract.iterdir() if p.is_dir())
    with (days[0] / "customers.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        header = list(reader.fieldnames or [])
        customers = list(reader)
    corrections = []
    for n, (day, updated_at, suffix) in enumerate(
        [(days[1], "2099-01-01 00:00:00", "corrected"), (days[2], "1999-01-01 00:00:00", "stale")]
    ):
        folder = base / f"late-{n}" / day.name  # a day folder of an old day, delivered late
        folder.mkdir(parents=True)
        rows = [dict(r, name=f"{r['name']} ({suffix})", updated_at=updated_at) for r in customers[n::5]]
        with (folder / "customers.csv").open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        corrections.append(folder)
    return [*days, *corrections]


@pytest.fixture
def lake(tmp_path: Path, db_url: str) -> Iterator[tuple[DatasetStore, DbtBuild]]:
    config_dir = tmp_path / "config"
    shutil.copytree(REPO / "config", config_dir)
    project = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    with (project / "dbt_project.yml").open("a") as fh:
        fh.write("\ndata_tests:\n  lakehouse:\n    +severity: warn\n")
    store = dataset_store(DataAccessLayer.from_url(db_url), DataRoot.from_uri(str(tmp_path / "data")))
    yield store, DbtBuild(store, load_config(config_dir), project)
    store.dal.close()


def _published(store: DatasetStore) -> dict[tuple[str, str], list[tuple[Any, ...]]]:
    """Every current silver/gold dataset, its rows sorted (all columns, lineage and dt included)."""
    out = {}
    for (zone, name), _versions in store.current_versions(COMPANY).items():
        if zone == "bronze":
            continue
        table = store.read_dataset(COMPANY, zone, name)
        columns = table.column_names
        rows = [tuple(row[c] for c in columns) for row in table.to_pylist()]
        out[(zone, name)] = sorted(rows, key=repr)
    return out


def _batches(rng: random.Random, feeds: list[Path]) -> list[list[Path]]:
    order = list(feeds)
    rng.shuffle(order)
    # the first batch needs a whole day (every source): a correction holds customers only
    first = next(i for i, p in enumerate(order) if not p.parent.name.startswith("late-"))
    order.insert(0, order.pop(first))
    batches = []
    while order:
        size = rng.randint(1, 5)
        batches.append(order[:size])
        order = order[size:]
    return batches


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # PostgreSQL: test_build_incremental.py
@pytest.mark.parametrize("case", range(CASES))
def test_incremental_builds_end_where_a_full_rebuild_does(
    lake: tuple[DatasetStore, DbtBuild], feeds: list[Path], case: int
) -> None:
    store, builder = lake
    rng = random.Random(1000 + case)
    modes = []
    for batch in _batches(rng, feeds):
        BronzeIngest(store).run(COMPANY, batch)
        result = builder.run(COMPANY, extract=False)
        modes.append(result.incremental_from is not None or result.unchanged_since is not None)
    assert any(modes[1:]), f"no build after the first continued an earlier one: {modes}"
    incremental = _published(store)

    full = builder.run(COMPANY, extract=False, full_refresh=True)
    assert full.incremental_from is None
    rebuilt = _published(store)

    assert sorted(incremental) == sorted(rebuilt)
    assert {("silver", "customers"), ("gold", "customer_360")} <= set(rebuilt)
    for key, rows in rebuilt.items():
        assert incremental[key] == rows, f"{key[0]}.{key[1]}: incremental differs from a full rebuild"
    # the late corrections: the newer version won, the stale one lost
    names = {r["name"] for r in store.read_dataset(COMPANY, "silver", "customers").to_pylist()}
    assert any(n.endswith("(corrected)") for n in names)
    assert not any(n.endswith("(stale)") for n in names)
    assert store.maintenance.verify(COMPANY).ok
