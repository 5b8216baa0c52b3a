"""dbt's own tools for users: `lakehouse dbt -- ARGS` in a sandbox of a company's data, `lakehouse docs`."""

from __future__ import annotations

import _thread
import json
import shlex
import threading
import urllib.request
from collections.abc import Iterator
from datetime import date
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dbt.cli.main import dbtRunner
from typer.testing import CliRunner, Result

from lakehouse.cli import dbt_cmd
from lakehouse.cli.main import app
from lakehouse.transform.build import dbt_vars
from lakehouse.transform.dbt_dev import sandbox_lock
from lakehouse.transform.dbt_runner import release_dbt_resources, temporary_environ
from tests.build_fixtures import COMPANY, Lakehouse, cli_lakehouse, one_backend

pytestmark = [pytest.mark.slow, pytest.mark.integration]

runner = CliRunner()
# what dbt may write into a project directory; none of it may appear in the project
PROJECT_ARTIFACTS = ("target", "logs", "dbt_packages", ".user.yml", "package-lock.yml")


def _cli(*args: str) -> Result:
    return runner.invoke(app, list(args))


@pytest.fixture
def lake(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lakehouse]:
    yield from cli_lakehouse(tmp_path, db_url, monkeypatch)


def _sandbox(lake: Lakehouse, kind: str = "dbt") -> Path:
    return lake.store.root.company_dir(COMPANY) / "_dev" / kind


def _assert_nothing_published(lake: Lakehouse) -> None:
    assert {v.zone for v in lake.dal.list_dataset_versions(COMPANY)} == {"bronze"}
    assert {r.pipeline_name for r in lake.dal.list_pipeline_runs(COMPANY, None, 100)} == {"ingest"}
    assert not [name for name in PROJECT_ARTIFACTS if (lake.project_dir / name).exists()]


def _models(project_dir: Path) -> set[str]:
    return {f"model.lakehouse.{p.stem}" for p in (project_dir / "models").rglob("*.sql")}


@one_backend("sqlite")
def test_dbt_runs_any_command_in_a_sandbox_with_dbt_exit_codes(lake: Lakehouse) -> None:
    built = _cli("dbt", "--company", COMPANY, "--", "build", "-s", "+customers")
    assert built.exit_code == 0, built.stdout + built.stderr
    sandbox = _sandbox(lake)
    db_path, target = sandbox / "dev.duckdb", sandbox / "target"
    assert f"database {db_path} (prepared)" in built.stderr
    assert f"target {target}" in built.stderr and str(sandbox / "logs" / "dbt.log") in built.stderr
    assert (target / "run_results.json").is_file() and (sandbox / "logs" / "dbt.log").is_file()
    results = json.loads((target / "run_results.json").read_text())["results"]
    assert {r["unique_id"] for r in results} >= {"model.lakehouse.customers", "model.lakehouse.stg_customers"}
    assert {r["status"] for r in results} <= {"success", "pass"}
    # cautious indirect selection, as `build --select`: tests reading unselected models are left out
    assert not any("relationships_jobs_customer_id" in r["unique_id"] for r in results)
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        customers = con.execute("select count(*) from silver.customers").fetchall()[0][0]
    finally:
        con.close()
    assert customers > 0
    _assert_nothing_published(lake)

    # the scratch database is kept between commands: the model built above is there to test
    tested = _cli("dbt", "-c", COMPANY, "--", "test", "-s", "customers")
    assert tested.exit_code == 0, tested.stdout + tested.stderr
    assert "(reused)" in tested.stderr

    # a failing test: dbt's exit code 1; a usage error: 2, said on stderr
    (lake.project_dir / "tests" / "never_holds.sql").write_text("select 1 as broken\n")
    failed = _cli("dbt", "-c", COMPANY, "--", "test", "-s", "never_holds")
    assert failed.exit_code == 1, failed.stdout + failed.stderr
    usage = _cli("dbt", "-c", COMPANY, "--", "build", "--no-such-flag")
    assert usage.exit_code == 2
    assert "error: dbt: No such option" in usage.stderr
    bare = _cli("dbt", "-c", COMPANY)
    assert bare.exit_code == 2
    assert (
        bare.stderr.strip() == "error: give a dbt command after --, e.g. lakehouse dbt -- ls (or --print-env)"
    )

    # the sandbox sets where dbt reads and writes
    refused = _cli("dbt", "-c", COMPANY, "--", "build", "--target-path", str(lake.project_dir / "target"))
    assert refused.exit_code == 2  # a usage error
    assert refused.stderr.startswith("error: --target-path is set by the sandbox")

    # after a publish, the sandbox is prepared again over the published versions
    lake.builder().run(COMPANY, select=["customers"], extract=False)
    again = _cli("dbt", "-c", COMPANY, "--", "ls", "-s", "customers")
    assert again.exit_code == 0, again.stdout + again.stderr
    assert "note: the published data or the as-of changed" in again.stderr and "(prepared)" in again.stderr
    assert "lakehouse.silver.customers" in again.stdout
    assert not [name for name in PROJECT_ARTIFACTS if (lake.project_dir / name).exists()]


@one_backend("postgres")
def test_dbt_gets_the_vars_of_a_build_and_prints_the_env_for_plain_dbt(lake: Lakehouse) -> None:
    lake.set_event_parameter("unsold_estimate", "min_total", 4321.5)
    compiled = _cli("dbt", "-c", COMPANY, "--", "compile", "-s", "event_facts")
    assert compiled.exit_code == 0, compiled.stdout + compiled.stderr
    sql = (
        _sandbox(lake) / "target" / "compiled" / "lakehouse" / "models" / "gold" / "event_facts.sql"
    ).read_text()
    assert "4321.5" in sql  # the threshold of config/events/unsold_estimate.json
    assert f"'{COMPANY}|unsold_estimate|estimate|'" in sql

    # --vars on the command line are merged over the sandbox's
    other = _cli("dbt", "-c", COMPANY, "--", "compile", "-s", "event_facts", "--vars", "{company: other-co}")
    assert other.exit_code == 0, other.stdout + other.stderr
    sql = (
        _sandbox(lake) / "target" / "compiled" / "lakehouse" / "models" / "gold" / "event_facts.sql"
    ).read_text()
    assert "'other-co|unsold_estimate|estimate|'" in sql and "4321.5" in sql

    printed = _cli("dbt", "-c", COMPANY, "--print-env")
    assert printed.exit_code == 0, printed.stderr
    env: dict[str, str] = {}
    for line in printed.stdout.splitlines():
        if line.startswith("export "):
            name, value = line.removeprefix("export ").split("=", 1)
            [env[name]] = shlex.split(value)
    sandbox = _sandbox(lake)
    assert env["LAKEHOUSE_DBT_DB_PATH"] == str(sandbox / "dev.duckdb")
    assert env["DBT_TARGET_PATH"] == str(sandbox / "target")
    assert env["DBT_PROJECT_DIR"] == env["DBT_PROFILES_DIR"] == str(lake.project_dir)
    as_of = json.loads(env["LAKEHOUSE_DBT_VARS"])["as_of"]
    assert json.loads(env["LAKEHOUSE_DBT_VARS"]) == dbt_vars(
        lake.config(), COMPANY, date.fromisoformat(as_of)
    )

    # plain dbt with that environment (what `eval "$(lakehouse dbt -c acme --print-env)"` sets)
    with temporary_environ(env):
        try:
            listed = dbtRunner().invoke(["ls", "-s", "customers", "--vars", env["LAKEHOUSE_DBT_VARS"]])
        finally:
            release_dbt_resources()
    assert listed.success, listed.exception
    assert not [name for name in PROJECT_ARTIFACTS if (lake.project_dir / name).exists()]
    _assert_nothing_published(lake)

    # one command at a time per sandbox (DuckDB allows one writer)
    with sandbox_lock(sandbox, COMPANY):
        busy = _cli("dbt", "-c", COMPANY, "--", "ls")
    assert busy.exit_code == 3  # as a lock held by another process
    assert busy.stderr.startswith(f"error: the dbt sandbox {sandbox} of 'acme' is in use (pid ")

    # a company with nothing ingested gets empty, typed bronze views
    empty = _cli("dbt", "-c", "newco", "--", "build", "-s", "stg_customers")
    assert empty.exit_code == 0, empty.stdout + empty.stderr
    assert "note: company 'newco' has no bronze data yet" in empty.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_docs_generates_and_serves_the_site_of_every_model(
    lake: Lakehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a model added to the project is in the docs of the current project
    (lake.project_dir / "models" / "gold" / "jobs_per_unit.sql").write_text(
        "select business_unit, count(*) as job_count from {{ ref('jobs') }} group by business_unit\n"
    )
    servers: list[ThreadingHTTPServer] = []
    real_server = dbt_cmd.docs_server

    def capture(folder: Path, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
        server = real_server(folder, port, host)
        servers.append(server)
        return server

    monkeypatch.setattr(dbt_cmd, "docs_server", capture)
    fetched: dict[str, Any] = {}

    def browse_then_ctrl_c() -> None:
        """Once the site is served: fetch its pages, then interrupt the command as Ctrl-C would."""
        try:
            for _ in range(1200):
                if servers:
                    break
                threading.Event().wait(0.1)
            else:
                return
            host, port = servers[0].server_address[:2]
            for name in ("index.html", "manifest.json", "catalog.json"):
                with urllib.request.urlopen(f"http://{host!s}:{port}/{name}", timeout=30) as response:
                    fetched[name] = (response.status, response.read())
        finally:
            if servers:
                threading.Event().wait(0.6)  # let serve_forever start its loop
                _thread.interrupt_main()

    browser = threading.Thread(target=browse_then_ctrl_c, daemon=True)
    browser.start()
    served = _cli("docs", "--company", COMPANY, "--serve", "--port", "0", "-o", "json")
    browser.join(timeout=60)
    assert served.exit_code == 0, served.stdout + served.stderr
    assert "stopped" in served.stderr
    assert servers and servers[0].server_address[0] == "127.0.0.1"

    paths = json.loads(served.stdout)
    target = _sandbox(lake, "docs") / "target"
    assert paths["index"] == str(target / "index.html") and Path(paths["static_index"]).is_file()
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    models = _models(lake.project_dir)
    assert "model.lakehouse.jobs_per_unit" in models and "model.lakehouse.stg_customers" in models
    assert models <= set(manifest["nodes"])  # the lineage graph is built from the manifest
    assert models <= set(catalog["nodes"])  # and every model's columns are in the catalog
    assert "job_count" in {c.lower() for c in catalog["nodes"]["model.lakehouse.jobs_per_unit"]["columns"]}
    assert {"source.lakehouse.bronze.customers"} <= set(manifest["sources"])

    assert {name: status for name, (status, _) in fetched.items()} == {
        "index.html": 200,
        "manifest.json": 200,
        "catalog.json": 200,
    }
    assert json.loads(fetched["catalog.json"][1])["nodes"].keys() == catalog["nodes"].keys()
    _assert_nothing_published(lake)
