"""Reading a legacy folder: every valid entry with its line, and a problem for each invalid one.

:func:`read_legacy_folder` validates ``tasks.json`` (required) and ``runs.jsonl`` (optional) entry by
entry; an entry that cannot be imported becomes a :class:`LegacyProblem` naming its file and line. A
whole file that cannot be read (not JSON, not UTF-8, another version) is a
:class:`~lakehouse.errors.LegacyFileError`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from lakehouse.errors import LegacyFileError, LegacyFolderError, ScheduleError, TaskConfigError
from lakehouse.ops.legacy.format import LEGACY_VERSION, RUNS_FILE, TASKS_FILE, LegacyRun, LegacyTask
from lakehouse.ops.schedule import Schedule
from lakehouse.ops.strict_json import JsonCursor, json_type, strict_decoder, strict_loads
from lakehouse.ops.task_config import parse_task_config

ProblemKind = Literal["malformed", "conflict", "orphan"]
"""Why an entry was skipped: it does not validate; the control plane holds it with other content (or
something else under its key); a run of a task that is neither in the control plane nor imported."""


@dataclass(frozen=True)
class LegacyProblem:
    """One entry that was not imported: where it is, why, and what it is about.

    Attributes:
        file: the file holding the entry.
        line: the line it starts on (None: not known, e.g. a conflict found while writing).
        kind: malformed, conflict or orphan (see :data:`ProblemKind`).
        message: what is wrong, naming the field at fault where there is one.
        field: the field at fault (``schedule_expr``, ``config.retry.count``), if one is.
        key: the entry's ``task_key`` (tasks.json) or ``run_id`` (runs.jsonl), when it could be read.
    """

    file: str
    line: int | None
    kind: ProblemKind
    message: str
    field: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}, line {self.line}"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "kind": self.kind,
            "field": self.field,
            "key": self.key,
            "problem": self.message,
        }


@dataclass(frozen=True)
class TaskEntry:
    """A valid task of ``tasks.json`` and the line its object starts on."""

    line: int
    task: LegacyTask


@dataclass(frozen=True)
class RunEntry:
    """A valid line of ``runs.jsonl``."""

    line: int
    run: LegacyRun


@dataclass(frozen=True)
class LegacyFolder:
    """What a legacy folder holds: its valid entries, and a problem for each invalid one.

    Attributes:
        skipped_tasks: ``task_key -> line`` of the tasks of tasks.json skipped as malformed (for the
            message of their runs).
    """

    folder: Path
    tasks: tuple[TaskEntry, ...] = ()
    runs: tuple[RunEntry, ...] = ()
    problems: tuple[LegacyProblem, ...] = ()
    skipped_tasks: Mapping[str, int] = field(default_factory=dict)

    @property
    def tasks_path(self) -> Path:
        return self.folder / TASKS_FILE

    @property
    def runs_path(self) -> Path:
        return self.folder / RUNS_FILE


def legacy_tasks_file(folder: Path) -> Path:
    """The ``tasks.json`` of legacy folder ``folder``.

    Raises:
        LegacyFolderError: the folder or its tasks.json does not exist (or is not a folder / file).
    """
    if not folder.exists():
        raise LegacyFolderError(
            str(folder), "does not exist (give the folder holding tasks.json and runs.jsonl)"
        )
    if not folder.is_dir():
        raise LegacyFolderError(
            str(folder), "is not a folder (give the folder holding tasks.json and runs.jsonl)"
        )
    tasks_path = folder / TASKS_FILE
    if not tasks_path.is_file():
        what = "is not a file" if tasks_path.exists() else "does not exist"
        raise LegacyFolderError(
            str(tasks_path), f"{what}: a legacy folder needs its task list (docs/legacy-json.md)"
        )
    return tasks_path


def read_legacy_folder(folder: Path) -> LegacyFolder:
    """Read and validate a legacy folder: ``tasks.json`` (required) and ``runs.jsonl`` (optional).

    Each task is checked as ``lakehouse scheduler add`` checks one: its schedule
    (:meth:`Schedule.parse`) and its arguments (:func:`parse_task_config`). An entry that does not
    validate, or a key that appears twice with other content, becomes a problem (the entry is
    skipped); an identical repetition is ignored.

    Raises:
        LegacyFolderError: the folder or its tasks.json does not exist (or is not a folder / file).
        LegacyFileError: a whole file cannot be read: tasks.json is not JSON, not of the format's shape
            or of another version; a file that is not UTF-8.
    """
    tasks_path = legacy_tasks_file(folder)
    tasks, task_problems, skipped = _read_tasks(tasks_path)
    runs_path = folder / RUNS_FILE
    runs: list[RunEntry] = []
    run_problems: list[LegacyProblem] = []
    if runs_path.exists():
        runs, run_problems = _read_runs(runs_path)
    return LegacyFolder(
        folder=folder,
        tasks=tuple(tasks),
        runs=tuple(runs),
        problems=(*task_problems, *run_problems),
        skipped_tasks=skipped,
    )


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LegacyFolderError(str(path), f"cannot be read: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LegacyFileError(str(path), f"line {line}", "not UTF-8 text") from None


def _read_tasks(path: Path) -> tuple[list[TaskEntry], list[LegacyProblem], dict[str, int]]:
    file = str(path)
    entries: list[TaskEntry] = []
    problems: list[LegacyProblem] = []
    skipped: dict[str, int] = {}
    first_seen: dict[str, TaskEntry] = {}
    for line, raw in _task_objects(file, _read_text(path)):
        checked = _check_task(file, line, raw)
        if isinstance(checked, LegacyProblem):
            problems.append(checked)
            if checked.key is not None:
                skipped.setdefault(checked.key, line)
            continue
        earlier = first_seen.get(checked.task_key)
        if earlier is None:
            first_seen[checked.task_key] = entry = TaskEntry(line, checked)
            entries.append(entry)
        elif earlier.task != checked:
            problems.append(
                LegacyProblem(
                    file,
                    line,
                    "malformed",
                    f"task {checked.task_key!r} appears again (first on line {earlier.line}) with other "
                    "content; this one is skipped",
                    field="task_key",
                    key=checked.task_key,
                )
            )
    return entries, problems, skipped


def _check_task(file: str, line: int, raw: object) -> LegacyTask | LegacyProblem:
    """The task of one object of tasks.json, its schedule and arguments checked; else its problem."""
    key = raw.get("task_key") if isinstance(raw, dict) else None
    key = key if isinstance(key, str) else None
    label = f"task {key!r}" if key is not None else "task"
    if not isinstance(raw, dict):
        return LegacyProblem(file, line, "malformed", f"a task must be a JSON object, not {json_type(raw)}")
    try:
        task = LegacyTask.model_validate(raw)
    except ValidationError as exc:
        where, message = _validation_problem(exc)
        return LegacyProblem(file, line, "malformed", f"{label}: {message}", field=where, key=key)
    try:
        schedule = Schedule.parse(task.schedule_type, task.schedule_expr, task.timezone)
    except ScheduleError as exc:
        return LegacyProblem(file, line, "malformed", f"{label}: {exc}", field=exc.field, key=key)
    try:
        parse_task_config(task.task_type, task.config)
    except TaskConfigError as exc:
        where = exc.field.replace("config_json", "config", 1)
        problem = str(exc).removeprefix(f"{exc.field}: ")
        return LegacyProblem(file, line, "malformed", f"{label}: {where}: {problem}", field=where, key=key)
    return task.model_copy(update={"schedule_type": schedule.kind, "schedule_expr": schedule.expr})


def _read_runs(path: Path) -> tuple[list[RunEntry], list[LegacyProblem]]:
    file = str(path)
    text = _read_text(path)
    lines = text.split("\n")
    entries: list[RunEntry] = []
    problems: list[LegacyProblem] = []
    first_seen: dict[str, RunEntry] = {}
    for number, line_text in enumerate(lines, start=1):
        if not line_text.strip():
            continue
        last = number == len(lines)  # no newline after it: maybe still being written
        checked = _check_run(file, number, line_text, last)
        if isinstance(checked, LegacyProblem):
            problems.append(checked)
            continue
        earlier = first_seen.get(checked.run_id)
        if earlier is None:
            first_seen[checked.run_id] = entry = RunEntry(number, checked)
            entries.append(entry)
        elif earlier.run != checked:
            problems.append(
                LegacyProblem(
                    file,
                    number,
                    "malformed",
                    f"run {checked.run_id!r} appears again (first on line {earlier.line}) with other "
                    "content; this one is skipped",
                    field="run_id",
                    key=checked.run_id,
                )
            )
    return entries, problems


def _check_run(file: str, number: int, text: str, last: bool) -> LegacyRun | LegacyProblem:
    try:
        raw = strict_loads(text)
    except json.JSONDecodeError as exc:
        partial = " (partly written? the line has no newline at its end)" if last else ""
        problem = exc.msg[:1].lower() + exc.msg[1:]
        return LegacyProblem(
            file, number, "malformed", f"invalid JSON at column {exc.colno}: {problem}{partial}"
        )
    except ValueError as exc:  # a key twice, NaN / Infinity
        return LegacyProblem(file, number, "malformed", f"invalid JSON: {exc}")
    if not isinstance(raw, dict):
        return LegacyProblem(file, number, "malformed", f"a run must be a JSON object, not {json_type(raw)}")
    key = raw.get("run_id") if isinstance(raw.get("run_id"), str) else None
    try:
        return LegacyRun.model_validate(raw)
    except ValidationError as exc:
        where, message = _validation_problem(exc)
        label = f"run {key!r}" if key is not None else "run"
        return LegacyProblem(file, number, "malformed", f"{label}: {message}", field=where, key=key)


def _validation_problem(exc: ValidationError) -> tuple[str | None, str]:
    """The first field at fault, and every error as ``field: message``."""
    parts: list[str] = []
    first: str | None = None
    for error in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (not part of the legacy format)"
        elif error["type"] == "missing":
            message = "required key is missing"
        first = first if first is not None else (loc or None)
        parts.append(f"{loc}: {message}" if loc else message)
    return first, "; ".join(parts)


def _task_objects(file: str, text: str) -> Iterator[tuple[int, object]]:
    """Each element of the ``tasks`` array of tasks.json, with the line it starts on.

    Raises:
        LegacyFileError: the text is not JSON, its top level is not ``{"version": 1, "tasks": [...]}``.
    """
    reader = JsonCursor(file, text, strict_decoder())
    reader.expect("{", "the top level must be a JSON object")
    seen: dict[str, object] = {}
    elements: list[tuple[int, object]] = []
    if not reader.take("}"):
        while True:
            name = reader.value()
            if not isinstance(name, str):
                reader.fail("expected a key in double quotes")
            if name in seen:
                reader.fail(f"key {name!r} appears more than once")
            reader.expect(":", "expected ':' after a key")
            if name == "tasks":
                elements = reader.array()
                seen[name] = elements
            else:
                seen[name] = reader.value()
            if reader.take("}"):
                break
            reader.expect(",", "expected ',' or '}'")
        reader.end()
    unknown = sorted(set(seen) - {"version", "tasks"})
    if unknown:
        raise LegacyFileError(file, unknown[0], "unknown key (tasks.json has only version and tasks)")
    if "version" not in seen:
        raise LegacyFileError(file, "version", f'required key is missing (write "version": {LEGACY_VERSION})')
    version = seen["version"]
    if version != LEGACY_VERSION or isinstance(version, bool):
        raise LegacyFileError(
            file, "version", f"unsupported version {version!r}; supported: {LEGACY_VERSION}"
        )
    if "tasks" not in seen:
        raise LegacyFileError(file, "tasks", "required key is missing (the array of tasks)")
    yield from elements
