"""What start-up imports: the ``lakehouse`` entry point, and ``lakehouse query`` over a current catalog.

Not a timed test: each case runs a fresh interpreter and checks which modules it imported. The CLI
loads a command's module only when it runs (lakehouse.cli.lazy), and a query over a catalog that
is current reads the SQLite control plane directly (lakehouse.query.freshness), so neither pulls in
dbt, SQLAlchemy, Alembic, the ingest or transform code, the HTTP stack or pandas.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.dal import DataAccessLayer
from tests.data_fixtures import make_store, publish_table

#: Never imported by ``import lakehouse.cli.main`` nor by ``lakehouse query`` over a current catalog.
HEAVY = (
    "dbt",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "httpx",
    "tenacity",
    "pandas",
    "click",  # typer has its own copy; the click package comes with dbt
    "lakehouse.dal",
    "lakehouse.db.engine",
    "lakehouse.db.models",
    "lakehouse.transform",
    "lakehouse.dataplane.ingest",
    "lakehouse.dataplane.store",
    "lakehouse.ops",
    "lakehouse.sample",
)
#: Not needed to register the commands either.
HEAVY_AT_START = (*HEAVY, "pyarrow", "duckdb", "pydantic_settings", "lakehouse.config", "lakehouse.query")

_DUMP = """
import json, sys
{body}
print("MODULES=" + json.dumps(sorted(sys.modules)))
"""
_RUN_QUERY = """
from lakehouse.cli.main import main
sys.argv = ["lakehouse", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit as exc:
    if exc.code:
        raise
"""


def _imported(body: str, *args: str, env: dict[str, str] | None = None) -> tuple[set[str], str]:
    result = subprocess.run(
        [sys.executable, "-c", _DUMP.format(body=body), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, (result.stdout, result.stderr)
    head, _, modules = result.stdout.rpartition("MODULES=")
    return set(json.loads(modules)), head


def _heavy(modules: set[str], heavy: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(f"{h}.") for h in heavy))


def test_importing_the_entry_point_imports_no_command() -> None:
    modules, _ = _imported("import lakehouse.cli.main")

    assert _heavy(modules, HEAVY_AT_START) == []
    assert not {m for m in modules if m.startswith("lakehouse.cli.") and m.endswith("_cmd")}


@pytest.fixture
def current_catalog(tmp_path: Path, sqlite_template: Path) -> dict[str, str]:
    """The environment of a company with one silver dataset whose catalog is current."""
    control = tmp_path / "control.db"
    shutil.copy(sqlite_template, control)
    root = tmp_path / "data"
    dal = DataAccessLayer.from_url(f"sqlite:///{control}")
    try:
        publish_table(
            make_store(dal, root), "silver", "jobs", pa.table({"job_id": ["j1", "j2"]}), date(2026, 1, 1)
        )
    finally:
        dal.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEHOUSE_")}
    return env | {
        "LAKEHOUSE_DATABASE_URL": f"sqlite:///{control}",
        "LAKEHOUSE_DATA_ROOT": str(root),
        "LAKEHOUSE_CONFIG_DIR": str(Path(__file__).resolve().parents[2] / "config"),
    }


def test_a_query_over_a_current_catalog_imports_no_control_plane_library(
    current_catalog: dict[str, str],
) -> None:
    args = ["query", "-c", "acme", "-o", "json", "select count(*) as n from silver.jobs"]
    modules, out = _imported(_RUN_QUERY, json.dumps(args), env=current_catalog)

    assert json.loads(out) == [{"n": 2}]
    assert _heavy(modules, HEAVY) == []
    assert "lakehouse.query.freshness" in modules


def test_a_query_over_a_missing_catalog_goes_through_the_dal_and_rebuilds_it(
    current_catalog: dict[str, str],
) -> None:
    catalog = Path(current_catalog["LAKEHOUSE_DATA_ROOT"]) / "acme" / "catalog.duckdb"
    catalog.unlink()
    args = ["query", "-c", "acme", "-o", "json", "select count(*) as n from silver.jobs"]
    modules, out = _imported(_RUN_QUERY, json.dumps(args), env=current_catalog)

    assert json.loads(out) == [{"n": 2}]
    assert "lakehouse.dal" in modules
    assert catalog.is_file()


def test_listing_datasets_reads_the_control_plane_only(current_catalog: dict[str, str]) -> None:
    args = ["datasets", "-c", "acme", "-o", "json"]
    modules, out = _imported(_RUN_QUERY, json.dumps(args), env=current_catalog)

    assert [(d["zone"], d["dataset"], d["rows"]) for d in json.loads(out)] == [("silver", "jobs", 2)]
    assert "lakehouse.dal" in modules
    data_plane = ("duckdb", "pyarrow", "lakehouse.dataplane.store", "lakehouse.query", "lakehouse.config")
    assert _heavy(modules, data_plane) == []
