"""The data-plane CLI (``lakehouse ingest/datasets/runs/verify/gc/query``) and ``lakehouse.read_dataset``,
driven through the settings of the environment, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

import lakehouse
from lakehouse.dal import DataAccessLayer
from lakehouse.errors import InvalidNameError
from lakehouse.settings import get_settings
from tests.cli_fixtures import as_json, cli, ok, one_line_error
from tests.data_fixtures import (
    COMPANY,
    JOBS_HEADER,
    data_files,
    files_under,
    flip_byte,
    job_row,
    make_store,
    publish_many,
    write_csv,
    write_jobs,
)


def _two_days(src: Path) -> list[Path]:
    return [write_jobs(src, "2026-09-29", ["J1", "J2"]), write_jobs(src, "2026-09-30", ["J3"])]


@pytest.mark.usefixtures("env")
def test_ingest_prints_a_summary_and_a_rerun_is_a_no_op(src: Path, root: Path) -> None:
    _two_days(src)
    result = ok("ingest", str(src), "--company", COMPANY)
    [run] = as_json(ok("runs", "-c", COMPANY, "-o", "json"))
    assert run["status"] == "success" and run["pipeline"] == "ingest"
    assert f"run {run['run_id']}: 2 file(s), 3 row(s) ingested" in result.stdout
    assert "published bronze versions" in result.stdout
    assert "jobs" in result.stdout
    assert result.stderr == ""

    again = ok("ingest", str(src), "-c", COMPANY)
    assert "nothing to ingest: every file was ingested before (no-op)" in again.stdout
    assert again.stdout.count(f"already ingested by run {run['run_id']}") == 2
    assert len(as_json(ok("runs", "-c", COMPANY, "-o", "json"))) == 1

    [dataset] = as_json(ok("datasets", "-c", COMPANY, "-o", "json"))
    assert dataset | {"created_at": None} == {
        "zone": "bronze",
        "dataset": "jobs",
        "as_of": "2026-09-30",  # a bronze dataset's newest dt
        "backfills": 0,
        "current": run["run_id"],
        "schema_version": "1",
        "versions": 1,
        "rows": 3,
        "created_at": None,
    }
    text = ok("datasets", "-c", COMPANY).stdout
    assert text.startswith("datasets of acme") and "jobs" in text


@pytest.mark.usefixtures("env")
def test_an_ingest_whose_catalog_refresh_fails_exits_1_and_the_rerun_refreshes_it(
    src: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk during the catalog refresh after the commit: the versions stay published, the
    command says the catalog is behind (exit 1), and the rerun (a no-op) brings it up to date."""
    import lakehouse.query.catalog_hook as datasets_module

    write_jobs(src, "2026-09-29", ["J1", "J2"])
    ok("ingest", str(src), "-c", COMPANY)
    write_jobs(src, "2026-09-30", ["J3"])
    real = datasets_module.write_catalog

    def full_disk(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device", str(root / COMPANY / "catalog.duckdb"))

    monkeypatch.setattr(datasets_module, "write_catalog", full_disk)
    line = one_line_error(cli("ingest", str(src), "-c", COMPANY))
    assert line.startswith(f"error: committed, but the catalog {root / COMPANY / 'catalog.duckdb'} could not")
    assert "no space left on" in line and f"lakehouse catalog -c {COMPANY}" in line
    assert [r["status"] for r in as_json(ok("runs", "-c", COMPANY, "-o", "json"))] == ["success"] * 2
    catalog = root / COMPANY / "catalog.duckdb"

    def catalog_rows() -> int:
        with duckdb.connect(str(catalog), read_only=True) as con:
            return int(con.execute("select count(*) from bronze.jobs").fetchone()[0])  # type: ignore[index]

    assert catalog_rows() == 2  # behind the control plane

    monkeypatch.setattr(datasets_module, "write_catalog", real)
    assert "nothing to ingest" in ok("ingest", str(src), "-c", COMPANY).stdout
    assert catalog_rows() == 3


@pytest.mark.usefixtures("env")
def test_ingest_json_output_and_quarantine(src: Path, root: Path) -> None:
    path = write_csv(
        src / "2026-09-30" / "jobs.csv",
        JOBS_HEADER,
        [job_row("J1"), job_row("J2", status="lost"), job_row("J3")],
    )
    summary = as_json(ok("ingest", str(path), "-c", COMPANY, "--on-error", "quarantine", "--output", "json"))
    assert summary["files_ingested"] == 1
    assert summary["files_skipped"] == 0
    assert summary["rows"] == 2
    assert summary["rejected_rows"] == 1
    [rejects] = summary["rejects_files"]
    assert rejects.startswith(
        f"{COMPANY}/bronze/_rejects/dataset=jobs/dt=2026-09-30/rejects-{summary['run_id']}-"
    )
    assert summary["versions"] == [
        {"zone": "bronze", "dataset": "jobs", "version": summary["run_id"], "rows": 2}
    ]

    day2 = write_csv(
        src / "2026-10-01" / "jobs.csv", JOBS_HEADER, [job_row("J4"), job_row("J5", customer_id="")]
    )
    text = ok("ingest", str(day2), "-c", COMPANY, "--on-error", "quarantine").stdout
    # The path printed is one a user can open from anywhere.
    assert (
        f": 1 file(s), 1 row(s) ingested, 1 row(s) quarantined in {root}/acme/bronze/_rejects/dataset=jobs/dt=2026-10-01/"
        in text
    )
    [printed] = [w for w in text.split() if w.endswith(".jsonl")]
    assert Path(printed).is_absolute() and Path(printed).is_file()


@pytest.mark.usefixtures("env")
def test_errors_are_one_line_on_stderr_with_exit_1(src: Path, root: Path) -> None:
    good = write_jobs(src, "2026-09-29", ["J1"])
    for args, message in [
        (["--company", "Acme"], "error: invalid company name 'Acme'"),
        (["-c", "../x"], "error: invalid company name '../x'"),
        (["-c", COMPANY, "--dataset", "../x"], "error: invalid dataset name '../x'"),
        (["-c", COMPANY, "--dataset", "/etc"], "error: invalid dataset name '/etc'"),
        (["-c", COMPANY, "--dataset", "a b"], "error: invalid dataset name 'a b'"),
    ]:
        assert one_line_error(cli("ingest", str(good), *args)).startswith(message), args
    assert one_line_error(cli("ingest", str(good), "-c", COMPANY, "--on-error", "skip"), exit_code=2) == (
        "error: --on-error must be abort or quarantine, not 'skip'"
    )
    assert one_line_error(cli("ingest", str(good), "-c", COMPANY, "--dt", "2026-13-01"), exit_code=2) == (
        "error: --dt '2026-13-01' is not a date: use YYYY-MM-DD"
    )
    assert files_under(root) == []

    assert one_line_error(cli("ingest", str(src / "nope"), "-c", COMPANY)) == (
        f"error: {src / 'nope'}: no such file or folder"
    )
    bad = write_csv(
        src / "2026-09-30" / "jobs.csv", JOBS_HEADER, [job_row("J2"), job_row("J3", job_total="x")]
    )
    line = one_line_error(cli("ingest", str(src), "-c", COMPANY), exit_code=4)  # data refused
    assert line.startswith(f"error: {bad}, line 3, column 'job_total': bad type: expected DECIMAL(12,2)")
    assert data_files(root) == []
    [run] = as_json(ok("runs", "-c", COMPANY, "-o", "json"))
    assert run["status"] == "failed"
    assert run["error"] == line.removeprefix("error: ")

    # read commands check the company name, and a company with nothing published does not verify OK
    for command in ("datasets", "runs", "verify", "gc"):
        assert one_line_error(cli(command, "-c", "../x")).startswith("error: invalid company name '../x'")
    # an unknown company is a usage error naming the known ones (exit 2), not an empty company
    for command in (["verify"], ["datasets"], ["runs"], ["gc"], ["catalog"], ["query", "select 1"]):
        assert one_line_error(cli(*command, "-c", "nosuch"), exit_code=2) == (
            "error: no company 'nosuch' (known: acme)"
        ), command
    assert one_line_error(cli("query", "-c", COMPANY, "select 1")).startswith(
        "error: company 'acme' has nothing published yet"
    )


@pytest.mark.usefixtures("env")
def test_query_reads_the_catalog_and_refuses_writes(src: Path, root: Path) -> None:
    _two_days(src)
    ok("ingest", str(src), "-c", COMPANY)
    assert (root / COMPANY / "catalog.duckdb").is_file()
    rows = as_json(
        ok(
            "query",
            "select dt, count(*) as n from bronze.jobs group by dt order by dt",
            "-c",
            COMPANY,
            "-o",
            "json",
        )
    )
    assert rows == [{"dt": "2026-09-29", "n": 2}, {"dt": "2026-09-30", "n": 1}]
    table = ok("query", "select job_id from bronze.jobs order by job_id", "-c", COMPANY).stdout
    assert all(j in table for j in ("J1", "J2", "J3"))

    for sql in (
        "create table bronze.x as select 1",
        "insert into bronze.jobs select * from bronze.jobs",
        f"copy (select 1) to '{root / COMPANY / 'bronze' / 'x.csv'}'",
    ):
        assert "refused" in one_line_error(cli("query", sql, "-c", COMPANY)), sql
    assert not (root / COMPANY / "bronze" / "x.csv").exists()
    assert one_line_error(cli("query", "select 1", "-c", "../acme")).startswith("error: invalid company name")


@pytest.mark.usefixtures("env")
def test_verify_and_gc_commands(src: Path, root: Path) -> None:
    _two_days(src)
    ok("ingest", str(src), "-c", COMPANY)
    assert ok("verify", "-c", COMPANY).stdout.strip() == "OK: 2 file(s) in 1 version(s) checked"
    report = as_json(ok("verify", "-c", COMPANY, "-o", "json"))
    assert report == {"ok": True, "versions_checked": 1, "files_checked": 2, "problems": []}

    [first, second] = data_files(root)
    flip_byte(root / first)
    result = cli("verify", "-c", COMPANY)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"altered: {first} (sha256 ")
    assert result.stdout.strip() == "FAILED: 1 problem(s): 2 file(s) in 1 version(s) checked"
    (root / second).unlink()
    stray = root / COMPANY / "bronze" / "dataset=jobs" / "dt=2026-09-30" / "stray.parquet"
    stray.write_bytes(b"PAR1")
    report = as_json(cli("verify", "-c", COMPANY, "--dataset", "jobs", "-o", "json"))
    assert report["ok"] is False
    assert sorted((p["kind"], p["path"]) for p in report["problems"]) == [
        ("altered", first),
        ("extra", f"{COMPANY}/bronze/dataset=jobs/dt=2026-09-30/stray.parquet"),
        ("missing", second),
    ]
    text = cli("verify", "-c", COMPANY)
    assert text.stderr.strip().splitlines()[-1] == (
        f"extra files are listed by no committed version (leftovers of a crashed run): `lakehouse gc -c {COMPANY}` removes them"
    )

    dry = ok("gc", "-c", COMPANY, "--dry-run")
    assert dry.stdout.splitlines() == [
        f"would remove {COMPANY}/bronze/dataset=jobs/dt=2026-09-30/stray.parquet",
        "would remove 1 file(s); 0 version(s) expired; 0 abandoned run(s)",
    ]
    assert stray.exists()
    done = as_json(ok("gc", "-c", COMPANY, "-o", "json"))
    assert done == {
        "dry_run": False,
        "removed_files": [f"{COMPANY}/bronze/dataset=jobs/dt=2026-09-30/stray.parquet"],
        "expired_versions": [],
        "abandoned_runs": [],
    }
    assert not stray.exists()
    assert cli("gc", "-c", COMPANY, "--keep", "0").exit_code == 2  # refused by the option's range


@pytest.mark.usefixtures("env")
def test_read_dataset_api_uses_the_process_settings(src: Path, root: Path) -> None:
    _two_days(src)
    ok("ingest", str(src), "-c", COMPANY)
    table = lakehouse.read_dataset(COMPANY, "bronze", "jobs")
    assert sorted(table.column("job_id").to_pylist()) == ["J1", "J2", "J3"]
    for company, dataset in [("../acme", "jobs"), (COMPANY, "../jobs"), (COMPANY, ""), ("Acme", "jobs")]:
        with pytest.raises(InvalidNameError):
            lakehouse.read_dataset(company, "bronze", dataset)


@pytest.mark.usefixtures("env")
def test_gc_keeps_as_many_versions_as_the_config_says(root: Path, tmp_path: Path) -> None:
    dal = DataAccessLayer.from_settings(get_settings())
    try:
        store = make_store(dal, root)
        publish_many(store, [("gold", "kpis", pa.table({"k": [i]})) for i in range(3)])
    finally:
        dal.close()
    config = tmp_path / "config" / "global.json"
    document = json.loads(config.read_text())
    document["retention"]["keep_versions"] = 2
    document["retention"]["min_age_minutes"] = 0  # no grace period: the versions were just replaced
    config.write_text(json.dumps(document))
    report = as_json(ok("gc", "-c", COMPANY, "--dry-run", "-o", "json"))
    assert len(report["expired_versions"]) == 1  # 3 versions, keep 2
    assert (
        len(as_json(ok("gc", "-c", COMPANY, "--keep", "1", "--dry-run", "-o", "json"))["expired_versions"])
        == 2
    )
