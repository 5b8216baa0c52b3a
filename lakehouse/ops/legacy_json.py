"""DataHound's legacy JSON scheduler state: import it, export it, and keep its run log going.

The format (docs/legacy-json.md) is a folder holding ``tasks.json`` (``{"version": 1, "tasks": [...]}``,
one object per task) and ``runs.jsonl`` (one run per line). :class:`LegacyTask` and :class:`LegacyRun`
validate one entry each: strict, unknown keys refused, timestamps ISO 8601 with an offset (kept in UTC).

:func:`import_legacy` is idempotent: a task is known by its ``task_key``, a run by its ``run_id``; an
entry already in the control plane is left as it is (when it differs, that is reported as a conflict).
Every entry that cannot be imported is reported with its file and line and skipped; with ``strict``
nothing is imported unless every entry can be. Everything is done in one control-plane transaction.

:func:`export_legacy` writes the control plane's tasks and runs in the same format, each file atomically;
:func:`append_run` appends one run to ``runs.jsonl`` (the compatibility mode of the scheduler worker,
``scheduler.legacy_json_dir`` of global.json).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Final, Literal, NoReturn

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    model_validator,
)

from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.atomic import append_line, atomic_write_text
from lakehouse.db.records import Task, TaskRun, TaskSpec, TaskStatus
from lakehouse.errors import (
    AlreadyExistsError,
    LegacyFileError,
    LegacyFolderError,
    NotFoundError,
    ScheduleError,
    TaskConfigError,
)
from lakehouse.names import SLUG_REGEX
from lakehouse.ops.schedule import Schedule
from lakehouse.ops.task_config import parse_task_config

logger = logging.getLogger(__name__)

LEGACY_VERSION: Final = 1
TASKS_FILE: Final = "tasks.json"
RUNS_FILE: Final = "runs.jsonl"

ProblemKind = Literal["malformed", "conflict", "orphan"]
"""Why an entry was skipped: it does not validate; the control plane holds it with other content (or
something else under its key); a run of a task that is neither in the control plane nor imported."""


# --- the format ------------------------------------------------------------------------------------


_TIMESTAMP_EXAMPLE: Final = "an ISO 8601 timestamp with an offset, e.g. 2024-05-01T06:00:00+00:00"


def _timestamp(value: object) -> object:
    """An ISO 8601 string read as a datetime (a number, a date alone, or no offset refused)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or "T" not in value.upper():
        raise ValueError(f"expected {_TIMESTAMP_EXAMPLE}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not {_TIMESTAMP_EXAMPLE}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{value!r} has no offset: expected {_TIMESTAMP_EXAMPLE}")
    return moment


def _in_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


Timestamp = Annotated[AwareDatetime, BeforeValidator(_timestamp), AfterValidator(_in_utc)]
"""An ISO 8601 string with an offset (``Z`` or ``+02:00``), read into UTC; a number or a time without
an offset is refused."""
Slug = Annotated[str, StringConstraints(strict=True, pattern=f"^{SLUG_REGEX}$")]
"""1-63 characters of a-z, 0-9, '_' or '-', starting with a letter or digit (task keys, companies)."""
Text = Annotated[StrictStr, StringConstraints(min_length=1)]
JsonObject = Annotated[dict[str, Any], Field(strict=True)]


class LegacyModel(BaseModel):
    """Base of the legacy entries: frozen, unknown keys refused, no NaN/Infinity, inputs kept out of errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False, hide_input_in_errors=True)


class LegacyTask(LegacyModel):
    """One task of ``tasks.json``."""

    task_key: Slug = Field(description="The task's unique key.")
    task_type: Text = Field(
        description="ingest, build, extract, events_refresh, gates_sync, gc or notify_retry."
    )
    company: Slug = Field(description="The company the task runs for.")
    schedule_type: Text = Field(description="cron, interval or once.")
    schedule_expr: Text = Field(description="5 cron fields, an interval (15m) or an ISO timestamp.")
    timezone: Text = Field(default="UTC", description="IANA time zone the schedule is read in.")
    config: JsonObject = Field(default_factory=dict, description="The task type's arguments.")
    status: TaskStatus = Field(default="active", description="active, paused, deleted or done.")
    created_at: Timestamp = Field(description="When the task was created.")
    updated_at: Timestamp = Field(description="When the task was last changed.")
    next_run_at: Timestamp | None = Field(
        default=None, description="Its next due occurrence (null: not scheduled)."
    )

    def spec(self) -> TaskSpec:
        """The task as the control plane creates it."""
        return TaskSpec(
            task_key=self.task_key,
            task_type=self.task_type,
            company=self.company,
            schedule_type=self.schedule_type,
            schedule_expr=self.schedule_expr,
            timezone=self.timezone,
            config=dict(self.config),
            status=self.status,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


class LegacyRun(LegacyModel):
    """One line of ``runs.jsonl``: a run of a task, finished or not."""

    task_key: Slug = Field(description="The task that ran.")
    run_id: Text = Field(description="The run's unique id.")
    started_at: Timestamp = Field(description="When it started.")
    finished_at: Timestamp | None = Field(default=None, description="When it finished (null: unfinished).")
    success: StrictBool | None = Field(default=None, description="Whether it succeeded (null: unfinished).")
    message: StrictStr | None = Field(default=None, description="Its one-line summary or error.")
    duration_ms: Annotated[StrictInt, Field(ge=0)] | None = Field(
        default=None, description="finished_at - started_at in ms; derived, not stored (see the docs)."
    )
    metadata: JsonObject = Field(default_factory=dict, description="What the run recorded.")
    occurrence_at: Timestamp | None = Field(default=None, description="The occurrence of the task it ran.")
    attempt: Annotated[StrictInt, Field(ge=1)] = Field(default=1, description="Which try of the occurrence.")
    worker_id: Text | None = Field(default=None, description="The worker that ran it.")

    @model_validator(mode="after")
    def _consistent(self) -> LegacyRun:
        if self.finished_at is None:
            if self.success is not None:
                raise ValueError("success is set but finished_at is null: a run with a result has finished")
            if self.duration_ms is not None:
                raise ValueError("duration_ms is set but finished_at is null")
        elif self.finished_at < self.started_at:
            raise ValueError("finished_at is before started_at")
        return self

    def task_run(self) -> TaskRun:
        """The run as the control plane records it."""
        return TaskRun(
            task_key=self.task_key,
            run_id=self.run_id,
            started_at=self.started_at,
            finished_at=self.finished_at,
            success=self.success,
            message=self.message,
            metadata=dict(self.metadata),
            occurrence_at=self.occurrence_at,
            attempt=self.attempt,
            worker_id=self.worker_id,
        )


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone: legacy timestamps are written in UTC")
    return moment.astimezone(UTC).isoformat()


def _sorted(value: Any) -> Any:
    """``value`` with the keys of every nested object sorted (so an export is byte-for-byte stable)."""
    if isinstance(value, Mapping):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list | tuple):
        return [_sorted(item) for item in value]
    return value


def task_document(task: Task) -> dict[str, Any]:
    """A control-plane task as an entry of ``tasks.json`` (keys in the documented order)."""
    return {
        "task_key": task.task_key,
        "task_type": task.task_type,
        "company": task.company,
        "schedule_type": task.schedule_type,
        "schedule_expr": task.schedule_expr,
        "timezone": task.timezone,
        "config": _sorted(task.config),
        "status": task.status,
        "created_at": _iso(task.created_at),
        "updated_at": _iso(task.updated_at),
        "next_run_at": _iso(task.next_run_at),
    }


def run_document(run: TaskRun) -> dict[str, Any]:
    """A run as a line of ``runs.jsonl`` (every key written, null where there is no value)."""
    return {
        "task_key": run.task_key,
        "run_id": run.run_id,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "success": run.success,
        "message": run.message,
        "duration_ms": run.duration_ms,
        "metadata": _sorted(run.metadata),
        "occurrence_at": _iso(run.occurrence_at),
        "attempt": run.attempt,
        "worker_id": run.worker_id,
    }


def run_line(run: TaskRun) -> str:
    """A run as one complete line of ``runs.jsonl``, newline included (ASCII: other characters escaped)."""
    return json.dumps(run_document(run), allow_nan=False) + "\n"


# --- reading a legacy folder -----------------------------------------------------------------------


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
        return LegacyProblem(file, line, "malformed", f"a task must be a JSON object, not {_json_type(raw)}")
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
        raw = _loads(text)
    except json.JSONDecodeError as exc:
        partial = " (partly written? the line has no newline at its end)" if last else ""
        problem = exc.msg[:1].lower() + exc.msg[1:]
        return LegacyProblem(
            file, number, "malformed", f"invalid JSON at column {exc.colno}: {problem}{partial}"
        )
    except ValueError as exc:  # a key twice, NaN / Infinity
        return LegacyProblem(file, number, "malformed", f"invalid JSON: {exc}")
    if not isinstance(raw, dict):
        return LegacyProblem(file, number, "malformed", f"a run must be a JSON object, not {_json_type(raw)}")
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
    decoder = json.JSONDecoder(object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    reader = _Reader(file, text, decoder)
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


class _Reader:
    """A cursor over JSON text that knows the line of every position (for tasks.json's task lines)."""

    def __init__(self, file: str, text: str, decoder: json.JSONDecoder) -> None:
        self.file = file
        self.text = text
        self.pos = 0
        self.decoder = decoder

    def line(self, pos: int | None = None) -> int:
        return self.text.count("\n", 0, self.pos if pos is None else pos) + 1

    def fail(self, problem: str, pos: int | None = None) -> NoReturn:
        at = self.pos if pos is None else pos
        column = at - (self.text.rfind("\n", 0, at) + 1) + 1
        # Complete JSON text ends with its top-level '}' (or ']'): without it, the file was cut short.
        partial = "" if self.text.rstrip().endswith(("}", "]")) else " (the file ends early: partly written?)"
        raise LegacyFileError(
            self.file, f"line {self.line(at)}, column {column}", f"invalid JSON: {problem}{partial}"
        )

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def take(self, char: str) -> bool:
        self.skip()
        if self.text.startswith(char, self.pos):
            self.pos += 1
            return True
        return False

    def expect(self, char: str, problem: str) -> None:
        if not self.take(char):
            self.fail(problem)

    def value(self) -> object:
        self.skip()
        try:
            value, self.pos = self.decoder.raw_decode(self.text, self.pos)
        except json.JSONDecodeError as exc:
            self.fail(exc.msg, exc.pos)
        except ValueError as exc:  # a key twice, NaN / Infinity
            self.fail(str(exc))
        return value

    def array(self) -> list[tuple[int, object]]:
        """The elements of the array starting here, each with the line it starts on."""
        self.expect("[", "tasks must be an array of task objects")
        items: list[tuple[int, object]] = []
        if self.take("]"):
            return items
        while True:
            self.skip()
            line = self.line()
            items.append((line, self.value()))
            if self.take("]"):
                return items
            self.expect(",", "expected ',' or ']' after a task")

    def end(self) -> None:
        self.skip()
        if self.pos != len(self.text):
            self.fail("extra text after the top-level object")


def _loads(text: str) -> object:
    return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError(f"key {key!r} appears more than once")
        obj[key] = value
    return obj


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "a number"


# --- import ----------------------------------------------------------------------------------------

#: The fields of a task compared with the control plane's (the scheduler moves next_run_at; the
#: control plane keeps its own created_at / updated_at).
COMPARED_TASK_FIELDS: Final = (
    "task_type",
    "company",
    "schedule_type",
    "schedule_expr",
    "timezone",
    "config",
    "status",
)
#: The fields of a run compared with the control plane's (duration_ms is derived from the times).
COMPARED_RUN_FIELDS: Final = (
    "task_key",
    "started_at",
    "finished_at",
    "success",
    "message",
    "metadata",
    "occurrence_at",
    "attempt",
    "worker_id",
)


@dataclass(frozen=True)
class LegacyImportReport:
    """What one import of a legacy folder did.

    Attributes:
        folder: the imported folder.
        strict: every entry had to import, or none.
        applied: the import was written (False: ``strict`` and some entry could not be imported).
        tasks_imported: keys of the tasks added (none when not ``applied``).
        runs_imported: ids of the runs added (none when not ``applied``).
        tasks_present: tasks already in the control plane with the same content.
        runs_present: runs already in the control plane with the same content.
        problems: each entry skipped, in file and line order.
    """

    folder: Path
    strict: bool = False
    applied: bool = True
    tasks_imported: tuple[str, ...] = ()
    runs_imported: tuple[str, ...] = ()
    tasks_present: int = 0
    runs_present: int = 0
    problems: tuple[LegacyProblem, ...] = ()

    def summary(self) -> str:
        """One line: what was imported, what was there already, what was skipped."""
        if not self.applied:
            return f"nothing imported from {self.folder} (--strict): {len(self.problems)} entry(ies) refused"
        return (
            f"imported {len(self.tasks_imported)} task(s) and {len(self.runs_imported)} run(s) from "
            f"{self.folder}; already present: {self.tasks_present} task(s), {self.runs_present} run(s); "
            f"skipped: {len(self.problems)}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "folder": str(self.folder),
            "strict": self.strict,
            "applied": self.applied,
            "imported": {"tasks": list(self.tasks_imported), "runs": list(self.runs_imported)},
            "already_present": {"tasks": self.tasks_present, "runs": self.runs_present},
            "skipped": [problem.as_dict() for problem in self.problems],
        }


class _StrictRefusal(Exception):
    """Rolls the import's transaction back: ``strict`` and an entry turned out not to import."""

    def __init__(self, problem: LegacyProblem) -> None:
        self.problem = problem


@dataclass
class _Plan:
    tasks: list[TaskEntry] = field(default_factory=list)
    runs: list[RunEntry] = field(default_factory=list)
    tasks_present: int = 0
    runs_present: int = 0
    problems: list[LegacyProblem] = field(default_factory=list)


def import_legacy(dal: DataAccessLayer, folder: Path, strict: bool = False) -> LegacyImportReport:
    """Import the tasks and runs of a legacy folder into the control plane (idempotent).

    A task whose key is in the control plane already, and a run whose id is, are not added again; if
    its content differs, that is a conflict: reported, and the control plane's is left as it is. A
    run whose task is neither in the control plane nor imported is reported too. Imported tasks keep
    their status and ``next_run_at``; their ``created_at`` / ``updated_at`` are the time of the import.

    Args:
        dal: the control plane.
        folder: the legacy folder (tasks.json, and runs.jsonl if there are runs).
        strict: import nothing unless every entry can be imported.

    Returns:
        What was imported and what was skipped (with the file and line of each skipped entry).

    Raises:
        LegacyFolderError: the folder or its tasks.json is missing.
        LegacyFileError: a whole file cannot be read (nothing is imported).
    """
    legacy = read_legacy_folder(folder)
    try:
        with dal.transaction():
            plan = _plan(dal, legacy)
            if strict and plan.problems:
                raise _StrictRefusal(plan.problems[0])
            tasks, runs = _apply(dal, legacy, plan, strict)
    except _StrictRefusal as refusal:
        problems = plan.problems if plan.problems else [refusal.problem]
        return LegacyImportReport(folder, strict=True, applied=False, problems=tuple(_ordered(problems)))
    logger.info("imported %d task(s) and %d run(s) from %s", len(tasks), len(runs), folder)
    return LegacyImportReport(
        folder,
        strict=strict,
        tasks_imported=tuple(tasks),
        runs_imported=tuple(runs),
        tasks_present=plan.tasks_present,
        runs_present=plan.runs_present,
        problems=tuple(_ordered(plan.problems)),
    )


def _ordered(problems: Sequence[LegacyProblem]) -> list[LegacyProblem]:
    """tasks.json's problems first, then runs.jsonl's, each by line."""
    return sorted(problems, key=lambda p: (not p.file.endswith(TASKS_FILE), p.line or 0))


def _plan(dal: DataAccessLayer, legacy: LegacyFolder) -> _Plan:
    """Sort every valid entry into: to add, present already, or a problem."""
    plan = _Plan(problems=list(legacy.problems))
    existing = {task.task_key: task for task in dal.list_tasks()}
    tasks_file, runs_file = str(legacy.tasks_path), str(legacy.runs_path)
    for entry in legacy.tasks:
        current = existing.get(entry.task.task_key)
        if current is None:
            plan.tasks.append(entry)
            continue
        differences = _differences(entry.task, current, COMPARED_TASK_FIELDS)
        if differences:
            plan.problems.append(
                LegacyProblem(
                    tasks_file,
                    entry.line,
                    "conflict",
                    f"task {entry.task.task_key!r} is in the control plane already with other content "
                    f"({differences}); left as it is",
                    field=differences.split(":", 1)[0],
                    key=entry.task.task_key,
                )
            )
        else:
            plan.tasks_present += 1
    imported = {entry.task.task_key for entry in plan.tasks}
    recorded: dict[str, dict[str, TaskRun]] = {}
    occurrences: dict[tuple[str, datetime, int], str] = {}  # (task, occurrence, attempt) -> run_id

    def runs_of(task_key: str) -> dict[str, TaskRun]:
        if task_key not in recorded:
            runs = dal.list_task_runs(task_key)
            recorded[task_key] = {run.run_id: run for run in runs}
            for run in runs:
                if run.occurrence_at is not None:
                    occurrences[(task_key, run.occurrence_at, run.attempt)] = run.run_id
        return recorded[task_key]

    for run_entry in legacy.runs:
        run = run_entry.run
        if run.task_key not in existing and run.task_key not in imported:
            plan.problems.append(_orphan(runs_file, run_entry, legacy))
            continue
        known = runs_of(run.task_key) if run.task_key in existing else {}
        current_run = known.get(run.run_id)
        if current_run is not None:
            differences = _differences(run, current_run, COMPARED_RUN_FIELDS)
            if differences:
                plan.problems.append(
                    LegacyProblem(
                        runs_file,
                        run_entry.line,
                        "conflict",
                        f"run {run.run_id!r} is in the control plane already with other content "
                        f"({differences}); left as it is",
                        field=differences.split(":", 1)[0],
                        key=run.run_id,
                    )
                )
            else:
                plan.runs_present += 1
            continue
        if run.occurrence_at is not None:
            slot = (run.task_key, run.occurrence_at, run.attempt)
            other = occurrences.get(slot)
            if other is not None:
                plan.problems.append(
                    LegacyProblem(
                        runs_file,
                        run_entry.line,
                        "conflict",
                        f"run {run.run_id!r}: task {run.task_key!r} has run {other!r} for the same "
                        f"occurrence_at {_iso(run.occurrence_at)} and attempt {run.attempt} already",
                        field="occurrence_at",
                        key=run.run_id,
                    )
                )
                continue
            occurrences[slot] = run.run_id
        elsewhere = _recorded_for(dal, run.run_id)
        if elsewhere is not None:
            plan.problems.append(
                LegacyProblem(
                    runs_file,
                    run_entry.line,
                    "conflict",
                    f"run {run.run_id!r} is recorded already, for task {elsewhere!r}; left as it is",
                    field="run_id",
                    key=run.run_id,
                )
            )
            continue
        plan.runs.append(run_entry)
    return plan


def _recorded_for(dal: DataAccessLayer, run_id: str) -> str | None:
    """The task a run id is recorded for already, if it is (run ids are unique across tasks)."""
    try:
        return dal.get_task_run(run_id).task_key
    except NotFoundError:
        return None


def _orphan(file: str, entry: RunEntry, legacy: LegacyFolder) -> LegacyProblem:
    key = entry.run.task_key
    line = legacy.skipped_tasks.get(key)
    why = (
        f"was skipped ({TASKS_FILE} line {line})"
        if line is not None
        else f"is neither in the control plane nor in {TASKS_FILE}"
    )
    return LegacyProblem(
        file,
        entry.line,
        "orphan",
        f"run {entry.run.run_id!r}: its task {key!r} {why}",
        field="task_key",
        key=entry.run.run_id,
    )


def _differences(legacy: LegacyModel, current: Task | TaskRun, fields: Sequence[str]) -> str:
    """``field: legacy vs control plane`` for each compared field that differs ("" when none does)."""
    shown: list[str] = []
    for name in fields:
        ours, theirs = getattr(legacy, name), getattr(current, name)
        if ours != theirs:
            shown.append(f"{name}: {_shown(ours)} in the file, {_shown(theirs)} in the control plane")
    return "; ".join(shown)


def _shown(value: object) -> str:
    if isinstance(value, datetime):
        return str(_iso(value))
    text = json.dumps(value, default=str, sort_keys=True) if isinstance(value, dict) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _apply(
    dal: DataAccessLayer, legacy: LegacyFolder, plan: _Plan, strict: bool
) -> tuple[list[str], list[str]]:
    """Write the planned entries (in the caller's transaction); an entry that turns out to clash
    (another writer, a run id recorded for another task) becomes a problem, or, if ``strict``,
    rolls everything back."""
    tasks: list[str] = []
    runs: list[str] = []
    for entry in plan.tasks:
        try:
            dal.create_task(entry.task.spec(), entry.task.next_run_at)
        except AlreadyExistsError:
            problem = LegacyProblem(
                str(legacy.tasks_path),
                entry.line,
                "conflict",
                f"task {entry.task.task_key!r} was added by someone else during the import; left as it is",
                field="task_key",
                key=entry.task.task_key,
            )
            if strict:
                raise _StrictRefusal(problem) from None
            plan.problems.append(problem)
            continue
        tasks.append(entry.task.task_key)
    for run_entry in plan.runs:
        try:
            dal.record_task_run(run_entry.run.task_run())
        except (AlreadyExistsError, NotFoundError):
            problem = _run_clash(dal, legacy, run_entry)
            if strict:
                raise _StrictRefusal(problem) from None
            plan.problems.append(problem)
            continue
        runs.append(run_entry.run.run_id)
    return tasks, runs


def _run_clash(dal: DataAccessLayer, legacy: LegacyFolder, entry: RunEntry) -> LegacyProblem:
    run = entry.run
    other = _recorded_for(dal, run.run_id)
    message = (
        f"run {run.run_id!r} was recorded by someone else during the import, for task {other!r}; left as it is"
        if other is not None
        else f"run {run.run_id!r} could not be recorded for task {run.task_key!r} (changed during the import?)"
    )
    return LegacyProblem(
        str(legacy.runs_path), entry.line, "conflict", message, field="run_id", key=run.run_id
    )


# --- export ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LegacyExportReport:
    """What an export wrote: the number of tasks and runs, and the two files."""

    folder: Path
    tasks: int
    runs: int

    @property
    def files(self) -> tuple[Path, Path]:
        return (self.folder / TASKS_FILE, self.folder / RUNS_FILE)


def export_legacy(dal: DataAccessLayer, folder: Path, company: str | None = None) -> LegacyExportReport:
    """Write the control plane's tasks (of ``company``, if given; every status) and their runs as a
    legacy folder: tasks by key, runs by ``started_at`` then ``run_id``.

    Each file is written atomically (the folder is created if needed); the pair is not: runs.jsonl is
    written first, so a crash in between leaves the previous tasks.json beside the new runs.

    Raises:
        LegacyFolderError: ``folder`` exists and is not a folder.
    """
    if folder.exists() and not folder.is_dir():
        raise LegacyFolderError(str(folder), "is not a folder")
    with dal.transaction():  # one consistent read of the tasks and their runs
        tasks = dal.list_tasks(company)
        runs = [run for task in tasks for run in dal.list_task_runs(task.task_key)]
    runs.sort(key=lambda run: (run.started_at, run.run_id))
    document = {"version": LEGACY_VERSION, "tasks": [task_document(task) for task in tasks]}
    atomic_write_text(folder / RUNS_FILE, "".join(run_line(run) for run in runs))
    atomic_write_text(folder / TASKS_FILE, json.dumps(document, indent=2, allow_nan=False) + "\n")
    logger.info("exported %d task(s) and %d run(s) to %s", len(tasks), len(runs), folder)
    return LegacyExportReport(folder, len(tasks), len(runs))


# --- the compatibility log -------------------------------------------------------------------------


def append_run(legacy_dir: Path, run: TaskRun) -> None:
    """Append ``run`` as one line to ``<legacy_dir>/runs.jsonl`` (creating the folder and the file).

    Through :func:`lakehouse.dataplane.atomic.append_line`: ``O_APPEND`` under an exclusive
    ``flock``, then fsynced, so concurrent workers on one machine never interleave their lines; the
    log is never rewritten whole, and a line torn by a crash is closed before this one.

    Raises:
        OSError: the folder or the file cannot be written (the worker logs it; the run is in the
            control plane anyway).
    """
    append_line(legacy_dir / RUNS_FILE, run_line(run).encode("utf-8"))
