"""`lakehouse gates sync | list | export`, on both backends."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import PullRequest, ReviewChecks
from lakehouse.ops.gates import sync_gates
from tests.cli_fixtures import as_json, cli, ok, one_line_error

DATA = Path(__file__).resolve().parents[1] / "data" / "gates"

pytestmark = pytest.mark.usefixtures("env")


@pytest.fixture
def gates(db_url: str) -> Iterator[DataAccessLayer]:
    """The control plane holding T-1 (strict, ready), T-2 (soft, ready), T-3 (strict, no screenshots)."""
    dal = DataAccessLayer.from_url(db_url)
    sync_gates(dal, DATA / "good", None)
    yield dal
    dal.close()


def test_list_shows_ready_and_failing_checks(gates: DataAccessLayer) -> None:
    rows = as_json(ok("gates", "list", "-o", "json"))
    assert [(r["task_id"], r["ready"], r["failing"]) for r in rows] == [
        ("T-1", True, []),
        ("T-2", True, []),
        ("T-3", False, ["screenshots"]),
    ]
    assert rows[0]["pr"] == {"number": 11, "repo": "datahound/lakehouse", "branch": "feat/t-1"}
    assert rows[0]["head_commit"] == "1111111111111111111111111111111111111111"
    assert [r["task_id"] for r in as_json(ok("gates", "list", "--ready", "-o", "json"))] == ["T-1", "T-2"]
    assert [r["task_id"] for r in as_json(ok("gates", "list", "--not-ready", "-o", "json"))] == ["T-3"]
    text = ok("gates", "list").stdout
    assert "datahound/lakehouse#13" in text and "screenshots" in text and "111111111111" in text


def test_list_without_gates(db_url: str) -> None:
    assert as_json(ok("gates", "list", "-o", "json")) == []
    assert "review gates: none" in ok("gates", "list").stdout


def test_export_then_export_again(gates: DataAccessLayer, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = ok("gates", "export", str(out))
    assert "exported 3 gate(s)" in result.stdout and "3 written" in result.stdout
    for name in ("T-1.json", "T-2.json", "T-3.json"):
        assert json.loads((out / name).read_text()) == json.loads((DATA / "good" / name).read_text())
    again = as_json(ok("gates", "export", str(out), "-o", "json"))
    assert again["written"] == [] and len(again["unchanged"]) == 3


def test_export_refuses_a_gate_it_cannot_name(gates: DataAccessLayer, tmp_path: Path) -> None:
    gates.upsert_review_gate("a/b", PullRequest(5, "datahound/lakehouse", "x"), ReviewChecks(), "strict")
    line = one_line_error(cli("gates", "export", str(tmp_path / "out")), exit_code=4)
    assert "left out 1" in line and "'a/b'" in line and "task_id" in line
    assert (tmp_path / "out" / "T-1.json").is_file()


def test_export_into_a_file_is_a_usage_error(gates: DataAccessLayer, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    line = one_line_error(cli("gates", "export", str(tmp_path / "f")), exit_code=2)
    assert "is not a folder" in line


# --- sync ------------------------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the good gate files."""
    target = tmp_path / "gates"
    shutil.copytree(DATA / "good", target)
    return target


def test_sync_reports_what_it_did(folder: Path) -> None:
    result = ok("gates", "sync", str(folder), "-o", "json")
    report = as_json(result)
    assert report["synced"] == 3 and report["skipped"] == []
    assert report["became_ready"] == ["T-1", "T-2"] and report["ready"] == ["T-1", "T-2"]
    text = ok("gates", "sync", str(folder)).stdout
    assert "synced 3 gate file(s)" in text and "0 changed" in text and "0 became ready" in text


def test_sync_with_malformed_files_exits_4_naming_each(folder: Path) -> None:
    shutil.copy(DATA / "bad" / "string_bool.json", folder)
    shutil.copy(DATA / "bad" / "partial.json", folder)
    result = cli("gates", "sync", str(folder))
    assert result.exit_code == 4, (result.stdout, result.stderr)
    [line] = [ln for ln in result.stderr.splitlines() if ln.startswith("error: ")]
    assert "skipped 2 gate file(s)" in line and "(3 synced)" in line
    assert "string_bool.json: checks.ci:" in line and "partial.json: line" in line
    assert "synced 3 gate file(s)" in result.stdout
    assert [r["task_id"] for r in as_json(ok("gates", "list", "-o", "json"))] == ["T-1", "T-2", "T-3"]


def test_sync_json_report_lists_skipped_files(folder: Path) -> None:
    shutil.copy(DATA / "bad" / "empty.json", folder)
    result = cli("gates", "sync", str(folder), "-o", "json")
    assert result.exit_code == 4
    report = as_json(result)
    assert [Path(s["file"]).name for s in report["skipped"]] == ["empty.json"]
    assert report["skipped"][0]["problem"].startswith("empty file")


def test_sync_of_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    line = one_line_error(cli("gates", "sync", str(tmp_path / "nope")), exit_code=2)
    assert "does not exist" in line and "nope" in line
