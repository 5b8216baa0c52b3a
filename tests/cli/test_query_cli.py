"""``lakehouse query``: --timeout / --memory-limit and the ``query`` config section, streamed --out,
bounded terminal tables, one-line errors.

One silver dataset is published on a SQLite control plane (the query path only reads what is
committed there to check that the catalog is current).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from typer.testing import CliRunner, Result

from lakehouse.cli.main import app
from lakehouse.dal import DataAccessLayer
from lakehouse.settings import get_settings
from tests.data_fixtures import make_store, publish_table

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"
CROSS_JOIN = "select count(*) as n from range(1000000000) a, range(1000000000) b"
runner = CliRunner()


@pytest.fixture
def acme(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The company folder, with one silver dataset in its catalog; the environment points at it."""
    control = tmp_path / "control.db"
    shutil.copy(sqlite_template, control)
    config = tmp_path / "config"
    shutil.copytree(REPO_CONFIG, config)
    root = tmp_path / "data"
    dal = DataAccessLayer.from_url(f"sqlite:///{control}")
    try:
        publish_table(
            make_store(dal, root), "silver", "jobs", pa.table({"job_id": ["j1", "j2"]}), date(2026, 1, 1)
        )
    finally:
        dal.close()
    monkeypatch.setenv("LAKEHOUSE_DATABASE_URL", f"sqlite:///{control}")
    monkeypatch.setenv("LAKEHOUSE_DATA_ROOT", str(root))
    monkeypatch.setenv("LAKEHOUSE_CONFIG_DIR", str(config))
    monkeypatch.setenv("LAKEHOUSE_QUERIES_DIR", str(tmp_path / "queries"))
    get_settings.cache_clear()
    yield root / "acme"
    get_settings.cache_clear()


def _query(*args: str) -> Result:
    return runner.invoke(app, ["query", "-c", "acme", *args])


def _ok(*args: str) -> Result:
    result = _query(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def _error(*args: str, exit_code: int = 1) -> str:
    result = _query(*args)
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    [line] = result.stderr.strip().splitlines()
    return line


def _set_query_config(acme: Path, section: dict[str, object]) -> None:
    path = acme.parent.parent / "config" / "global.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["query"] = section
    path.write_text(json.dumps(config), encoding="utf-8")


def _setting(*args: str) -> str:
    rows = json.loads(_ok("select current_setting('memory_limit') as m", "-o", "json", *args).stdout)
    return str(rows[0]["m"])


@pytest.mark.usefixtures("acme")
def test_timeout_flag_stops_a_long_query() -> None:
    started = time.monotonic()

    assert _error(CROSS_JOIN, "--timeout", "1") == (
        "error: query stopped after 1 s (query.timeout_seconds / --timeout)"
    )
    assert time.monotonic() - started < 15


def test_timeout_comes_from_the_config(acme: Path) -> None:
    _set_query_config(acme, {"timeout_seconds": 0.5})

    assert _error(CROSS_JOIN) == "error: query stopped after 0.5 s (query.timeout_seconds / --timeout)"


def test_memory_limit_from_the_config_and_the_flag(acme: Path) -> None:
    assert _setting() == "3.7 GiB"  # the shipped global.json: 4GB
    _set_query_config(acme, {"memory_limit": "200MB"})
    assert _setting() == "190.7 MiB"
    assert _setting("--memory-limit", "100MB") == "95.3 MiB"


def test_defaults_apply_without_a_global_json(
    acme: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAKEHOUSE_CONFIG_DIR", str(tmp_path / "no-config"))
    get_settings.cache_clear()

    assert _setting() == "3.7 GiB"


@pytest.mark.usefixtures("acme")
@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        (
            "--memory-limit",
            "lots",
            "error: invalid --memory-limit 'lots': expected a size such as 4GB or 512MiB",
        ),
        ("--timeout", "-1", "error: invalid --timeout -1.0: expected 0 or more seconds"),
    ],
)
def test_invalid_limits_are_one_line_usage_errors(flag: str, value: str, message: str) -> None:
    assert _error("select 1", flag, value, exit_code=2) == message


@pytest.mark.usefixtures("acme")
def test_a_query_over_the_memory_limit_names_the_limit() -> None:
    line = _error("select list(range::varchar) as l from range(20000000)", "--memory-limit", "20MB")
    assert line.startswith("error: query failed: Out of Memory Error")
    assert line.endswith("it may use at most 20MB (query.memory_limit / --memory-limit)")


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json"])
def test_out_streams_the_whole_result_to_a_file(acme: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / "out" / f"numbers.{fmt}"

    result = _ok("select range as n, 'x' || range as s from range(300000)", "-o", fmt, "--out", str(out))

    assert "wrote 300000 row(s)" in result.stdout
    con = duckdb.connect()
    try:
        reader = {"parquet": "read_parquet", "csv": "read_csv", "json": "read_json"}[fmt]
        assert con.execute(f"select count(*), max(n), max(s) from {reader}('{out}')").fetchone() == (
            300000,
            299999,
            "x99999",
        )
    finally:
        con.close()
    assert [p.name for p in out.parent.iterdir()] == [out.name]


@pytest.mark.usefixtures("acme")
def test_terminal_table_of_a_huge_result_stops_early() -> None:
    started = time.monotonic()

    result = _ok("select range as n from range(100000000000)")

    assert "showing the first 50 rows (more not shown)" in result.stdout
    assert time.monotonic() - started < 10


@pytest.mark.usefixtures("acme")
def test_views_answer_max_dt_and_internal_errors_are_one_line() -> None:
    assert json.loads(_ok("select max(dt) as m from silver.jobs", "-o", "json").stdout) == [
        {"m": "2026-01-01"}
    ]
    if duckdb.__version__ != "1.5.5":
        return
    file = next(Path(get_settings().data_root).glob("acme/silver/dataset=jobs/dt=*/part-*.parquet"))

    result = _query(f"select max(dt) from read_parquet(['{file}'], hive_partitioning = true)")

    assert result.exit_code == 1
    assert result.stderr.startswith("error: query failed: INTERNAL Error: Attempted to access index")
    assert len(result.stderr) < 400 and result.stderr.count("\n") == 1


@pytest.mark.usefixtures("acme")
def test_an_out_that_cannot_be_a_file_is_refused_before_the_query_runs(tmp_path: Path) -> None:
    folder = tmp_path / "results"
    folder.mkdir()
    assert _error("select 1", "--out", str(folder), "-o", "csv", exit_code=2) == (
        f"error: --out {folder} is a folder: give a file name, e.g. {folder / 'result.csv'}"
    )
    (tmp_path / "a_file").write_text("x")
    under_file = tmp_path / "a_file" / "r.csv"
    assert _error("select 1", "--out", str(under_file), exit_code=2) == (
        f"error: --out {under_file}: {under_file.parent} is a file, not a folder"
    )
    assert sorted(p.name for p in folder.iterdir()) == []  # nothing written, no temporary file
