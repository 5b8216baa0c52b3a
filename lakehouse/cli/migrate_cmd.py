"""`lakehouse migrate`: Move scheduler state between the control plane and DataHound's legacy JSON files.

``import-json DIR`` reads DataHound's ``tasks.json`` and ``runs.jsonl`` (docs/legacy-json.md) into the
scheduler tables; it is idempotent, and names the file and line of every entry it skips (then exits 4).
``export-json DIR`` writes the scheduler tables back in the same format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakehouse.cli.errors import catch_errors
from lakehouse.cli.options import OptionalCompanyOpt, OutputOpt, configured_companies, require_known
from lakehouse.cli.output import OutputFormat, console, print_json
from lakehouse.errors import LegacyEntriesSkippedError
from lakehouse.names import validate_slug
from lakehouse.ops.legacy import export_legacy, import_legacy, legacy_tasks_file
from lakehouse.runtime import open_store

migrate_app = typer.Typer(
    help=(
        "Move scheduler state between the control plane and DataHound's legacy JSON files "
        "(tasks.json and runs.jsonl, see docs/legacy-json.md)."
    ),
    no_args_is_help=True,
)

FolderArg = Annotated[
    Path,
    typer.Argument(
        metavar="DIR", help="The legacy folder: tasks.json (the task list) and runs.jsonl (the runs)."
    ),
]


@migrate_app.command("import-json")
@catch_errors
def import_json_command(
    folder: FolderArg,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Import nothing unless every entry can be imported (all are checked before anything is written).",
        ),
    ] = False,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Import DataHound's scheduler state from DIR: the tasks of tasks.json, the runs of runs.jsonl.

    Safe to run again: a task already in the control plane (same task_key) and a run already recorded
    (same run_id) are not added twice. One whose content differs is reported as a conflict and left
    as it is. Each task is checked like `lakehouse scheduler add` checks one (schedule, arguments).

    An entry that cannot be imported (malformed, conflicting, a run of a task neither in the control
    plane nor in tasks.json) is named with its file and line and skipped, the others are imported,
    and the command exits 4; with --strict nothing is imported then. A missing DIR or tasks.json is
    a usage error (exit 2).
    """
    legacy_tasks_file(folder)  # a missing folder or file is said before the database is opened
    with open_store() as store:
        report = import_legacy(store.dal, folder, strict=strict)
    if output == OutputFormat.json:
        print_json(report.as_dict())
    else:
        for problem in report.problems:
            console.print(f"skipped ({problem.kind}): {problem}")
        console.print(report.summary())
    if report.problems:
        raise LegacyEntriesSkippedError(
            str(folder), [str(p) for p in report.problems], strict=not report.applied
        )


@migrate_app.command("export-json")
@catch_errors
def export_json_command(
    folder: FolderArg,
    company: OptionalCompanyOpt = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Write the scheduler's tasks (every status) and their runs to DIR as tasks.json and runs.jsonl.

    The format is the one import-json reads: tasks by task_key, runs by started_at then run_id,
    timestamps in UTC. Each file is written atomically (DIR is created if needed); importing the
    export again adds nothing. With --company, only that company's tasks and their runs.
    """
    with open_store() as store:
        if company is not None:
            validate_slug("company", company)
            known = {task.company for task in store.dal.list_tasks()} | set(configured_companies())
            require_known("company", company, known)
        report = export_legacy(store.dal, folder, company)
    tasks_path, runs_path = report.files
    if output == OutputFormat.json:
        print_json(
            {
                "folder": str(report.folder),
                "company": company,
                "tasks": report.tasks,
                "runs": report.runs,
                "files": [str(tasks_path), str(runs_path)],
            }
        )
        return
    console.print(f"exported {report.tasks} task(s) and {report.runs} run(s) to {tasks_path} and {runs_path}")
