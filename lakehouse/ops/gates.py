"""Review gates synced from the gate files the PR review automation writes (format: docs/gates.md).

One JSON file per task, validated by :class:`GateFile` (strict, unknown keys refused). :func:`sync_gates`
upserts each file's gate through the DAL; ``ready`` is computed from the checks and the mode, never
read from the file. A gate that became ready (it was not, or it was for another head commit) is marked
ready; then every synced gate that is ready is announced: the notifier sends one message per
(task, head commit, state), however many syncs announce it. A malformed or half-written file is
skipped and reported by name and field; the other files still sync.

:func:`export_gates` writes the control plane's gates back as gate files of the same format (syncing
an export changes nothing); it never removes files of gates that are no longer in the database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, StrictBool, StrictInt, StringConstraints, ValidationError

from lakehouse.config.models import ConfigModel, NonEmptyStr, ReviewMode, SchemaVersion
from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.atomic import atomic_write_text
from lakehouse.db.records import GateMode, PullRequest, ReviewChecks, ReviewGateRecord
from lakehouse.errors import (
    GateFileError,
    GateFolderError,
    LakehouseError,
    NotFoundError,
)
from lakehouse.ops.notify import Message
from lakehouse.ops.strict_json import strict_loads

logger = logging.getLogger(__name__)

GATE_FILE_SUFFIX = ".json"
#: A gate file is a few hundred bytes; anything this large is not one.
MAX_GATE_FILE_BYTES = 1 << 20
TASK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"

Announce = Callable[[ReviewGateRecord], object]
"""Called with every gate that is ready after a sync; returns what it sent (empty/None: nothing new)."""

TaskId = Annotated[str, StringConstraints(strict=True, pattern=TASK_ID_PATTERN)]
"""1-128 characters of A-Z, a-z, 0-9, '.', '_' or '-', starting with a letter or digit (a file name)."""
RepoName = Annotated[str, StringConstraints(strict=True, pattern=r"^[^\s/]+/[^\s/]+$")]
CommitSha = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9a-f]{7,64}$")]


# --- the gate file format --------------------------------------------------------------------------


class GatePullRequest(ConfigModel):
    """The pull request a gate is about."""

    number: StrictInt = Field(ge=1, description="The pull request's number in its repository.")
    repo: RepoName = Field(description="The repository, as owner/name.")
    branch: NonEmptyStr = Field(description="The pull request's head branch.")


class GateChecks(ConfigModel):
    """Whether each check passed on the head commit (true) or not (false: failed or still pending)."""

    ci: StrictBool = Field(description="CI passed.")
    codex: StrictBool = Field(description="The Codex review approved.")
    claude: StrictBool = Field(description="The Claude review approved.")
    gemini: StrictBool = Field(description="The Gemini review approved.")
    branch_up_to_date: StrictBool = Field(description="The branch contains the base branch's head.")
    screenshots: StrictBool = Field(description="The pull request includes its screenshots.")


class GateFile(ConfigModel):
    """One task's review gate, as the review automation writes it (``<task_id>.json``)."""

    schema_version: SchemaVersion = Field(description="Version of this file's format; currently '1'.")
    task_id: TaskId = Field(description="The task the pull request implements.")
    pr: GatePullRequest
    head_commit: CommitSha | None = Field(
        description="The head commit the checks were made on (lowercase hex); null if not known."
    )
    mode: ReviewMode = Field(
        description="strict: every check must pass; soft: ci, branch_up_to_date and one reviewer."
    )
    checks: GateChecks

    def review_checks(self) -> ReviewChecks:
        c = self.checks
        return ReviewChecks(
            ci_passed=c.ci,
            codex_passed=c.codex,
            claude_passed=c.claude,
            gemini_passed=c.gemini,
            branch_up_to_date=c.branch_up_to_date,
            screenshots_included=c.screenshots,
        )

    def pull_request(self) -> PullRequest:
        return PullRequest(number=self.pr.number, repo=self.pr.repo, branch=self.pr.branch)


def gate_document(gate: ReviewGateRecord) -> dict[str, Any]:
    """A gate as the JSON object of its gate file (the format :class:`GateFile` reads)."""
    c = gate.checks
    return {
        "schema_version": "1",
        "task_id": gate.task_id,
        "pr": {"number": gate.pr.number, "repo": gate.pr.repo, "branch": gate.pr.branch},
        "head_commit": gate.head_commit,
        "mode": gate.mode,
        "checks": {
            "ci": c.ci_passed,
            "codex": c.codex_passed,
            "claude": c.claude_passed,
            "gemini": c.gemini_passed,
            "branch_up_to_date": c.branch_up_to_date,
            "screenshots": c.screenshots_included,
        },
    }


#: The gate file's name of each check (:class:`GateChecks`), by its name in :class:`ReviewChecks`.
CHECK_NAMES = {
    "ci_passed": "ci",
    "codex_passed": "codex",
    "claude_passed": "claude",
    "gemini_passed": "gemini",
    "branch_up_to_date": "branch_up_to_date",
    "screenshots_included": "screenshots",
}


def failing_checks(gate: ReviewGateRecord) -> list[str]:
    """The checks (by their gate file names) keeping ``gate`` from being ready in its mode; empty when ready."""
    mode: GateMode = "soft" if gate.mode == "soft" else "strict"
    failing = gate.checks.failing(mode)
    return [
        "one of codex/claude/gemini" if name.startswith("one of ") else CHECK_NAMES.get(name, name)
        for name in failing
    ]


def gate_file_name(task_id: str) -> str:
    return f"{task_id}{GATE_FILE_SUFFIX}"


# --- reading gate files ----------------------------------------------------------------------------


def gate_files(folder: Path) -> list[Path]:
    """The gate files of ``folder``, by name: regular ``*.json`` files, hidden and temporary ones left out.

    Raises:
        GateFolderError: ``folder`` does not exist or is not a folder.
    """
    if not folder.exists():
        raise GateFolderError(str(folder), "does not exist")
    if not folder.is_dir():
        raise GateFolderError(str(folder), "is not a folder")
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise GateFolderError(str(folder), f"cannot be read: {exc.strerror or exc}") from exc
    # A name starting with '.' is hidden or a temporary file of an atomic write (.tmp-<uuid>-x.json).
    return sorted(
        (p for p in entries if p.suffix == GATE_FILE_SUFFIX and not p.name.startswith(".") and p.is_file()),
        key=lambda p: p.name,
    )


def read_gate_file(path: Path) -> GateFile:
    """Read and validate one gate file.

    Raises:
        GateFileError: the file cannot be read, is empty or partly written (not complete JSON), has a
            key twice, or does not match the format; names the file and the fields at fault.
    """
    file = str(path)
    raw = _parse(path)
    if not isinstance(raw, dict):
        raise GateFileError(file, "", f"top level must be a JSON object, not {_json_type(raw)}")
    if "schema_version" in raw and raw["schema_version"] != "1":
        # Another version may have another shape: its field errors would only be noise.
        value = raw["schema_version"]
        hint = " (write it as a string)" if value == 1 and not isinstance(value, bool) else ""
        raise GateFileError(
            file, "schema_version", f"unsupported schema_version {value!r}{hint}; supported: '1'"
        )
    try:
        return GateFile.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem(error) for error in exc.errors(include_url=False, include_input=False)]
        if len(problems) == 1:
            raise GateFileError(file, *problems[0]) from None
        raise GateFileError(file, "", "; ".join(f"{loc}: {msg}" for loc, msg in problems)) from None


def _parse(path: Path) -> object:
    file = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_GATE_FILE_BYTES:
            raise GateFileError(
                file, "", f"{size} bytes: too large for a gate file (at most {MAX_GATE_FILE_BYTES})"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise GateFileError(file, "", f"cannot read file: {exc.strerror or exc}") from exc
    if not data.strip():
        raise GateFileError(file, "", "empty file (still being written? it is read again at the next sync)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GateFileError(file, f"byte {exc.start}", "file is not UTF-8 text") from None
    try:
        return strict_loads(text)
    except json.JSONDecodeError as exc:
        partial = (
            " (partly written? it is read again at the next sync)" if exc.pos >= len(text.rstrip()) else ""
        )
        raise GateFileError(
            file, f"line {exc.lineno}, column {exc.colno}", f"invalid JSON: {exc.msg}{partial}"
        ) from None
    except ValueError as exc:  # a key twice, NaN / Infinity
        raise GateFileError(file, "", f"invalid JSON: {exc}") from None


def _problem(error: Any) -> tuple[str, str]:
    loc = ".".join(str(part) for part in error["loc"]) or "(top level)"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key (not part of the gate file format)"
        if loc == "ready":
            message = "unknown key: ready is computed from the checks and the mode, never read from the file"
    elif error["type"] == "missing":
        message = "required key is missing"
    return loc, message


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "a number"


# --- sync ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateSyncReport:
    """What one sync of a gate folder did.

    Attributes:
        folder: the synced folder.
        synced: gate files applied (written, or already in the database in that state).
        changed: task ids whose gate was created or changed.
        became_ready: task ids whose gate became ready (was not ready, absent, or for another head).
        ready: task ids whose gate is ready after the sync (each was announced).
        notified: announcements that delivered something (a receipt the announcer returned was sent).
        skipped: ``(file, problem)`` of each file not synced.
        announce_errors: ``(task id, error)`` of each announcement that failed (the gate is synced).
    """

    folder: Path
    synced: int = 0
    changed: tuple[str, ...] = ()
    became_ready: tuple[str, ...] = ()
    ready: tuple[str, ...] = ()
    notified: int = 0
    skipped: tuple[tuple[Path, str], ...] = ()
    announce_errors: tuple[tuple[str, str], ...] = field(default=())

    def summary(self) -> str:
        """One line: what was synced, became ready, notified and skipped."""
        text = (
            f"synced {self.synced} gate file(s) from {self.folder}: {len(self.changed)} changed, "
            f"{len(self.became_ready)} became ready, {len(self.ready)} ready, {self.notified} notified"
        )
        return text + (f", {len(self.skipped)} skipped" if self.skipped else "")


def sync_gates(dal: DataAccessLayer, folder: Path, announce: Announce | None = None) -> GateSyncReport:
    """Upsert the gate of every gate file in ``folder``, then announce every synced gate that is ready.

    Each file is applied in a transaction of its own: its gate is upserted with the file's head commit
    (``ready`` computed) and, when it became ready, marked ready. Announcements come after the commits,
    for every synced gate still ready (a crash between a commit and its announcement is made good by
    the next sync); the announcer dedupes them (:func:`ready_message` keys on the head commit).

    Args:
        dal: the control plane.
        folder: the folder of gate files (``*.json``; other and hidden files are ignored).
        announce: called with each ready gate; None announces nothing.

    Returns:
        The report; files that could not be synced are in ``skipped`` with their problem.

    Raises:
        GateFolderError: ``folder`` does not exist or is not a folder.
    """
    skipped: list[tuple[Path, str]] = []
    parsed: list[tuple[Path, GateFile]] = []
    for path in gate_files(folder):
        try:
            parsed.append((path, read_gate_file(path)))
        except GateFileError as exc:
            logger.warning("skipping gate file %s", exc)
            skipped.append((path, _without_file(exc)))
    parsed = _drop_duplicate_tasks(parsed, skipped)

    changed: list[str] = []
    became_ready: list[str] = []
    for _path, gate_file in parsed:
        was_changed, became = _apply(dal, gate_file)
        if was_changed:
            changed.append(gate_file.task_id)
        if became:
            became_ready.append(gate_file.task_id)

    ready: list[str] = []
    notified = 0
    errors: list[tuple[str, str]] = []
    for _path, gate_file in parsed:
        gate = dal.get_review_gate(gate_file.task_id)
        if not gate.ready:
            continue
        ready.append(gate.task_id)
        if announce is None:
            continue
        try:
            sent = announce(gate)
        except LakehouseError as exc:
            logger.warning("announcing gate %s ready failed: %s", gate.task_id, exc)
            errors.append((gate.task_id, str(exc)))
            continue
        notified += _sent_something(sent)

    skipped.sort(key=lambda item: item[0].name)
    return GateSyncReport(
        folder=folder,
        synced=len(parsed),
        changed=tuple(changed),
        became_ready=tuple(became_ready),
        ready=tuple(ready),
        notified=notified,
        skipped=tuple(skipped),
        announce_errors=tuple(errors),
    )


def _apply(dal: DataAccessLayer, gate_file: GateFile) -> tuple[bool, bool]:
    """Upsert one file's gate; (whether it changed, whether it became ready)."""
    task_id = gate_file.task_id
    with dal.transaction():
        try:
            before: ReviewGateRecord | None = dal.get_review_gate(task_id)
        except NotFoundError:
            before = None
        gate = dal.upsert_review_gate(
            task_id,
            gate_file.pull_request(),
            gate_file.review_checks(),
            gate_file.mode,
            head_commit=gate_file.head_commit,
        )
        changed = before is None or before.updated_at != gate.updated_at
        became = gate.ready and (before is None or not before.ready or before.head_commit != gate.head_commit)
        if became:
            dal.mark_ready(task_id)
    if became:
        logger.info("review gate of %s became ready (head %s)", task_id, gate_file.head_commit)
    return changed, became


def _drop_duplicate_tasks(
    parsed: list[tuple[Path, GateFile]], skipped: list[tuple[Path, str]]
) -> list[tuple[Path, GateFile]]:
    """Skip every file of a task that more than one file describes: which one is right is not known."""
    by_task: dict[str, list[Path]] = {}
    for path, gate_file in parsed:
        by_task.setdefault(gate_file.task_id, []).append(path)
    kept = []
    for path, gate_file in parsed:
        paths = by_task[gate_file.task_id]
        if len(paths) == 1:
            kept.append((path, gate_file))
            continue
        others = ", ".join(p.name for p in paths if p != path)
        skipped.append(
            (path, f"task_id: task {gate_file.task_id!r} is also in {others}; keep one file per task")
        )
    return kept


def _without_file(exc: GateFileError) -> str:
    return f"{exc.location}: {exc.problem}" if exc.location else exc.problem


def _sent_something(result: object) -> int:
    """1 if an announcer's result says something was delivered: receipts (``status``) count only
    when sent, not when the delivery failed."""
    if result is None:
        return 0
    if isinstance(result, Iterable) and not isinstance(result, str | bytes):
        items = list(result)
        return 1 if any(getattr(item, "status", "sent") == "sent" for item in items) else 0
    return 1 if result else 0


# --- export ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateExportReport:
    """What one export wrote: files written, files already up to date, gates that cannot be exported."""

    folder: Path
    written: tuple[Path, ...] = ()
    unchanged: tuple[Path, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()


def export_gates(dal: DataAccessLayer, folder: Path) -> GateExportReport:
    """Write every gate of the control plane as ``<task_id>.json`` in ``folder`` (created if missing).

    Each file is written atomically, and only when its content differs; files of gates that are no
    longer in the database are left alone. A gate whose document the gate file format would refuse
    (a task id that is not a file name) is not written but reported in ``refused``.

    Raises:
        GateFolderError: ``folder`` exists and is not a folder.
    """
    if folder.exists() and not folder.is_dir():
        raise GateFolderError(str(folder), "is not a folder")
    written: list[Path] = []
    unchanged: list[Path] = []
    refused: list[tuple[str, str]] = []
    for gate in dal.list_review_gates():
        document = gate_document(gate)
        try:
            GateFile.model_validate(document)
        except ValidationError as exc:
            loc, msg = _problem(exc.errors(include_url=False, include_input=False)[0])
            refused.append((gate.task_id, f"{loc}: {msg}"))
            continue
        path = folder / gate_file_name(gate.task_id)
        text = json.dumps(document, indent=2) + "\n"
        if _current_text(path) == text:
            unchanged.append(path)
            continue
        atomic_write_text(path, text)
        written.append(path)
    return GateExportReport(folder, tuple(written), tuple(unchanged), tuple(refused))


def _current_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


# --- notification ----------------------------------------------------------------------------------


def ready_message(gate: ReviewGateRecord) -> Message:
    """The ``ready`` notification of a gate, deduplicated per (task, head commit, state)."""
    head = gate.head_commit or "unknown-head"
    pr = gate.pr
    return Message(
        task_id=gate.task_id,
        message_type="ready",
        dedupe=f"{head}:ready",
        text=(
            f"Task {gate.task_id}: PR #{pr.number} in {pr.repo} ({pr.branch}) is ready to merge "
            f"({gate.mode} review gate, head {head[:12]})"
        ),
        details={
            "task_id": gate.task_id,
            "pr_number": pr.number,
            "repo": pr.repo,
            "branch": pr.branch,
            "head_commit": gate.head_commit,
            "mode": gate.mode,
        },
    )
