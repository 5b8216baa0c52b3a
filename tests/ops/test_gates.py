"""Review gates synced from gate files (lakehouse.ops.gates), on both backends."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import PullRequest, ReviewChecks, ReviewGateRecord
from lakehouse.errors import GateFileError, GateFolderError
from lakehouse.ops.gates import (
    GateFile,
    export_gates,
    failing_checks,
    gate_document,
    gate_files,
    read_gate_file,
    sync_gates,
)
from lakehouse.sample.gates import write_sample_gates

DATA = Path(__file__).resolve().parents[1] / "data" / "gates"
GOOD = DATA / "good"
BAD = DATA / "bad"


class Announcer:
    """A fake announcer: records every gate it is given; sends (returns a receipt) once per task and head."""

    def __init__(self) -> None:
        self.calls: list[ReviewGateRecord] = []
        self.sent: set[tuple[str, str | None]] = set()
        self._lock = threading.Lock()

    def __call__(self, gate: ReviewGateRecord) -> list[str]:
        with self._lock:
            self.calls.append(gate)
            key = (gate.task_id, gate.head_commit)
            if key in self.sent:
                return []
            self.sent.add(key)
            return [f"{gate.task_id}:{gate.head_commit}"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the good gate files (T-1 strict ready, T-2 soft ready, T-3 not ready, a .txt)."""
    target = tmp_path / "gates"
    shutil.copytree(GOOD, target)
    return target


def write_gate(folder: Path, name: str, **changes: Any) -> Path:
    """Write T-1's gate file under ``name``, with top-level ``changes`` (``checks`` merged)."""
    document = json.loads((GOOD / "T-1.json").read_text())
    checks = changes.pop("checks", {})
    document.update(changes)
    document["checks"].update(checks)
    path = folder / name
    path.write_text(json.dumps(document))
    return path


# --- the file format -------------------------------------------------------------------------------


def test_good_files_parse_and_ready_is_computed() -> None:
    parsed = {p.name: read_gate_file(p) for p in gate_files(GOOD)}
    assert sorted(parsed) == ["T-1.json", "T-2.json", "T-3.json"]  # NOTES.txt ignored
    t2 = parsed["T-2.json"]
    assert t2.task_id == "T-2" and t2.mode == "soft" and t2.head_commit == "2222222"
    assert t2.pull_request() == PullRequest(12, "datahound/lakehouse", "fix/t-2")
    assert [parsed[n].review_checks().is_ready(parsed[n].mode) for n in sorted(parsed)] == [True, True, False]


@pytest.mark.parametrize(
    ("name", "location", "problem"),
    [
        ("ready_key.json", "ready", "ready is computed from the checks and the mode"),
        ("string_bool.json", "checks.ci", "valid boolean"),
        ("partial.json", "line 4, column", "invalid JSON"),
        ("empty.json", "", "empty file"),
        ("schema_v2.json", "schema_version", "unsupported schema_version '2'"),
        ("array.json", "", "top level must be a JSON object, not an array"),
        ("missing_check.json", "checks.gemini", "required key is missing"),
        ("bad_mode.json", "mode", "'strict' or 'soft'"),
        ("duplicate_key.json", "", "key 'task_id' appears more than once"),
        ("bad_task_id.json", "task_id", "should match pattern"),
    ],
)
def test_malformed_files_are_refused_naming_file_and_field(name: str, location: str, problem: str) -> None:
    with pytest.raises(GateFileError) as info:
        read_gate_file(BAD / name)
    err = info.value
    assert err.file == str(BAD / name)
    assert err.location.startswith(location) if location else err.location == ""
    assert problem in err.problem
    assert str(err).startswith(f"{BAD / name}: ")


def test_partial_file_says_it_may_still_be_written() -> None:
    with pytest.raises(GateFileError, match="partly written"):
        read_gate_file(BAD / "partial.json")


def test_sample_gates_are_valid_files(tmp_path: Path) -> None:
    paths = write_sample_gates(tmp_path / "sample")
    files = [read_gate_file(p) for p in paths]
    ready = {f.task_id: f.review_checks().is_ready(f.mode) for f in files}
    assert ready == {"DH-101": True, "DH-102": True, "DH-103": False}
    assert [f.mode for f in files] == ["strict", "soft", "strict"]
    assert not [p for p in (tmp_path / "sample").iterdir() if p.name.startswith(".")]  # no temp left


def test_strict_needs_screenshots_soft_does_not() -> None:
    document = json.loads((GOOD / "T-3.json").read_text())
    strict = GateFile.model_validate(document)
    assert not strict.review_checks().is_ready("strict")
    assert strict.review_checks().is_ready("soft")


# --- sync ------------------------------------------------------------------------------------------


def test_sync_upserts_every_gate_and_announces_the_ready_ones(dal: DataAccessLayer, folder: Path) -> None:
    (folder / ".tmp-0123abcd-T-9.json").write_text('{"schema_version": "1", "task_id": "T-9", "pr": {"num')
    announce = Announcer()
    report = sync_gates(dal, folder, announce)
    assert report.synced == 3 and report.skipped == ()
    assert report.changed == ("T-1", "T-2", "T-3")
    assert report.became_ready == ("T-1", "T-2")
    assert report.ready == ("T-1", "T-2")
    assert report.notified == 2
    assert [g.task_id for g in announce.calls] == ["T-1", "T-2"]
    t1 = dal.get_review_gate("T-1")
    assert t1.ready and t1.head_commit == "1111111111111111111111111111111111111111"
    assert t1.pr == PullRequest(11, "datahound/lakehouse", "feat/t-1")
    t3 = dal.get_review_gate("T-3")
    assert not t3.ready and failing_checks(t3) == ["screenshots"]
    assert [g.task_id for g in dal.list_review_gates()] == ["T-1", "T-2", "T-3"]
    assert [g.task_id for g in dal.list_review_gates(ready=True)] == ["T-1", "T-2"]
    assert [g.task_id for g in dal.list_review_gates(ready=False)] == ["T-3"]


def test_ready_is_never_copied_from_the_file(dal: DataAccessLayer, folder: Path) -> None:
    shutil.copy(BAD / "ready_key.json", folder)
    report = sync_gates(dal, folder, Announcer())
    assert [p.name for p, _ in report.skipped] == ["ready_key.json"]
    assert "B-1" not in [g.task_id for g in dal.list_review_gates()]


def test_malformed_files_are_skipped_the_others_sync(dal: DataAccessLayer, folder: Path) -> None:
    for path in BAD.iterdir():
        shutil.copy(path, folder)
    report = sync_gates(dal, folder, Announcer())
    assert report.synced == 3
    assert sorted(p.name for p, _ in report.skipped) == sorted(p.name for p in BAD.iterdir())
    problems = {p.name: problem for p, problem in report.skipped}
    assert problems["string_bool.json"].startswith("checks.ci: ")
    assert problems["empty.json"].startswith("empty file")
    assert [g.task_id for g in dal.list_review_gates()] == ["T-1", "T-2", "T-3"]


def test_a_task_in_two_files_is_skipped_in_both(dal: DataAccessLayer, folder: Path) -> None:
    write_gate(folder, "T-1-copy.json", head_commit="abcdef1")
    report = sync_gates(dal, folder, Announcer())
    assert sorted(p.name for p, _ in report.skipped) == ["T-1-copy.json", "T-1.json"]
    assert "also in T-1-copy.json" in {p.name: m for p, m in report.skipped}["T-1.json"]
    assert [g.task_id for g in dal.list_review_gates()] == ["T-2", "T-3"]


def test_missing_folder_is_a_usage_error(dal: DataAccessLayer, tmp_path: Path) -> None:
    with pytest.raises(GateFolderError, match="does not exist") as info:
        sync_gates(dal, tmp_path / "nope", None)
    assert info.value.exit_code == 2
    (tmp_path / "file").write_text("x")
    with pytest.raises(GateFolderError, match="is not a folder"):
        sync_gates(dal, tmp_path / "file", None)


def test_sync_twice_writes_nothing_new_and_sends_nothing_new(dal: DataAccessLayer, folder: Path) -> None:
    announce = Announcer()
    sync_gates(dal, folder, announce)
    before = {g.task_id: g.updated_at for g in dal.list_review_gates()}
    again = sync_gates(dal, folder, announce)
    assert again.synced == 3
    assert again.changed == () and again.became_ready == ()
    assert again.ready == ("T-1", "T-2")  # announced again: the announcer dedupes
    assert again.notified == 0
    assert len(announce.calls) == 4 and len(announce.sent) == 2
    assert {g.task_id: g.updated_at for g in dal.list_review_gates()} == before


def test_new_head_not_ready_then_ready_again(dal: DataAccessLayer, folder: Path) -> None:
    announce = Announcer()
    sync_gates(dal, folder, announce)
    # A new push: another head, CI not yet passed.
    write_gate(folder, "T-1.json", head_commit="4444444", checks={"ci": False})
    report = sync_gates(dal, folder, announce)
    assert "T-1" in report.changed and "T-1" not in report.ready
    assert not dal.get_review_gate("T-1").ready
    # CI passes on the new head: ready again, announced for the new head.
    write_gate(folder, "T-1.json", head_commit="4444444")
    report = sync_gates(dal, folder, announce)
    assert report.became_ready == ("T-1",) and report.notified == 1
    assert dal.get_review_gate("T-1").head_commit == "4444444"
    # The same head again: nothing new.
    report = sync_gates(dal, folder, announce)
    assert report.became_ready == () and report.notified == 0
    assert announce.sent == {
        ("T-1", "1111111111111111111111111111111111111111"),
        ("T-1", "4444444"),
        ("T-2", "2222222"),
    }


def test_a_new_head_that_is_ready_at_once_becomes_ready(dal: DataAccessLayer, folder: Path) -> None:
    sync_gates(dal, folder, None)
    write_gate(folder, "T-1.json", head_commit="5555555")
    report = sync_gates(dal, folder, None)
    assert report.became_ready == ("T-1",)


def test_becoming_ready_runs_mark_ready(
    dal: DataAccessLayer, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marked: list[str] = []
    original = dal.mark_ready

    def spy(task_id: str) -> ReviewGateRecord:
        marked.append(task_id)
        return original(task_id)

    monkeypatch.setattr(dal, "mark_ready", spy)
    sync_gates(dal, folder, None)
    assert marked == ["T-1", "T-2"]
    sync_gates(dal, folder, None)
    assert marked == ["T-1", "T-2"]  # already ready for that head


def test_a_failing_announcer_does_not_undo_the_sync(dal: DataAccessLayer, folder: Path) -> None:
    from lakehouse.errors import OperationsError

    def broken(gate: ReviewGateRecord) -> object:
        raise OperationsError(f"channel down for {gate.task_id}")

    report = sync_gates(dal, folder, broken)
    assert report.synced == 3 and report.notified == 0
    assert report.announce_errors == (("T-1", "channel down for T-1"), ("T-2", "channel down for T-2"))
    assert dal.get_review_gate("T-1").ready


def test_concurrent_syncs_of_the_same_folder(dal: DataAccessLayer, folder: Path) -> None:
    announce = Announcer()
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def run() -> None:
        try:
            barrier.wait()
            sync_gates(dal, folder, announce)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(announce.calls) == 40 and len(announce.sent) == 2
    assert [g.task_id for g in dal.list_review_gates(ready=True)] == ["T-1", "T-2"]


# --- export ----------------------------------------------------------------------------------------


def test_export_writes_the_input_format_and_a_sync_of_it_is_a_no_op(
    dal: DataAccessLayer, folder: Path, tmp_path: Path
) -> None:
    sync_gates(dal, folder, None)
    out = tmp_path / "export"
    report = export_gates(dal, out)
    assert [p.name for p in report.written] == ["T-1.json", "T-2.json", "T-3.json"]
    for name in ("T-1.json", "T-2.json", "T-3.json"):
        assert json.loads((out / name).read_text()) == json.loads((folder / name).read_text())
    before = {g.task_id: g.updated_at for g in dal.list_review_gates()}
    again = sync_gates(dal, out, None)
    assert again.synced == 3 and again.changed == () and again.became_ready == ()
    assert {g.task_id: g.updated_at for g in dal.list_review_gates()} == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_export_rewrites_only_what_changed_and_keeps_other_files(
    dal: DataAccessLayer, folder: Path, tmp_path: Path
) -> None:
    sync_gates(dal, folder, None)
    out = tmp_path / "export"
    export_gates(dal, out)
    (out / "T-old.json").write_text("{}")
    write_gate(folder, "T-1.json", head_commit="6666666")
    sync_gates(dal, folder, None)
    report = export_gates(dal, out)
    assert [p.name for p in report.written] == ["T-1.json"]
    assert [p.name for p in report.unchanged] == ["T-2.json", "T-3.json"]
    assert (out / "T-old.json").read_text() == "{}"
    assert json.loads((out / "T-1.json").read_text())["head_commit"] == "6666666"


def test_export_of_a_gate_without_head_commit(dal: DataAccessLayer, tmp_path: Path) -> None:
    dal.upsert_review_gate("legacy-1", PullRequest(5, "datahound/lakehouse", "old"), ReviewChecks(), "strict")
    gate = dal.get_review_gate("legacy-1")
    assert gate.head_commit is None and not gate.ready
    assert gate_document(gate)["head_commit"] is None
    report = export_gates(dal, tmp_path / "out")
    assert read_gate_file(report.written[0]).head_commit is None
    assert sync_gates(dal, tmp_path / "out", None).changed == ()


def test_export_refuses_a_task_id_that_is_no_file_name(dal: DataAccessLayer, tmp_path: Path) -> None:
    dal.upsert_review_gate("a/b", PullRequest(5, "datahound/lakehouse", "x"), ReviewChecks(), "strict")
    report = export_gates(dal, tmp_path / "out")
    assert report.written == ()
    assert [t for t, _ in report.refused] == ["a/b"]
    assert report.refused[0][1].startswith("task_id: ")
