"""Importing a legacy folder into the control plane (idempotent), in one control-plane transaction.

:func:`import_legacy` reads the folder, plans the import (:mod:`lakehouse.ops.legacy.plan`) and writes
it. Every entry that cannot be imported is reported with its file and line and skipped; with
``strict`` nothing is imported unless every entry can be.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse.dal import DataAccessLayer
from lakehouse.errors import AlreadyExistsError, NotFoundError
from lakehouse.ops.legacy.format import TASKS_FILE
from lakehouse.ops.legacy.plan import ImportPlan, plan_import, recorded_for
from lakehouse.ops.legacy.reader import LegacyFolder, LegacyProblem, RunEntry, read_legacy_folder

logger = logging.getLogger(__name__)


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
            plan = plan_import(dal, legacy)
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


def _apply(
    dal: DataAccessLayer, legacy: LegacyFolder, plan: ImportPlan, strict: bool
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
    other = recorded_for(dal, run.run_id)
    message = (
        f"run {run.run_id!r} was recorded by someone else during the import, for task {other!r}; left as it is"
        if other is not None
        else f"run {run.run_id!r} could not be recorded for task {run.task_key!r} (changed during the import?)"
    )
    return LegacyProblem(
        str(legacy.runs_path), entry.line, "conflict", message, field="run_id", key=run.run_id
    )
