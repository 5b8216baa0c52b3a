"""Recovery after a crash: holder liveness, heartbeats, runs whose process died marked failed (by gc,
``lakehouse runs`` and the next build), their leftovers removed at once, and ``lakehouse runs show``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from typer.testing import CliRunner, Result

import lakehouse.dataplane.recovery as recovery
from lakehouse.cli.main import app
from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.maintenance import Maintenance
from lakehouse.dataplane.manifest import run_manifest
from lakehouse.dataplane.recovery import recover_company
from lakehouse.dataplane.store import DatasetStore, StagedVersion
from lakehouse.db.liveness import HOLDER_LEASE, UNKNOWN_HOLDER_GRACE, holder_alive
from lakehouse.db.records import PipelineRunRecord
from lakehouse.db.types import utcnow
from lakehouse.errors import DatabaseUnavailableError
from lakehouse.processes import process_alive
from lakehouse.settings import get_settings
from tests.data_fixtures import COMPANY, REPO, files_under, publish_table
from tests.recovery_fixtures import dead_pid, kill_holder, set_holder

runner = CliRunner()
HOST = socket.gethostname()


def _run(**fields: object) -> PipelineRunRecord:
    base = PipelineRunRecord(
        run_id="r1",
        company=COMPANY,
        pipeline_name="ingest",
        stage=None,
        status="running",
        input_manifest=None,
        output_manifest=None,
        error=None,
        started_at=utcnow(),
        finished_at=None,
        holder_host=HOST,
        holder_pid=os.getpid(),
        heartbeat_at=utcnow(),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


# --- liveness --------------------------------------------------------------------------------------


def test_a_holder_on_this_host_is_alive_while_its_process_exists() -> None:
    assert holder_alive(_run())
    assert not holder_alive(_run(holder_pid=dead_pid()))
    # A pid that now belongs to a process started long after the run: the pid was reused.
    assert not holder_alive(_run(started_at=utcnow() - timedelta(days=30)))
    # The heartbeat does not matter on the holder's own host: the process table answers.
    assert holder_alive(_run(heartbeat_at=utcnow() - timedelta(days=1)))


def test_a_killed_process_not_yet_reaped_by_its_parent_is_dead() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert process_alive(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while process_alive(child.pid) and time.monotonic() < deadline:  # a zombie until waited for
            time.sleep(0.01)
        assert not process_alive(child.pid)
    finally:
        child.kill()
        child.wait()


def test_a_holder_on_another_host_is_alive_while_its_heartbeat_is_fresh() -> None:
    now = utcnow()
    elsewhere = _run(holder_host="other-host", holder_pid=1)
    assert holder_alive(replace(elsewhere, heartbeat_at=now - timedelta(seconds=30)), now=now)
    assert not holder_alive(replace(elsewhere, heartbeat_at=now - HOLDER_LEASE), now=now)
    assert holder_alive(
        replace(elsewhere, heartbeat_at=now - timedelta(minutes=5)), timedelta(minutes=10), now
    )
    # No heartbeat recorded: its start counts as one.
    stale = replace(elsewhere, heartbeat_at=None, started_at=now - timedelta(minutes=3))
    assert not holder_alive(stale, now=now)


def test_a_run_recorded_without_a_holder_falls_back_to_the_six_hour_rule() -> None:
    now = utcnow()
    old = _run(holder_host=None, holder_pid=None, heartbeat_at=None)
    assert holder_alive(replace(old, started_at=now - timedelta(hours=5)), now=now)
    assert not holder_alive(replace(old, started_at=now - UNKNOWN_HOLDER_GRACE), now=now)


# --- marking dead runs failed ----------------------------------------------------------------------


def test_reap_marks_only_runs_whose_holder_is_gone(dal: DataAccessLayer) -> None:
    alive = dal.start_pipeline_run(COMPANY, "ingest")
    killed = dal.start_pipeline_run(COMPANY, "dbt_build")
    pid = dead_pid()
    set_holder(dal, killed, pid=pid)
    far = dal.start_pipeline_run(COMPANY, "ingest")
    set_holder(dal, far, host="other-host", heartbeat_at=utcnow() - timedelta(minutes=3))
    near = dal.start_pipeline_run(COMPANY, "ingest")
    set_holder(dal, near, host="other-host", heartbeat_at=utcnow())
    finished = dal.start_pipeline_run(COMPANY, "ingest")
    set_holder(dal, finished, pid=pid)
    dal.finish_pipeline_run(finished, "success")
    elsewhere = dal.start_pipeline_run("other", "ingest")
    set_holder(dal, elsewhere, pid=pid)

    assert sorted(dal.reap_dead_runs(COMPANY, command="gc")) == sorted([killed, far])
    assert dal.reap_dead_runs(COMPANY) == []  # marked once
    error = dal.get_pipeline_run(killed).error or {}
    assert error["type"] == "ProcessDied"
    assert error["message"] == f"process died: {HOST} pid {pid} is gone (marked failed by gc)"
    assert (dal.get_pipeline_run(far).error or {})["message"].startswith("process died: other-host pid ")
    assert [dal.get_pipeline_run(r).status for r in (alive, near, finished, elsewhere)] == [
        "running",
        "running",
        "success",
        "running",
    ]
    assert dal.reap_dead_runs() == [elsewhere]  # every company


def test_a_run_not_marked_because_the_control_plane_was_down_is_marked_when_it_is_back(
    dal: DataAccessLayer, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = dal.start_pipeline_run(COMPANY, "ingest")
    kill_holder(dal, run_id)

    def down(*args: object, **kwargs: object) -> None:
        raise DatabaseUnavailableError("sqlite:///x", "connection refused")

    monkeypatch.setattr(dal, "finish_pipeline_run", down)
    with pytest.raises(DatabaseUnavailableError):
        dal.reap_dead_runs(COMPANY)
    assert dal.get_pipeline_run(run_id).status == "running"
    monkeypatch.undo()
    assert dal.reap_dead_runs(COMPANY, command="ingest") == [run_id]
    assert "marked failed by ingest" in (dal.get_pipeline_run(run_id).error or {})["message"]


def test_the_heartbeat_is_renewed_while_the_run_runs(dal: DataAccessLayer) -> None:
    run_id = dal.start_pipeline_run(COMPANY, "dbt_build")
    first = dal.get_pipeline_run(run_id).heartbeat_at
    assert first is not None
    with dal.run_heartbeat(run_id, every=0.05):
        deadline = time.monotonic() + 10
        while (dal.get_pipeline_run(run_id).heartbeat_at or first) <= first and time.monotonic() < deadline:
            time.sleep(0.05)
        beat = dal.get_pipeline_run(run_id).heartbeat_at
        assert beat is not None and beat > first
        dal.finish_pipeline_run(run_id, "success")
        last = dal.get_pipeline_run(run_id).heartbeat_at
        time.sleep(0.2)  # a finished run's heartbeat is not renewed
        assert dal.get_pipeline_run(run_id).heartbeat_at == last


def test_a_live_run_presumed_dead_elsewhere_says_so(
    dal: DataAccessLayer, caplog: pytest.LogCaptureFixture
) -> None:
    run_id = dal.start_pipeline_run(COMPANY, "ingest")
    with dal.run_heartbeat(run_id, every=0.05):
        # e.g. another host saw no heartbeat for longer than the lease (this process was suspended)
        assert dal.mark_dead(dal.get_pipeline_run(run_id), "gc")
        deadline = time.monotonic() + 10
        while "marked failed while its process still runs" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
    assert f"run {run_id} was marked failed while its process still runs" in caplog.text


# --- leftovers of dead runs go with the next gc or build, at once ----------------------------------


def _stage_leftovers(store: DatasetStore, root: Path) -> tuple[str, list[str]]:
    """A running build that wrote a part file and its _work/ folder; returns its id and those paths."""
    run_id = store.dal.start_pipeline_run(COMPANY, "dbt_build")
    staged = StagedVersion(COMPANY, "silver", "customers", run_id, "1")
    with duckdb.connect() as con:
        store.write_file(con, staged, pa.table({"id": [1]}), date(2026, 9, 30))
    work = root / COMPANY / "_work" / run_id
    (work / "target").mkdir(parents=True)
    (work / "build.duckdb").write_bytes(b"x" * 1024)
    return run_id, [staged.files[0].path, f"{COMPANY}/_work/{run_id}/"]


def test_gc_removes_the_work_folder_and_files_of_a_dead_run_at_once(store: DatasetStore, root: Path) -> None:
    publish_table(store, "silver", "customers", pa.table({"id": [0]}))
    alive, alive_paths = _stage_leftovers(store, root)
    dead, dead_paths = _stage_leftovers(store, root)
    kill_holder(store.dal, dead)

    report = store.maintenance.gc(COMPANY)
    assert report.removed_files == sorted(dead_paths)
    assert report.abandoned_runs == [dead]
    assert store.dal.get_pipeline_run(dead).status == "failed"
    assert store.dal.get_pipeline_run(alive).status == "running"
    assert (root / alive_paths[0]).exists() and (root / alive_paths[1]).is_dir()
    assert not (root / dead_paths[0]).exists() and not (root / dead_paths[1]).exists()


def test_recover_company_is_the_crash_leftover_part_of_gc(store: DatasetStore, root: Path) -> None:
    for n in range(3):  # old versions stay: a build expires nothing
        publish_table(store, "silver", "customers", pa.table({"id": [n]}))
    dead, dead_paths = _stage_leftovers(store, root)
    kill_holder(store.dal, dead)
    before = set(files_under(root))

    assert recover_company(store, COMPANY, command="build") == [dead]
    assert "marked failed by build" in (store.dal.get_pipeline_run(dead).error or {})["message"]
    assert set(files_under(root)) == before - {dead_paths[0], f"{COMPANY}/_work/{dead}/build.duckdb"}
    assert not (root / dead_paths[1]).exists()
    assert len(store.versions(COMPANY, "silver", "customers")) == 3


def test_recover_company_logs_rather_than_fails_when_housekeeping_fails(
    store: DatasetStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(13, "Permission denied", "x")

    monkeypatch.setattr(Maintenance, "gc", broken)
    assert recover_company(store, COMPANY) == []
    assert "could not remove the leftovers of crashed runs" in caplog.text


def _killed_after_commit(store: DatasetStore, monkeypatch: pytest.MonkeyPatch) -> str:
    """A run whose process committed a version, then died before its catalog refresh and finish."""
    run_id = store.dal.start_pipeline_run(COMPANY, "ingest", stage="bronze")
    staged = StagedVersion(COMPANY, "bronze", "jobs", run_id, "1")
    with duckdb.connect() as con:
        store.write_file(con, staged, pa.table({"id": [1, 2]}), date(2026, 9, 30))
    with monkeypatch.context() as m:
        m.setattr(store, "refresh_catalog", lambda company: None)  # killed before the refresh
        store.publish([staged])
    kill_holder(store.dal, run_id)
    return run_id


def _catalog_count(root: Path, view: str) -> int | None:
    catalog = root / COMPANY / "catalog.duckdb"
    with duckdb.connect(str(catalog), read_only=True) as con:
        try:
            return int(con.execute(f"select count(*) from {view}").fetchone()[0])  # type: ignore[index]
        except duckdb.CatalogException:
            return None


def test_the_recovery_pass_refreshes_the_catalog_of_a_run_killed_after_its_commit(
    store: DatasetStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_table(store, "silver", "customers", pa.table({"id": [0]}))
    dead = _killed_after_commit(store, monkeypatch)
    assert _catalog_count(root, "bronze.jobs") is None  # the catalog lags the control plane

    assert recovery.recover_runs(store, COMPANY, command="runs") == [dead]
    assert _catalog_count(root, "bronze.jobs") == 2
    error = store.dal.get_pipeline_run(dead).error or {}
    [tag] = [v.version_tag for v in store.versions(COMPANY, "bronze", "jobs")]
    assert error["published_versions"] == [f"bronze.jobs@{tag}"]
    assert "it had committed 1 version(s), which stay published" in error["message"]


# --- the CLI ---------------------------------------------------------------------------------------


@pytest.fixture
def env(db_url: str, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LAKEHOUSE_DATABASE_URL", db_url)
    monkeypatch.setenv("LAKEHOUSE_DATA_ROOT", str(root))
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    monkeypatch.setenv("LAKEHOUSE_CONFIG_DIR", str(config))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _ok(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


@pytest.mark.usefixtures("env")
def test_runs_marks_a_run_whose_process_died_failed(dal: DataAccessLayer) -> None:
    alive = dal.start_pipeline_run(COMPANY, "ingest")
    dead = dal.start_pipeline_run(COMPANY, "dbt_build")
    kill_holder(dal, dead)

    result = _ok("runs", "-c", COMPANY, "-o", "json")
    by_id = {r["run_id"]: r for r in json.loads(result.stdout)}
    assert by_id[alive]["status"] == "running"
    assert by_id[dead]["status"] == "failed"
    assert by_id[dead]["error"].endswith("is gone (marked failed by runs)")
    assert f"marked dbt_build run {dead} failed" in result.stderr  # one warning line
    assert "Traceback" not in result.stderr


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize("command", ["runs", "gc"])
def test_runs_and_gc_refresh_a_catalog_left_stale_by_a_kill(
    command: str, store: DatasetStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_table(store, "silver", "customers", pa.table({"id": [0]}))
    dead = _killed_after_commit(store, monkeypatch)
    _ok(command, "-c", COMPANY)
    assert _catalog_count(root, "bronze.jobs") == 2
    assert store.dal.get_pipeline_run(dead).status == "failed"


@pytest.mark.usefixtures("env")
def test_gc_marks_a_dead_run_failed_from_the_command_line(dal: DataAccessLayer) -> None:
    dead = dal.start_pipeline_run(COMPANY, "ingest")
    kill_holder(dal, dead)
    result = _ok("gc", "-c", COMPANY)
    assert f"marked run {dead} failed: its process died" in result.stdout
    assert dal.get_pipeline_run(dead).status == "failed"


def _build_run(dal: DataAccessLayer) -> str:
    run_id = dal.start_pipeline_run(
        COMPANY,
        "dbt_build",
        stage="silver_gold",
        input_manifest={
            "as_of": "2026-09-30",
            "select": [],
            "bronze_versions": [{"dataset": "jobs", "rows": 3}],
        },
    )
    files = [
        {"path": f"{COMPANY}/silver/x.parquet", "row_count": 3, "size_bytes": 10, "checksum": "sha256:ab"}
    ]
    manifest = run_manifest(
        run_id=run_id,
        company=COMPANY,
        pipeline="dbt_build",
        inputs=[{"dataset": "jobs", "rows": 3}],
        outputs=[{"zone": "silver", "dataset": "customers", "schema_version": "1", "files": files}],
        as_of="2026-09-30",
        dbt_invocation_id="inv-1",
        nodes=[
            {
                "unique_id": "model.lakehouse.customers",
                "status": "success",
                "execution_time": 0.1,
                "message": "OK",
            },
            {
                "unique_id": "test.lakehouse.not_null [bold]",
                "status": "pass",
                "execution_time": 0.0,
                "message": ":x:",
            },
        ],
    )
    dal.finish_pipeline_run(
        run_id, "failed", manifests=manifest, error={"type": "T", "message": "late [red]x[/red]"}
    )
    return run_id


@pytest.mark.usefixtures("env")
def test_runs_show_prints_one_run_whole(store: DatasetStore, dal: DataAccessLayer) -> None:
    run_id = _build_run(dal)
    published = publish_table(store, "silver", "customers", pa.table({"id": [1]}))

    text = _ok("runs", "show", run_id).stdout
    for expected in (
        f"run {run_id}: dbt_build (silver_gold) of {COMPANY}",
        "status     failed",
        f"holder     host {HOST} pid {os.getpid()}",
        "error      T: late [red]x[/red]",
        "as_of: 2026-09-30",
        "inputs: bronze_versions",
        "outputs",
        f"{COMPANY}/silver/x.parquet",
        "dbt nodes",
        "model.lakehouse.customers",
        "test.lakehouse.not_null [bold]",
        ":x:",
        "dbt_invocation_id: inv-1",
    ):
        assert expected in text, (expected, text)

    document = json.loads(_ok("runs", "show", run_id, "-o", "json").stdout)
    assert document["run_id"] == run_id
    assert document["holder_pid"] == os.getpid() and document["holder_host"] == HOST
    assert document["output_manifest"]["nodes"][0]["unique_id"] == "model.lakehouse.customers"
    assert document["error"] == {"type": "T", "message": "late [red]x[/red]"}
    assert document["versions"] == []

    # A run's own versions are listed with it.
    version_run = published.produced_by_run_id
    shown = json.loads(_ok("runs", "show", version_run, "-o", "json").stdout)
    assert [v["version_tag"] for v in shown["versions"]] == [published.version_tag]
    assert "versions" in _ok("runs", "show", version_run).stdout


@pytest.mark.usefixtures("env")
def test_runs_show_marks_a_dead_run_failed_and_names_an_unknown_run(dal: DataAccessLayer) -> None:
    dead = dal.start_pipeline_run(COMPANY, "ingest")
    kill_holder(dal, dead)
    text = _ok("runs", "show", dead).stdout
    assert "status     failed" in text and "ProcessDied: process died:" in text
    result = runner.invoke(app, ["runs", "show", "20990101T000000000000Z-00000000"])
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: no pipeline run '20990101T000000000000Z-00000000'"
