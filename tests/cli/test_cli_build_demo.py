"""The CLI over the transform plane: `lakehouse build` failures, `events`, and `lakehouse demo` end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from lakehouse.cli.main import app
from lakehouse.settings import get_settings
from tests.build_fixtures import COMPANY, REPO, Lakehouse, cli_lakehouse, one_backend

pytestmark = [pytest.mark.slow, pytest.mark.integration]

runner = CliRunner()


def _cli(*args: str) -> Result:
    return runner.invoke(app, list(args))


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.fixture
def lake(tmp_path: Path, db_url: str, settings_env: pytest.MonkeyPatch) -> Iterator[Lakehouse]:
    yield from cli_lakehouse(tmp_path, db_url, settings_env)


@one_backend("sqlite")
def test_build_cli_reports_the_failing_node_on_one_line(lake: Lakehouse) -> None:
    (lake.project_dir / "tests" / "never_holds.sql").write_text("select 1 as broken\n")
    result = _cli("build", "--company", COMPANY)
    assert result.exit_code == 4  # data refused: a dbt test failed
    assert "Traceback" not in result.stdout + result.stderr
    # off a terminal, one progress line per dbt node, then the one error line
    *progress, line = result.stderr.strip().splitlines()
    assert progress and all(p.startswith(f"build {COMPANY}: ") for p in progress), progress
    assert any(p.startswith(f"build {COMPANY}: test never_holds fail (") for p in progress), progress
    assert line.startswith("error: build ") and "nothing published" in line
    assert "test.lakehouse.never_holds" in line
    assert result.stdout == ""  # dbt's own log goes to a file kept with the run, not to the terminal
    log = line.rsplit("(dbt log: ", 1)[1].rstrip(")")
    assert "never_holds" in (lake.store.root.resolve(log)).read_text()
    zones = {d["zone"] for d in json.loads(_cli("datasets", "-c", COMPANY, "-o", "json").stdout)}
    assert zones == {"bronze"}


@one_backend("postgres")
def test_build_and_events_cli(lake: Lakehouse) -> None:
    built = _cli("build", "--company", COMPANY, "-o", "json")
    assert built.exit_code == 0, built.stderr
    summary = json.loads(built.stdout)
    assert any(p.startswith(f"build {COMPANY}: model ") for p in built.stderr.splitlines()), built.stderr
    assert any(
        v["zone"] == "gold" and v["dataset"] == "customer_profiles" for v in summary["extraction"]["versions"]
    )
    events = json.loads(_cli("events", "list", "-c", COMPANY, "--status", "active", "-o", "json").stdout)
    detected = sum(v["detected"] for v in summary["events"].values())
    assert len(events) == min(detected, 100)
    assert all(e["status"] == "active" for e in events)

    # Nothing new: the next build publishes nothing and says which build's versions stay current.
    again = _cli("build", "--company", COMPANY)
    assert again.exit_code == 0, again.stderr
    assert f"nothing changed since build {summary['run_id']}" in again.stdout
    assert "--full-refresh builds anyway" in again.stdout
    refreshed = json.loads(_cli("build", "--company", COMPANY, "--full-refresh", "-o", "json").stdout)
    assert refreshed["unchanged_since"] is None and refreshed["versions"]
    assert refreshed["incremental_from"] is None and refreshed["files_written"] > 0

    # A late file of an old day: the next build reads only it and continues the last one.
    day = max(p for p in lake.extract.iterdir() if p.is_dir() and p.name[0].isdigit())
    late = lake.extract.parent / "late" / day.name
    late.mkdir(parents=True)
    (late / "customers.csv").write_text((day / "customers.csv").read_text() + "\n")
    assert _cli("ingest", str(late), "--company", COMPANY).exit_code == 0
    incremental = _cli("build", "--company", COMPANY)
    assert incremental.exit_code == 0, incremental.stderr
    assert f"incremental from build {refreshed['run_id']}: read 1 new bronze file(s)" in incremental.stdout


def test_demo_runs_end_to_end(tmp_path: Path, db_url: str, settings_env: pytest.MonkeyPatch) -> None:
    settings_env.chdir(tmp_path)  # as on a fresh clone: relative defaults resolve against the working dir
    settings_env.setenv("LAKEHOUSE_DATABASE_URL", db_url)
    settings_env.setenv("LAKEHOUSE_DATA_ROOT", str(tmp_path / "data"))
    settings_env.setenv("LAKEHOUSE_CONFIG_DIR", str(REPO / "config"))
    settings_env.setenv("LAKEHOUSE_DBT_PROJECT_DIR", str(REPO / "dbt_project"))
    settings_env.setenv("LAKEHOUSE_QUERIES_DIR", str(REPO / "queries"))
    first = _cli("demo", "--days", "15")
    assert first.exit_code == 0, first.stdout + first.stderr
    for expected in (
        "OK: ",
        "current dataset versions",
        "active events by type",
        "revenue by month",
        "customer_profiles",
    ):
        assert expected in first.stdout
    # the operations plane: a worker tick of the daily gc task; two sample gates ready, each announced
    # once to the file channel of the shipped config (its relative path starts at the data root)
    assert "worker tick: acme-daily-gc ok" in first.stdout
    assert "2 became ready, 2 ready, 2 notified" in first.stdout
    log = tmp_path / "data" / "_notifications" / "notifications.jsonl"
    assert [json.loads(line)["message_type"] for line in log.read_text().splitlines()] == ["ready", "ready"]
    again = _cli("demo", "--days", "15")
    assert again.exit_code == 0, again.stdout + again.stderr
    assert "nothing new (idempotent)" in again.stdout
    assert "0 became ready, 2 ready, 0 notified" in again.stdout  # never twice for the same head
    assert len(log.read_text().splitlines()) == 2
    other = _cli("demo", "--days", "20")
    assert other.exit_code == 1
    assert other.stderr.startswith("error: company 'acme' already holds the sample acme-15d-")
