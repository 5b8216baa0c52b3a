"""``lakehouse scheduler``: add (checked, naming the field), list, show, update, pause, resume, delete,
and a worker pass (``run --once``) running a real ingest task from a drop folder, on each backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_fixtures import as_json, cli, ok, one_line_error
from tests.data_fixtures import write_jobs

pytestmark = pytest.mark.usefixtures("env")


def test_add_list_show_update_pause_resume_delete() -> None:
    added = as_json(
        ok(
            "scheduler",
            "add",
            "acme-gc",
            "--type",
            "gc",
            "--cron",
            "30 2 * * *",
            "--arg",
            "keep=3",
            "-o",
            "json",
        )
    )
    assert added["timezone"] == "America/Chicago"  # the company's zone from global.json
    assert (added["status"], added["config"], added["schedule"]) == ("active", {"keep": 3}, "cron 30 2 * * *")
    assert added["next_run_at"] is not None

    [listed] = as_json(ok("scheduler", "list", "-o", "json"))
    assert listed["task_key"] == "acme-gc"
    assert "acme-gc" in ok("scheduler", "list").stdout

    updated = as_json(
        ok("scheduler", "update", "acme-gc", "--every", "1h", "--arg", "dry_run=true", "-o", "json")
    )
    assert updated["schedule"] == "interval 1h" and updated["config"] == {"keep": 3, "dry_run": True}

    assert as_json(ok("scheduler", "pause", "acme-gc", "-o", "json"))["status"] == "paused"
    assert as_json(ok("scheduler", "resume", "acme-gc", "-o", "json"))["status"] == "active"
    assert as_json(ok("scheduler", "delete", "acme-gc", "-o", "json"))["status"] == "deleted"
    assert as_json(ok("scheduler", "list", "-o", "json")) == []
    assert [t["status"] for t in as_json(ok("scheduler", "list", "--all", "-o", "json"))] == ["deleted"]
    shown = as_json(ok("scheduler", "show", "acme-gc", "-o", "json"))
    assert shown["runs"] == [] and shown["status"] == "deleted"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--type", "gc", "--cron", "61 * * * *"], "schedule_expr"),
        (["--type", "gc", "--cron", "* * *"], "schedule_expr"),
        (["--type", "gc", "--every", "5m", "--timezone", "Mars/Olympus"], "timezone"),
        (["--type", "gc", "--every", "fortnightly"], "schedule_expr"),
        (["--type", "gc", "--every", "1h", "--arg", "keep=0"], "config_json.keep"),
        (["--type", "gc", "--every", "1h", "--arg", "colour=red"], "config_json.colour"),
        (["--type", "sweep", "--every", "1h"], "task_type"),
        (["--type", "gc"], "--cron"),
        (["--type", "gc", "--every", "1h", "--cron", "0 3 * * *"], "one of --cron"),
        (["--type", "gc", "--every", "1h", "--config", "[1]"], "--config"),
    ],
)
def test_add_refuses_a_bad_task_naming_the_field(args: list[str], field: str) -> None:
    line = one_line_error(cli("scheduler", "add", "t1", *args), exit_code=2)
    assert field in line
    assert as_json(ok("scheduler", "list", "-o", "json")) == []


def test_a_taken_key_and_an_unknown_key_are_one_line_errors() -> None:
    ok("scheduler", "add", "acme-gc", "--type", "gc", "--every", "1h")
    assert "exists already" in one_line_error(
        cli("scheduler", "add", "acme-gc", "--type", "gc", "--every", "1h"), 2
    )
    assert "nightly" in one_line_error(cli("scheduler", "show", "nightly"))


def test_a_worker_pass_ingests_each_new_day_of_a_drop_folder_once(tmp_path: Path) -> None:
    drop = tmp_path / "inbox"
    write_jobs(drop, "2026-11-01", ["J1", "J2"])
    ok(
        "scheduler",
        "add",
        "acme-ingest",
        "--type",
        "ingest",
        "--at",
        "2026-11-01T00:00",
        "--arg",
        f"drop_folder={drop}",
    )

    first = ok("scheduler", "run", "--once", "-o", "json")

    [run] = as_json(first)["runs"]
    assert run["success"] and "ingested 1 file(s), 2 row(s)" in run["message"], run
    shown = as_json(ok("scheduler", "show", "acme-ingest", "-o", "json"))
    assert shown["status"] == "done" and [r["result"] for r in shown["runs"]] == ["ok"]
    # The scheduler run's id is the id of the pipeline run it started.
    pipeline = as_json(ok("runs", "show", run["run_id"], "-o", "json"))
    assert (pipeline["pipeline_name"], pipeline["status"]) == ("ingest", "success")

    # A later pass over the same folder: the new day is ingested, the old one skipped.
    ok(
        "scheduler",
        "add",
        "acme-ingest-2",
        "--type",
        "ingest",
        "--at",
        "2026-11-02T00:00",
        "--arg",
        f"drop_folder={drop}",
    )
    write_jobs(drop, "2026-11-02", ["J3"])
    [again] = as_json(ok("scheduler", "run", "--once", "-o", "json"))["runs"]
    assert again["success"] and "ingested 1 file(s), 1 row(s)" in again["message"]
    assert as_json(ok("scheduler", "run", "--once", "-o", "json"))["runs"] == []


def test_a_second_worker_on_sqlite_is_refused_before_it_starts(db_url: str) -> None:
    from lakehouse.dal import DataAccessLayer
    from lakehouse.ops.worker import SQLITE_WORKER_LOCK

    dal = DataAccessLayer.from_url(db_url)
    lock = dal.named_lock(SQLITE_WORKER_LOCK)
    assert lock.try_acquire()  # as a running worker holds it
    try:
        second = cli("scheduler", "run", "--worker-id", "second", "--once")
        if dal.sqlite_file is None:  # PostgreSQL: claims keep workers apart; no lock is needed
            assert second.exit_code == 0, second.stderr
            return
        line = one_line_error(second, 3)  # the refusal alone: no "started" line before it
        assert "another scheduler worker is running" in line and str(dal.sqlite_file) in line
    finally:
        lock.release()
        dal.close()
