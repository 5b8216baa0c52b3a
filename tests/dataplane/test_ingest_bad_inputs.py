"""A corpus of bad extracts (tests/data/bad/ingest/<case>/): `lakehouse ingest` of each one fails with one
clear error line and publishes nothing, on SQLite and PostgreSQL. A file whose content is refused
exits 4 (data refused); a bad path or name (the cases of :data:`PATH_CASES`) exits 1.

Each case folder holds day folders (``YYYY-MM-DD/<dataset>.<ext>``, or a folder that only looks like
one) and ``expect.txt``, a substring of the expected error. Optionally ``args.txt`` holds extra
command-line arguments (one per line), and ``symlink.txt`` names links to make at test time (one per
line, relative to the case), each pointing at a file outside the case folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse.cli.main import app
from lakehouse.dal import DataAccessLayer
from tests.data_fixtures import COMPANY, files_under

CASES = Path(__file__).resolve().parents[1] / "data" / "bad" / "ingest"
CASE_NAMES = sorted(p.name for p in CASES.iterdir() if p.is_dir())
runner = CliRunner()
#: Cases refused for where the file is or what it is named, not for what it holds (exit code 1).
PATH_CASES = {
    "bad-file-name",
    "impossible-date-folder",
    "symlink-out-of-the-folder",
    "traversal-dataset-name",
}


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line] if path.exists() else []


def _prepared(name: str, tmp_path: Path) -> Path:
    """A copy of the case under ``tmp_path``, with its symbolic links made."""
    case = tmp_path / "extracts" / name
    shutil.copytree(CASES / name, case)
    for rel in _lines(case / "symlink.txt"):
        outside = tmp_path / "outside" / Path(rel).name
        outside.parent.mkdir(parents=True, exist_ok=True)
        outside.write_text("user,password\nroot,hunter2\n")
        (case / rel).parent.mkdir(parents=True, exist_ok=True)
        (case / rel).symlink_to(outside)
    return case


def test_the_corpus_is_big_enough() -> None:
    assert len(CASE_NAMES) >= 15
    assert PATH_CASES < set(CASE_NAMES)
    for name in CASE_NAMES:
        assert _lines(CASES / name / "expect.txt"), f"{name}: expect.txt is empty"


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize("name", CASE_NAMES)
def test_a_bad_extract_fails_clearly_and_publishes_nothing(
    name: str, tmp_path: Path, root: Path, db_url: str
) -> None:
    case = _prepared(name, tmp_path)
    [expected] = _lines(case / "expect.txt")
    result = runner.invoke(app, ["ingest", str(case), "-c", COMPANY, *_lines(case / "args.txt")])

    assert result.exit_code == (1 if name in PATH_CASES else 4), (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert expected in line, line
    assert "unexpected" not in line, line  # a LakehouseError that says what is wrong, not a crash

    # Nothing published, nothing left over (a failed run may be recorded, and a catalog file may not).
    dal = DataAccessLayer.from_url(db_url)
    try:
        assert dal.list_dataset_versions(COMPANY) == []
        assert [r.status for r in dal.list_pipeline_runs(COMPANY)] in ([], ["failed"])
    finally:
        dal.close()
    assert [f for f in files_under(root) if not f.startswith("_control/")] == []
