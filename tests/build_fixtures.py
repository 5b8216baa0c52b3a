"""Helpers of the build tests: a small generated company ingested into bronze."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lakehouse.config import LakehouseConfig, load_config
from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.ingest import BronzeIngest
from lakehouse.dataplane.store import DatasetStore
from lakehouse.dataplane.zones import DataRoot
from lakehouse.runtime import dataset_store
from lakehouse.sample.generator import generate
from lakehouse.settings import get_settings
from lakehouse.transform.build import DbtBuild
from tests.parse_cache import seed_parse_cache

REPO = Path(__file__).resolve().parents[1]
COMPANY = "acme"


def one_backend(name: str) -> pytest.MarkDecorator:
    """Run a build test on one control-plane backend (``sqlite`` or ``postgres``), not on both.

    For the tests whose subject is dbt, the data plane or the CLI, not the control plane: each builds
    several times, and running them twice made the suite too slow. The control plane's own tests
    (the DAL and its events lifecycle, transactions, locks, migrations) and the as-of rules run on
    both; the one-backend tests are shared out between the two, so builds run on each.
    """
    marks = [pytest.mark.postgres] if name == "postgres" else []
    return pytest.mark.parametrize("db_url", [pytest.param(name, marks=marks)], indirect=True)


@dataclass
class Lakehouse:
    store: DatasetStore
    extract: Path
    config_dir: Path
    project_dir: Path

    @property
    def dal(self) -> DataAccessLayer:
        return self.store.dal

    def config(self) -> LakehouseConfig:
        return load_config(self.config_dir)

    def builder(self) -> DbtBuild:
        return DbtBuild(self.store, self.config(), self.project_dir)

    def set_event_parameter(self, event_type: str, name: str, value: object) -> None:
        path = self.config_dir / "events" / f"{event_type}.json"
        document = json.loads(path.read_text())
        document["parameters"][name] = value
        path.write_text(json.dumps(document, indent=2))


def make_lakehouse(tmp_path: Path, db_url: str, days: int = 30, scale: float = 0.05) -> Lakehouse:
    """Generate ``days`` of sample data, ingest it, and return the handles (config and dbt project copied)."""
    extract = tmp_path / "extract"
    generate(COMPANY, extract, days=days, scale=scale, seed=7)
    config_dir = tmp_path / "config"
    shutil.copytree(REPO / "config", config_dir)
    project_dir = tmp_path / "dbt_project"
    shutil.copytree(REPO / "dbt_project", project_dir, ignore=shutil.ignore_patterns("target", "logs"))
    store = dataset_store(DataAccessLayer.from_url(db_url), DataRoot.from_uri(str(tmp_path / "data")))
    BronzeIngest(store).run(COMPANY, [extract])
    seed_parse_cache(tmp_path / "data")
    return Lakehouse(store, extract, config_dir, project_dir)


def cli_lakehouse(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, days: int = 15
) -> Iterator[Lakehouse]:
    """:func:`make_lakehouse`, with the CLI's settings (control plane, data root, config and dbt
    project) pointed at it for the test; yield it from a fixture."""
    get_settings.cache_clear()
    lh = make_lakehouse(tmp_path, db_url, days=days)
    monkeypatch.setenv("LAKEHOUSE_DATABASE_URL", db_url)
    monkeypatch.setenv("LAKEHOUSE_DATA_ROOT", str(tmp_path / "data"))
    monkeypatch.setenv("LAKEHOUSE_CONFIG_DIR", str(lh.config_dir))
    monkeypatch.setenv("LAKEHOUSE_DBT_PROJECT_DIR", str(lh.project_dir))
    yield lh
    lh.dal.close()
    get_settings.cache_clear()
