"""Planning an import: each valid entry of a legacy folder sorted into to add, present, or a problem.

A task is known by its ``task_key``, a run by its ``run_id``: an entry already in the control plane is
left as it is, and when its content differs (in :data:`COMPARED_TASK_FIELDS` /
:data:`COMPARED_RUN_FIELDS`) that is a conflict. A run whose task is neither in the control plane nor
imported is an orphan.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import Task, TaskRun
from lakehouse.errors import NotFoundError
from lakehouse.ops.legacy.format import TASKS_FILE, LegacyModel, utc_iso
from lakehouse.ops.legacy.reader import LegacyFolder, LegacyProblem, RunEntry, TaskEntry

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


@dataclass
class ImportPlan:
    """What an import will do: the entries to add, those present already, and the problems."""

    tasks: list[TaskEntry] = field(default_factory=list)
    runs: list[RunEntry] = field(default_factory=list)
    tasks_present: int = 0
    runs_present: int = 0
    problems: list[LegacyProblem] = field(default_factory=list)


def plan_import(dal: DataAccessLayer, legacy: LegacyFolder) -> ImportPlan:
    """Sort every valid entry into: to add, present already, or a problem."""
    plan = ImportPlan(problems=list(legacy.problems))
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
                        f"occurrence_at {utc_iso(run.occurrence_at)} and attempt {run.attempt} already",
                        field="occurrence_at",
                        key=run.run_id,
                    )
                )
                continue
            occurrences[slot] = run.run_id
        elsewhere = recorded_for(dal, run.run_id)
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


def recorded_for(dal: DataAccessLayer, run_id: str) -> str | None:
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
        return str(utc_iso(value))
    text = json.dumps(value, default=str, sort_keys=True) if isinstance(value, dict) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
