"""DataHound's legacy JSON scheduler state (docs/legacy-json.md): import it, export it, and keep its run log going.

The public API is re-exported here; the modules are:

* :mod:`~lakehouse.ops.legacy.format` — the files, the entry models (:class:`LegacyTask`,
  :class:`LegacyRun`) and the entries written from the control plane;
* :mod:`~lakehouse.ops.strict_json` (shared with the gate files) — strict JSON decoding, and a cursor that knows lines;
* :mod:`~lakehouse.ops.legacy.reader` — reading and validating a legacy folder, entry by entry;
* :mod:`~lakehouse.ops.legacy.plan` — sorting the entries into to add, present already, or a problem;
* :mod:`~lakehouse.ops.legacy.importer` — :func:`import_legacy`, in one control-plane transaction;
* :mod:`~lakehouse.ops.legacy.exporter` — :func:`export_legacy` and the compatibility log (:func:`append_run`).
"""

from __future__ import annotations

from lakehouse.ops.legacy.exporter import LegacyExportReport, append_run, export_legacy
from lakehouse.ops.legacy.format import (
    LEGACY_VERSION,
    RUNS_FILE,
    TASKS_FILE,
    LegacyModel,
    LegacyRun,
    LegacyTask,
    run_document,
    run_line,
    task_document,
)
from lakehouse.ops.legacy.importer import LegacyImportReport, import_legacy
from lakehouse.ops.legacy.plan import COMPARED_RUN_FIELDS, COMPARED_TASK_FIELDS
from lakehouse.ops.legacy.reader import (
    LegacyFolder,
    LegacyProblem,
    ProblemKind,
    RunEntry,
    TaskEntry,
    legacy_tasks_file,
    read_legacy_folder,
)

__all__ = [
    "COMPARED_RUN_FIELDS",
    "COMPARED_TASK_FIELDS",
    "LEGACY_VERSION",
    "RUNS_FILE",
    "TASKS_FILE",
    "LegacyExportReport",
    "LegacyFolder",
    "LegacyImportReport",
    "LegacyModel",
    "LegacyProblem",
    "LegacyRun",
    "LegacyTask",
    "ProblemKind",
    "RunEntry",
    "TaskEntry",
    "append_run",
    "export_legacy",
    "import_legacy",
    "legacy_tasks_file",
    "read_legacy_folder",
    "run_document",
    "run_line",
    "task_document",
]
