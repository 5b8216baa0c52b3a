"""Writing the legacy format: an export of the control plane, and the compatibility run log.

:func:`export_legacy` writes the control plane's tasks and runs as a legacy folder, each file
atomically; :func:`append_run` appends one run to ``runs.jsonl`` (the compatibility mode of the
scheduler worker, ``scheduler.legacy_json_dir`` of global.json).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.atomic import append_line, atomic_write_text
from lakehouse.db.records import TaskRun
from lakehouse.errors import LegacyFolderError
from lakehouse.ops.legacy.format import LEGACY_VERSION, RUNS_FILE, TASKS_FILE, run_line, task_document

logger = logging.getLogger(__name__)


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
