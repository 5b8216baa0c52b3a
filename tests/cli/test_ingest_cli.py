"""`lakehouse ingest` on the generator's own extracts, quarantine paths, symlinks and a lost schema race,
through the CLI as a user runs it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tests.cli_fixtures as cli_fixtures
from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.schemas import RAW_SCHEMAS
from lakehouse.db.repos.run_repo import SqlRunRepo
from lakehouse.sample.generator import generate
from tests.cli_fixtures import cli, ok
from tests.data_fixtures import COMPANY, data_files, files_under, write_csv


def one_line_error(*args: str) -> str:
    return cli_fixtures.one_line_error(cli(*args))


@pytest.mark.usefixtures("env")
def test_the_generators_small_extracts_ingest_day_by_day(tmp_path: Path) -> None:
    """Quiet days hold an empty calls.jsonl; `ingest extracts/*` meets day folders only (the ground
    truth is kept beside the extracts)."""
    out = tmp_path / "extracts"
    generate(COMPANY, out, days=5, scale=0.01, seed=42)
    assert [p for p in out.glob("*/calls.jsonl") if p.stat().st_size == 0], "needs a quiet day"
    days = sorted(str(p) for p in out.iterdir())
    result = ok("ingest", *days, "-c", COMPANY, "-o", "json")
    summary = json.loads(result.stdout)
    assert {v["dataset"] for v in summary["versions"]} == set(RAW_SCHEMAS)
    assert summary["files_ingested"] + summary["files_skipped"] == 5 * 5
    assert ok("ingest", str(out), "-c", COMPANY).stdout.startswith("skipped ")


@pytest.mark.usefixtures("env")
def test_quarantine_prints_paths_a_user_can_open(tmp_path: Path) -> None:
    header = RAW_SCHEMAS["jobs"].column_names
    good = ["J1", "C1", "repair", "HVAC", "T1", "scheduled", "2026-09-01 08:00:00", "2026-09-02 09:00:00", "",
            "1.00", "2026-09-01 08:00:00"]  # fmt: skip
    bad = [*good[:3], "Roofing", good[4], "done", *good[6:]]  # two problems in one row
    path = write_csv(tmp_path / "x" / "2026-09-30" / "jobs.csv", header, [good, bad, bad])
    text = ok("ingest", str(path), "-c", COMPANY, "--on-error", "quarantine").stdout
    assert "2 row(s) quarantined in /" in text
    [printed] = [w for w in text.split() if w.endswith(".jsonl")]
    lines = Path(printed).read_text().splitlines()
    assert len(lines) == 2  # one line per rejected row
    assert [len(json.loads(line)["problems"]) for line in lines] == [2, 2]
    summary = json.loads(
        ok("ingest", str(path), "-c", COMPANY, "--on-error", "quarantine", "-o", "json").stdout
    )
    assert summary["rejects_paths"] == []  # a no-op: ingested before


@pytest.mark.usefixtures("env")
def test_follow_symlinks_is_a_flag_of_ingest(tmp_path: Path, root: Path) -> None:
    secret = write_csv(tmp_path / "outside" / "secret.csv", ["user", "password"], [["root", "x"]])
    link = tmp_path / "x" / "2026-09-30" / "leak.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    line = one_line_error("ingest", str(link.parent.parent), "-c", COMPANY)
    assert f"{link}: a symbolic link leads to {secret}" in line and "--follow-symlinks" in line
    assert files_under(root) == []
    summary = json.loads(
        ok("ingest", str(link.parent.parent), "-c", COMPANY, "--follow-symlinks", "-o", "json").stdout
    )
    assert summary["versions"][0]["dataset"] == "leak"


@pytest.mark.usefixtures("env")
def test_losing_a_schema_race_exits_1_naming_the_dataset_version_and_run(
    tmp_path: Path, root: Path, db_url: str
) -> None:
    """Another run registered version 1 of a new dataset with other columns (it committed between this
    run's reading of the versions and its commit): the commit fails, naming who registered what."""
    path = write_csv(tmp_path / "x" / "2026-09-30" / "widgets.csv", ["id", "qty"], [[1, "many"]])
    rival = "20261130T000000000000Z-0badc0de"
    schema = {
        "name": "widgets",
        "version": "1",
        "columns": [
            {"name": "id", "type": "BIGINT", "nullable": True},
            {"name": "qty", "type": "BIGINT", "nullable": True},
        ],
    }
    dal = DataAccessLayer.from_url(db_url)
    try:
        real_list = DataAccessLayer.list_dataset_versions
        calls = {"n": 0}

        def rival_commits_meanwhile(self: DataAccessLayer, *args: object, **kwargs: object) -> object:
            found = real_list(self, *args, **kwargs)  # type: ignore[arg-type]
            calls["n"] += 1
            if calls["n"] == 1:  # right after this run looked: the rival's commit lands
                with self._session() as s:
                    SqlRunRepo(s).register_schema(COMPANY, "bronze", "widgets", "1", schema, rival)
            return found

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(DataAccessLayer, "list_dataset_versions", rival_commits_meanwhile)
            line = one_line_error("ingest", str(path), "-c", COMPANY)
        assert "schema version 1 of bronze.widgets" in line
        assert f"registered by run {rival}" in line
        assert "qty BIGINT->VARCHAR" in line
        assert dal.list_dataset_versions(COMPANY) == []
        assert data_files(root) == []
        [run] = dal.list_pipeline_runs(COMPANY)
        assert run.status == "failed" and run.error is not None and run.error["type"] == "SchemaConflictError"
    finally:
        dal.close()
