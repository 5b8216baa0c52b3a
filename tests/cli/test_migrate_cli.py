"""`lakehouse migrate import-json | export-json`, on both backends: exit codes, messages, JSON output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lakehouse.dal import DataAccessLayer
from tests.cli_fixtures import as_json, cli, ok, one_line_error

DATA = Path(__file__).resolve().parents[1] / "data" / "legacy"

pytestmark = pytest.mark.usefixtures("env")


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    """A copy of the example legacy folder whose runs.jsonl has a bad line 3 and a run of no task."""
    folder = tmp_path / "legacy"
    shutil.copytree(DATA, folder)
    lines = (folder / "runs.jsonl").read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace('"attempt": 1', '"attempt": 0')
    ghost = {"task_key": "ghost", "run_id": "g-1", "started_at": "2024-06-02T00:00:00+00:00"}
    (folder / "runs.jsonl").write_text("".join(lines) + json.dumps(ghost) + "\n")
    return folder


def _count(db_url: str) -> tuple[int, int]:
    dal = DataAccessLayer.from_url(db_url)
    try:
        tasks = dal.list_tasks()
        return len(tasks), sum(len(dal.list_task_runs(t.task_key)) for t in tasks)
    finally:
        dal.close()


def test_import_then_import_again(db_url: str) -> None:
    first = ok("migrate", "import-json", str(DATA))
    assert f"imported 6 task(s) and 20 run(s) from {DATA}" in first.stdout and "skipped: 0" in first.stdout
    again = as_json(ok("migrate", "import-json", str(DATA), "-o", "json"))
    assert again["imported"] == {"tasks": [], "runs": []}
    assert again["already_present"] == {"tasks": 6, "runs": 20}
    assert again["skipped"] == [] and again["applied"] is True
    assert _count(db_url) == (6, 20)


def test_skipped_entries_are_listed_and_exit_4(legacy: Path, db_url: str) -> None:
    result = cli("migrate", "import-json", str(legacy))
    line = one_line_error(result, exit_code=4)
    runs = legacy / "runs.jsonl"
    assert line.startswith(f"error: skipped 2 entry(ies) of {legacy}, first {runs}, line 3: run ")
    assert "attempt: Input should be greater than or equal to 1" in line and "(and 1 more)" in line
    assert f"skipped (malformed): {runs}, line 3: run " in result.stdout
    assert f"skipped (orphan): {runs}, line 21: run 'g-1': its task 'ghost'" in result.stdout
    assert "imported 6 task(s) and 19 run(s)" in result.stdout
    assert _count(db_url) == (6, 19)
    # fixed, the import adds the one run it skipped, and nothing else
    (legacy / "runs.jsonl").write_text((DATA / "runs.jsonl").read_text())
    assert as_json(ok("migrate", "import-json", str(legacy), "-o", "json"))["imported"]["runs"] == [
        json.loads((DATA / "runs.jsonl").read_text().splitlines()[2])["run_id"]
    ]


def test_skipped_entries_in_json(legacy: Path) -> None:
    result = cli("migrate", "import-json", str(legacy), "-o", "json")
    assert result.exit_code == 4
    document = as_json(result)  # the report alone on stdout; the error line on stderr
    assert [(s["line"], s["kind"], s["field"], s["key"]) for s in document["skipped"]] == [
        (3, "malformed", "attempt", document["skipped"][0]["key"]),
        (21, "orphan", "task_key", "g-1"),
    ]
    assert document["skipped"][0]["file"] == str(legacy / "runs.jsonl")
    assert len(document["imported"]["runs"]) == 19
    assert result.stderr.startswith("error: skipped 2 entry(ies)")


def test_strict_imports_nothing(legacy: Path, db_url: str) -> None:
    result = cli("migrate", "import-json", str(legacy), "--strict")
    line = one_line_error(result, exit_code=4)
    assert line.startswith(f"error: --strict: nothing imported from {legacy}: 2 entry(ies) refused")
    assert "nothing imported from" in result.stdout
    assert _count(db_url) == (0, 0)


def test_a_bad_schedule_is_named_by_file_and_line(tmp_path: Path, db_url: str) -> None:
    folder = tmp_path / "legacy"
    shutil.copytree(DATA, folder)
    text = (folder / "tasks.json").read_text().replace('"schedule_expr": "15m"', '"schedule_expr": "5s"')
    (folder / "tasks.json").write_text(text)
    result = cli("migrate", "import-json", str(folder))
    line = one_line_error(result, exit_code=4)
    # acme-gates-sync's object starts on line 19; its 3 runs are then runs of a skipped task
    assert (
        f"{folder / 'tasks.json'}, line 19: task 'acme-gates-sync': schedule_expr '5s': "
        "expected an interval of at least 10s"
    ) in line
    assert "(and 3 more)" in line
    assert result.stdout.count("its task 'acme-gates-sync' was skipped (tasks.json line 19)") == 3
    assert _count(db_url) == (5, 17)


def test_missing_folder_and_task_list_are_usage_errors(tmp_path: Path) -> None:
    line = one_line_error(cli("migrate", "import-json", str(tmp_path / "nope")), exit_code=2)
    assert (
        line
        == f"error: {tmp_path / 'nope'}: does not exist (give the folder holding tasks.json and runs.jsonl)"
    )
    (tmp_path / "runs-only").mkdir()
    line = one_line_error(cli("migrate", "import-json", str(tmp_path / "runs-only")), exit_code=2)
    assert line.startswith(f"error: {tmp_path / 'runs-only' / 'tasks.json'}: does not exist")


def test_a_broken_task_list_refuses_the_import(tmp_path: Path, db_url: str) -> None:
    folder = tmp_path / "legacy"
    shutil.copytree(DATA, folder)
    text = (folder / "tasks.json").read_text()
    (folder / "tasks.json").write_text(text[: len(text) // 2])  # half written
    line = one_line_error(cli("migrate", "import-json", str(folder)), exit_code=4)
    assert line.startswith(f"error: {folder / 'tasks.json'}, line ")
    assert "partly written?" in line and "nothing imported" in line
    assert _count(db_url) == (0, 0)


def test_export_then_import_the_export(tmp_path: Path) -> None:
    ok("migrate", "import-json", str(DATA))
    out = tmp_path / "out"
    result = ok("migrate", "export-json", str(out))
    assert result.stdout.strip() == (
        f"exported 6 task(s) and 20 run(s) to {out / 'tasks.json'} and {out / 'runs.jsonl'}"
    )
    assert (out / "runs.jsonl").read_text() == (DATA / "runs.jsonl").read_text()
    again = as_json(ok("migrate", "import-json", str(out), "-o", "json"))
    assert again["imported"] == {"tasks": [], "runs": []} and again["skipped"] == []


def test_export_of_one_company(tmp_path: Path) -> None:
    ok("migrate", "import-json", str(DATA))
    document = as_json(ok("migrate", "export-json", str(tmp_path / "beta"), "-c", "beta", "-o", "json"))
    assert (document["company"], document["tasks"], document["runs"]) == ("beta", 1, 3)
    assert document["files"] == [str(tmp_path / "beta" / "tasks.json"), str(tmp_path / "beta" / "runs.jsonl")]
    line = one_line_error(cli("migrate", "export-json", str(tmp_path / "x"), "-c", "nope"), exit_code=2)
    assert line == "error: no company 'nope' (known: acme, beta)"
    assert not (tmp_path / "x").exists()


def test_help_names_both_commands() -> None:
    text = ok("migrate", "--help").stdout
    assert "import-json" in text and "export-json" in text
    assert "--strict" in ok("migrate", "import-json", "--help").stdout
