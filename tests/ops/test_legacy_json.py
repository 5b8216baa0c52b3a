"""DataHound's legacy JSON scheduler state, on each backend: import (idempotent, conflicts, malformed
entries by file and line, orphans, --strict), export (round trip, determinism, --company) and the
compatibility log (append_run)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import TaskRun, TaskSpec
from lakehouse.errors import LegacyFileError, LegacyFolderError
from lakehouse.ops.legacy import (
    LegacyImportReport,
    LegacyRun,
    append_run,
    export_legacy,
    import_legacy,
    read_legacy_folder,
    run_line,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "legacy"
#: Set by the control plane on import, not taken from the file (there is no DAL call that keeps them).

T0 = datetime(2024, 6, 1, 9, 0, tzinfo=UTC)


def _task(key: str, **fields: Any) -> dict[str, Any]:
    task: dict[str, Any] = {
        "task_key": key,
        "task_type": "gc",
        "company": "acme",
        "schedule_type": "interval",
        "schedule_expr": "1h",
        "created_at": "2024-05-01T00:00:00Z",
        "updated_at": "2024-05-01T00:00:00Z",
    }
    task.update(fields)
    return task


def _run(task_key: str, run_id: str, **fields: Any) -> dict[str, Any]:
    return {"task_key": task_key, "run_id": run_id, "started_at": "2024-05-01T01:00:00+00:00", **fields}


def _folder(path: Path, tasks: list[dict[str, Any]], runs: list[dict[str, Any]] | None = None) -> Path:
    """A legacy folder: each task object on one line of tasks.json (task i on line 3 + i)."""
    path.mkdir(parents=True, exist_ok=True)
    body = ",\n".join("    " + json.dumps(task) for task in tasks)
    (path / "tasks.json").write_text('{\n  "version": 1,\n  "tasks": [\n' + body + "\n  ]\n}\n")
    if runs is not None:
        (path / "runs.jsonl").write_text("".join(json.dumps(run) + "\n" for run in runs))
    return path


def _problems(report: LegacyImportReport) -> list[tuple[str, int | None, str, str | None]]:
    return [(Path(p.file).name, p.line, p.kind, p.field) for p in report.problems]


def _documents(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    tasks = json.loads((folder / "tasks.json").read_text())["tasks"]
    runs = [json.loads(line) for line in (folder / "runs.jsonl").read_text().splitlines()]
    return tasks, runs


# --- import ----------------------------------------------------------------------------------------


def test_import_realistic_folder(dal: DataAccessLayer) -> None:
    report = import_legacy(dal, DATA)
    assert report.problems == ()
    assert len(report.tasks_imported) == 6 and len(report.runs_imported) == 20
    tasks = {task.task_key: task for task in dal.list_tasks()}
    assert {key: task.status for key, task in tasks.items()} == {
        "acme-backfill-extract": "done",
        "acme-gates-sync": "paused",
        "acme-hourly-build": "active",
        "acme-nightly-ingest": "active",
        "acme-weekly-gc": "deleted",
        "beta-notify-retry": "active",
    }
    ingest = tasks["acme-nightly-ingest"]
    assert (ingest.schedule_type, ingest.schedule_expr, ingest.timezone) == (
        "cron",
        "30 2 * * *",
        "America/Chicago",
    )
    assert ingest.config["retry"] == {"backoff_seconds": 300.0, "count": 2}
    assert ingest.next_run_at == datetime(2024, 6, 3, 7, 30, tzinfo=UTC)
    assert tasks["acme-gates-sync"].next_run_at is None
    runs = {run.run_id: run for run in dal.list_task_runs("acme-nightly-ingest")}
    retry = runs["dh-20240527-ingest-02"]
    assert (retry.success, retry.attempt, retry.worker_id) == (True, 2, "dh-sched-1")
    assert retry.occurrence_at == datetime(2024, 5, 27, 7, 30, tzinfo=UTC)
    assert retry.duration_ms == 190_000
    unfinished = runs["dh-20240602-ingest-01"]
    assert (unfinished.finished_at, unfinished.success, unfinished.message) == (None, None, None)
    failed = dal.get_task_run("dh-20240530-build-12")
    assert failed.success is False and failed.metadata == {"failed_nodes": ["stg_calls"]}


def test_importing_twice_adds_nothing(dal: DataAccessLayer) -> None:
    import_legacy(dal, DATA)
    again = import_legacy(dal, DATA)
    assert (again.tasks_imported, again.runs_imported, again.problems) == ((), (), ())
    assert (again.tasks_present, again.runs_present) == (6, 20)
    assert len(dal.list_tasks()) == 6
    assert sum(len(dal.list_task_runs(t.task_key)) for t in dal.list_tasks()) == 20


def test_timestamps_with_other_offsets_are_read_into_utc(dal: DataAccessLayer, tmp_path: Path) -> None:
    folder = _folder(
        tmp_path / "legacy",
        [_task("t1", next_run_at="2024-06-01T11:00:00+02:00")],
        [
            _run(
                "t1",
                "r1",
                started_at="2024-06-01T04:00:00-05:00",
                finished_at="2024-06-01T09:00:01Z",
                success=True,
            )
        ],
    )
    assert import_legacy(dal, folder).problems == ()
    assert dal.get_task("t1").next_run_at == T0
    run = dal.get_task_run("r1")
    assert run.started_at == T0 and run.finished_at == T0 + timedelta(seconds=1)


def test_a_task_with_other_content_is_a_conflict_left_as_it_is(dal: DataAccessLayer, tmp_path: Path) -> None:
    dal.create_task(TaskSpec("t1", "gc", "acme", "interval", "2h"))
    dal.create_task(TaskSpec("t2", "gc", "acme", "interval", "1h"), next_run_at=T0)
    folder = _folder(
        tmp_path / "legacy",
        [_task("t0"), _task("t1"), _task("t2", next_run_at="2030-01-01T00:00:00Z")],
    )
    report = import_legacy(dal, folder)
    assert _problems(report) == [("tasks.json", 5, "conflict", "schedule_expr")]
    [conflict] = report.problems
    assert (
        "'1h' in the file, '2h' in the control plane" in conflict.message
        and "left as it is" in conflict.message
    )
    assert report.tasks_imported == ("t0",)
    assert report.tasks_present == 1  # t2: next_run_at is the scheduler's, not compared
    assert dal.get_task("t1").schedule_expr == "2h"
    assert dal.get_task("t2").next_run_at == T0


def test_a_run_with_other_content_is_a_conflict(dal: DataAccessLayer, tmp_path: Path) -> None:
    dal.create_task(TaskSpec("t1", "gc", "acme", "interval", "1h"))
    dal.record_task_run(TaskRun("t1", "r1", T0, T0 + timedelta(seconds=5), True, "ok"))
    folder = _folder(
        tmp_path / "legacy",
        [_task("t1", timezone="UTC", config={}, status="active")],
        [
            _run(
                "t1",
                "r1",
                started_at=T0.isoformat(),
                finished_at=(T0 + timedelta(seconds=5)).isoformat(),
                success=False,
                message="ok",
            ),
            _run("t1", "r2"),
        ],
    )
    report = import_legacy(dal, folder)
    assert _problems(report) == [("runs.jsonl", 1, "conflict", "success")]
    assert report.runs_imported == ("r2",) and report.tasks_present == 1
    assert dal.get_task_run("r1").success is True


def test_a_run_id_recorded_for_another_task_is_a_conflict(dal: DataAccessLayer, tmp_path: Path) -> None:
    dal.create_task(TaskSpec("other", "gc", "acme", "interval", "1h"))
    dal.record_task_run(TaskRun("other", "r1", T0))
    folder = _folder(tmp_path / "legacy", [_task("t1")], [_run("t1", "r1"), _run("t1", "r2")])
    report = import_legacy(dal, folder)
    assert _problems(report) == [("runs.jsonl", 1, "conflict", "run_id")]
    assert "recorded already, for task 'other'" in report.problems[0].message
    assert report.tasks_imported == ("t1",) and report.runs_imported == ("r2",)
    assert dal.get_task_run("r1").task_key == "other"


def test_strict_refuses_a_run_id_of_another_task(dal: DataAccessLayer, tmp_path: Path) -> None:
    dal.create_task(TaskSpec("other", "gc", "acme", "interval", "1h"))
    dal.record_task_run(TaskRun("other", "r1", T0))
    folder = _folder(tmp_path / "legacy", [_task("t1")], [_run("t1", "r2"), _run("t1", "r1")])
    report = import_legacy(dal, folder, strict=True)
    assert not report.applied and _problems(report) == [("runs.jsonl", 2, "conflict", "run_id")]
    assert [t.task_key for t in dal.list_tasks()] == ["other"]  # neither t1 nor r2


def test_two_runs_of_one_occurrence_and_attempt_are_a_conflict(dal: DataAccessLayer, tmp_path: Path) -> None:
    occurrence = "2024-05-01T01:00:00+00:00"
    folder = _folder(
        tmp_path / "legacy",
        [_task("t1")],
        [
            _run("t1", "r1", occurrence_at=occurrence),
            _run("t1", "r2", occurrence_at=occurrence),
            _run("t1", "r3", occurrence_at=occurrence, attempt=2),
        ],
    )
    report = import_legacy(dal, folder)
    assert _problems(report) == [("runs.jsonl", 2, "conflict", "occurrence_at")]
    assert report.runs_imported == ("r1", "r3")


def test_malformed_entries_are_named_by_file_line_and_field(dal: DataAccessLayer, tmp_path: Path) -> None:
    folder = _folder(
        tmp_path / "legacy",
        [
            _task("ok"),  # line 4
            _task("bad-cron", schedule_type="cron", schedule_expr="61 * * * *"),
            _task("bad-config", config={"retry": {"count": 99}}),
            _task("bad-type", task_type="backup"),
            _task("bad-zone", timezone="Mars/Olympus"),
            _task("naive", created_at="2024-05-01T00:00:00"),
            _task("extra", colour="red"),
            _task("Not A Slug"),
            _task("ok", schedule_expr="2h"),  # line 12: the same key again, other content
            _task("ok"),  # line 13: an identical repetition, ignored
        ],
    )
    (folder / "runs.jsonl").write_text(
        json.dumps(_run("ok", "r1")) + "\n"
        "not json\n"
        "\n"
        + json.dumps(_run("ok", "r2", success=True))
        + "\n"
        + json.dumps(_run("ok", "r3", attempt="2"))
        + "\n"
        + json.dumps(_run("ok", "r4", finished_at="2024-05-01T00:59:00Z", success=True))
        + "\n"
        + '{"task_key": "ok", "run_id": "r5", "run_id": "r5", "started_at": "2024-05-01T01:00:00Z"}\n'
        + json.dumps(_run("ok", "r6"))[:30]  # line 8: partly written, no newline
    )
    report = import_legacy(dal, folder)
    assert _problems(report) == [
        ("tasks.json", 5, "malformed", "schedule_expr"),
        ("tasks.json", 6, "malformed", "config.retry.count"),
        ("tasks.json", 7, "malformed", "task_type"),
        ("tasks.json", 8, "malformed", "timezone"),
        ("tasks.json", 9, "malformed", "created_at"),
        ("tasks.json", 10, "malformed", "colour"),
        ("tasks.json", 11, "malformed", "task_key"),
        ("tasks.json", 12, "malformed", "task_key"),
        ("runs.jsonl", 2, "malformed", None),
        ("runs.jsonl", 4, "malformed", None),
        ("runs.jsonl", 5, "malformed", "attempt"),
        ("runs.jsonl", 6, "malformed", None),
        ("runs.jsonl", 7, "malformed", None),
        ("runs.jsonl", 8, "malformed", None),
    ]
    text = {(Path(p.file).name, p.line): str(p) for p in report.problems}
    assert text[("tasks.json", 5)].endswith(
        "tasks.json, line 5: task 'bad-cron': schedule_expr '61 * * * *': expected a cron expression (Bad minute)"
    )
    assert "config.retry.count: Input should be less than or equal to 10" in text[("tasks.json", 6)]
    assert "has no offset" in text[("tasks.json", 9)]
    assert "colour: unknown key" in text[("tasks.json", 10)]
    assert "appears again (first on line 4)" in text[("tasks.json", 12)]
    assert "success is set but finished_at is null" in text[("runs.jsonl", 4)]
    assert "finished_at is before started_at" in text[("runs.jsonl", 6)]
    assert "'run_id' appears more than once" in text[("runs.jsonl", 7)]
    assert "partly written?" in text[("runs.jsonl", 8)] and "partly" not in text[("runs.jsonl", 2)]
    assert report.tasks_imported == ("ok",) and report.runs_imported == ("r1",)
    assert dal.get_task("ok").schedule_expr == "1h"


def test_runs_of_unknown_tasks_are_orphans(dal: DataAccessLayer, tmp_path: Path) -> None:
    dal.create_task(TaskSpec("in-db", "gc", "acme", "interval", "1h"))
    folder = _folder(
        tmp_path / "legacy",
        [_task("bad", schedule_expr="5x")],
        [_run("in-db", "r1"), _run("ghost", "r2"), _run("bad", "r3")],
    )
    report = import_legacy(dal, folder)
    assert _problems(report) == [
        ("tasks.json", 4, "malformed", "schedule_expr"),
        ("runs.jsonl", 2, "orphan", "task_key"),
        ("runs.jsonl", 3, "orphan", "task_key"),
    ]
    messages = [p.message for p in report.problems]
    assert "'ghost' is neither in the control plane nor in tasks.json" in messages[1]
    assert "'bad' was skipped (tasks.json line 4)" in messages[2]
    assert report.runs_imported == ("r1",)


def test_strict_imports_nothing_when_an_entry_is_refused(dal: DataAccessLayer, tmp_path: Path) -> None:
    folder = _folder(tmp_path / "legacy", [_task("t1"), _task("t2", status="gone")], [_run("t1", "r1")])
    report = import_legacy(dal, folder, strict=True)
    assert not report.applied and report.strict
    assert _problems(report) == [("tasks.json", 5, "malformed", "status")]
    assert (report.tasks_imported, report.runs_imported) == ((), ())
    assert dal.list_tasks() == []
    fine = _folder(tmp_path / "fine", [_task("t1")], [_run("t1", "r1")])
    assert import_legacy(dal, fine, strict=True).runs_imported == ("r1",)


def test_task_lines_are_where_each_object_starts(tmp_path: Path) -> None:
    folder = tmp_path / "legacy"
    folder.mkdir()
    first, second = json.dumps(_task("a")), json.dumps(_task("b", schedule_expr="nope"))
    (folder / "tasks.json").write_text(
        '{"tasks": [' + first + ",\n\n  " + second + ',\n  [1]],\n "version": 1}'
    )
    legacy = read_legacy_folder(folder)
    assert [(e.line, e.task.task_key) for e in legacy.tasks] == [(1, "a")]
    assert [(p.line, p.field) for p in legacy.problems] == [(3, "schedule_expr"), (4, None)]
    assert "a task must be a JSON object, not an array" in legacy.problems[1].message


@pytest.mark.parametrize(
    ("text", "location", "problem"),
    [
        ('{"version": 1, "tasks": [\n  {"task_key": "a",\n', "line 3, column 1", "partly written?"),
        ('{"version": 1, "tasks": [{"a": 1} {"b": 2}]}', "line 1, column 35", "expected ',' or ']'"),
        ('[{"task_key": "a"}]', "line 1, column 1", "the top level must be a JSON object"),
        ('{"version": 2, "tasks": []}', "version", "unsupported version 2"),
        ('{"version": "1", "tasks": []}', "version", "unsupported version '1'"),
        ('{"tasks": []}', "version", "required key is missing"),
        ('{"version": 1}', "tasks", "required key is missing"),
        ('{"version": 1, "tasks": [], "owner": "x"}', "owner", "unknown key"),
        ('{"version": 1, "tasks": {}}', "line 1, column 25", "tasks must be an array"),
        ('{"version": 1, "version": 1, "tasks": []}', "line 1", "'version' appears more than once"),
        ('{"version": 1, "tasks": []} []', "line 1, column 29", "extra text"),
    ],
)
def test_a_tasks_file_that_cannot_be_read_refuses_everything(
    tmp_path: Path, text: str, location: str, problem: str
) -> None:
    (tmp_path / "tasks.json").write_text(text)
    with pytest.raises(LegacyFileError) as caught:
        read_legacy_folder(tmp_path)
    assert caught.value.location.startswith(location)
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"{tmp_path / 'tasks.json'}, {location}")
    assert caught.value.exit_code == 4


def test_missing_folder_or_task_list_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(LegacyFolderError, match="does not exist") as caught:
        read_legacy_folder(tmp_path / "nope")
    assert caught.value.path == str(tmp_path / "nope") and caught.value.exit_code == 2
    (tmp_path / "runs.jsonl").write_text("")
    with pytest.raises(LegacyFolderError, match="needs its task list") as caught:
        read_legacy_folder(tmp_path)
    assert caught.value.path == str(tmp_path / "tasks.json")
    (tmp_path / "file").write_text("")
    with pytest.raises(LegacyFolderError, match="is not a folder"):
        read_legacy_folder(tmp_path / "file")


def test_a_runs_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    folder = _folder(tmp_path / "legacy", [_task("t1")])
    (folder / "runs.jsonl").write_bytes(json.dumps(_run("t1", "r1")).encode() + b"\n\xff\xfe\n")
    with pytest.raises(LegacyFileError, match="line 2: not UTF-8"):
        read_legacy_folder(folder)


# --- export ----------------------------------------------------------------------------------------


def test_import_then_export_gives_the_folder_back(dal: DataAccessLayer, tmp_path: Path) -> None:
    import_legacy(dal, DATA)
    out = tmp_path / "export"
    report = export_legacy(dal, out)
    assert (report.tasks, report.runs) == (6, 20)
    tasks, runs = _documents(out)
    legacy_tasks, legacy_runs = _documents(DATA)
    assert tasks == legacy_tasks  # created_at / updated_at included: the tasks keep their history
    assert runs == legacy_runs
    # tests/data/legacy is written as an export writes it: both files come back byte for byte
    assert (out / "runs.jsonl").read_text() == (DATA / "runs.jsonl").read_text()
    assert (out / "tasks.json").read_text() == (DATA / "tasks.json").read_text()
    assert [t["task_key"] for t in tasks] == sorted(t["task_key"] for t in tasks)
    assert [(r["started_at"], r["run_id"]) for r in runs] == sorted(
        (r["started_at"], r["run_id"]) for r in runs
    )
    again = import_legacy(dal, out)
    assert (again.tasks_imported, again.runs_imported, again.problems) == ((), (), ())
    assert (again.tasks_present, again.runs_present) == (6, 20)


def test_export_is_deterministic_and_atomic(dal: DataAccessLayer, tmp_path: Path) -> None:
    import_legacy(dal, DATA)
    first, second = tmp_path / "a", tmp_path / "b"
    export_legacy(dal, first)
    export_legacy(dal, second)
    for name in ("tasks.json", "runs.jsonl"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
    export_legacy(dal, first)  # over an earlier export: replaced, no temporary file left behind
    assert sorted(p.name for p in first.iterdir()) == ["runs.jsonl", "tasks.json"]


def test_export_of_one_company(dal: DataAccessLayer, tmp_path: Path) -> None:
    import_legacy(dal, DATA)
    report = export_legacy(dal, tmp_path / "beta", company="beta")
    tasks, runs = _documents(tmp_path / "beta")
    assert [t["task_key"] for t in tasks] == ["beta-notify-retry"]
    assert {r["task_key"] for r in runs} == {"beta-notify-retry"} and report.runs == len(runs) == 3
    empty = export_legacy(dal, tmp_path / "none", company="gamma")
    assert (empty.tasks, empty.runs) == (0, 0)
    assert json.loads((tmp_path / "none" / "tasks.json").read_text()) == {"version": 1, "tasks": []}
    assert (tmp_path / "none" / "runs.jsonl").read_text() == ""


def test_export_refuses_a_file_in_place_of_the_folder(dal: DataAccessLayer, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("x")
    with pytest.raises(LegacyFolderError, match="is not a folder"):
        export_legacy(dal, tmp_path / "taken")


# --- the compatibility log -------------------------------------------------------------------------


def _task_run(task_key: str, n: int, **fields: Any) -> TaskRun:
    start = T0 + timedelta(minutes=n)
    values: dict[str, Any] = {
        "finished_at": start + timedelta(seconds=2, microseconds=5),
        "success": n % 3 != 0,
        "message": f"run {n}: üñí\ncode",
        "metadata": {"n": n, "nested": {"b": 1, "a": [1.5, None]}},
        "occurrence_at": start,
        "attempt": 1,
        "worker_id": "host-1:42",
    }
    values.update(fields)
    return TaskRun(task_key=task_key, run_id=f"{task_key}-r{n}", started_at=start, **values)


def test_append_run_writes_one_line_in_the_format(tmp_path: Path) -> None:
    folder = tmp_path / "compat" / "legacy"  # created
    run = _task_run("t1", 1)
    append_run(folder, run)
    append_run(folder, _task_run("t1", 2, finished_at=None, success=None, message=None))
    lines = (folder / "runs.jsonl").read_text().split("\n")
    assert lines[-1] == "" and len(lines) == 3
    first = json.loads(lines[0])
    assert list(first) == [
        "task_key",
        "run_id",
        "started_at",
        "finished_at",
        "success",
        "message",
        "duration_ms",
        "metadata",
        "occurrence_at",
        "attempt",
        "worker_id",
    ]
    assert first["started_at"] == "2024-06-01T09:01:00+00:00" and first["duration_ms"] == 2000
    assert first["message"] == "run 1: üñí\ncode"
    assert LegacyRun.model_validate(first).task_run() == run
    assert json.loads(lines[1])["finished_at"] is None
    assert lines[0] + "\n" == run_line(run) and lines[0].isascii()


def test_append_run_only_appends(tmp_path: Path) -> None:
    append_run(tmp_path, _task_run("t1", 1))
    path = tmp_path / "runs.jsonl"
    before = path.read_bytes()
    inode = path.stat().st_ino
    append_run(tmp_path, _task_run("t1", 2))
    assert path.stat().st_ino == inode  # the same file, not a rewritten one
    assert path.read_bytes().startswith(before)


def test_append_run_after_a_torn_line_starts_a_line_of_its_own(tmp_path: Path, dal: DataAccessLayer) -> None:
    _folder(tmp_path, [_task("t1")])
    (tmp_path / "runs.jsonl").write_text(json.dumps(_run("t1", "r0")) + "\n" + '{"task_key": "t1", "ru')
    append_run(tmp_path, _task_run("t1", 1))
    report = import_legacy(dal, tmp_path)
    assert _problems(report) == [("runs.jsonl", 2, "malformed", None)]
    assert report.runs_imported == ("r0", "t1-r1")


def test_concurrent_appends_never_interleave(tmp_path: Path) -> None:
    def work(worker: int) -> None:
        for n in range(50):
            append_run(tmp_path, _task_run(f"t{worker}", n, metadata={"pad": "x" * 2000}))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = (tmp_path / "runs.jsonl").read_text().splitlines()
    assert len(lines) == 200
    assert {LegacyRun.model_validate(json.loads(line)).run_id for line in lines} == {
        f"t{w}-r{n}" for w in range(4) for n in range(50)
    }


def test_import_of_the_compatibility_log_adds_nothing_for_runs_in_the_db(
    dal: DataAccessLayer, tmp_path: Path
) -> None:
    """What the worker does in compatibility mode: record a run, then append it to the log."""
    dal.create_task(TaskSpec("t1", "gc", "acme", "interval", "1h"))
    compat = tmp_path / "compat"
    export_legacy(dal, compat)  # the folder's tasks.json (DataHound's, or an export)
    recorded = [_task_run("t1", n) for n in range(5)]
    for run in recorded:
        dal.record_task_run(run)
        append_run(compat, run)
    report = import_legacy(dal, compat)
    assert (report.tasks_present, report.runs_present, report.runs_imported, report.problems) == (
        1,
        5,
        (),
        (),
    )
    # a run the control plane lost (e.g. restored from an older backup) comes back from the log
    append_run(compat, _task_run("t1", 5))
    assert import_legacy(dal, compat).runs_imported == ("t1-r5",)
    assert dal.get_task_run("t1-r5") == _task_run("t1", 5)
