"""`lakehouse gates`: Review gates of pull requests, synced from the review automation's gate files.

``sync DIR`` reads the gate files (docs/gates.md), upserts the gates and announces those that are ready
(once per task and head commit); a malformed file is named and skipped, and the command then exits 4.
``list`` shows the gates; ``export DIR`` writes them back as gate files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lakehouse.cli.errors import catch_errors, err_console
from lakehouse.cli.options import OutputOpt
from lakehouse.cli.output import OutputFormat, console, emit, print_json
from lakehouse.config import load_config
from lakehouse.db.records import ReviewGateRecord
from lakehouse.errors import GateFilesSkippedError, GatesNotExportedError
from lakehouse.ops.gates import (
    export_gates,
    failing_checks,
    gate_document,
    gate_files,
    ready_message,
    sync_gates,
)
from lakehouse.ops.notify import Notifier
from lakehouse.runtime import open_store
from lakehouse.settings import get_settings

gates_app = typer.Typer(
    help="Review gates of pull requests, synced from the review automation's gate files.",
    no_args_is_help=True,
)

FolderArg = Annotated[Path, typer.Argument(metavar="DIR", help="The folder of gate files (<task_id>.json).")]


@gates_app.command("sync")
@catch_errors
def gates_sync_command(folder: FolderArg, output: OutputOpt = OutputFormat.text) -> None:
    """Sync the gate files of DIR into the control plane and announce the gates that are ready.

    Files other than *.json, and hidden ones, are ignored. A malformed or half-written file is
    skipped (the others still sync): the command then names each one and exits 4.
    """
    gate_files(folder)  # a missing folder is said before the config and the channels are read

    settings = get_settings()
    config = load_config(settings.config_dir)
    with open_store(settings) as store:
        notifier = Notifier.from_config(store.dal, config, store.root.root)
        report = sync_gates(store.dal, folder, lambda gate: notifier.send(ready_message(gate)))
    warnings = list(notifier.warnings)
    warnings += [f"announcing gate {task} ready failed: {error}" for task, error in report.announce_errors]
    for warning in warnings:
        err_console.print(f"warning: {warning}")
    if output == OutputFormat.json:
        print_json(
            {
                "folder": str(report.folder),
                "synced": report.synced,
                "changed": list(report.changed),
                "became_ready": list(report.became_ready),
                "ready": list(report.ready),
                "notified": report.notified,
                "skipped": [{"file": str(path), "problem": problem} for path, problem in report.skipped],
                "warnings": warnings,
            }
        )
    else:
        console.print(report.summary())
        for task in report.became_ready:
            console.print(f"ready: {task}")
    if report.skipped:
        raise GateFilesSkippedError(
            str(folder), report.synced, [(path.name, problem) for path, problem in report.skipped]
        )


@gates_app.command("list")
@catch_errors
def gates_list_command(
    ready: Annotated[
        bool | None,
        typer.Option("--ready/--not-ready", help="Only the gates that are ready (or that are not)."),
    ] = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """List the review gates by task id, with the checks keeping each one from being ready."""
    with open_store() as store:
        gates = store.dal.list_review_gates(ready)
    rows = [_row(gate) for gate in gates]
    if output == OutputFormat.json:
        print_json(rows)
        return
    what = "ready " if ready else "not ready " if ready is False else ""
    emit(
        OutputFormat.text,
        f"{what}review gates",
        [
            r
            | {
                "pr": f"{r['pr']['repo']}#{r['pr']['number']}",
                "branch": r["pr"]["branch"],
                "head": (r["head_commit"] or "")[:12],
                "ready": "yes" if r["ready"] else "no",
                "failing": ", ".join(r["failing"]),
                "updated_at": f"{gate.updated_at:%Y-%m-%d %H:%M:%S}",
            }
            for r, gate in zip(rows, gates, strict=True)
        ],
        ["task_id", "pr", "branch", "head", "mode", "ready", "failing", "updated_at"],
    )


@gates_app.command("export")
@catch_errors
def gates_export_command(folder: FolderArg, output: OutputOpt = OutputFormat.text) -> None:
    """Write every gate as DIR/<task_id>.json, in the gate file format (a sync of DIR then changes nothing).

    Each file is written atomically, only when it differs; files of gates no longer in the control
    plane are left in DIR.
    """
    with open_store() as store:
        report = export_gates(store.dal, folder)
    exported = len(report.written) + len(report.unchanged)
    if output == OutputFormat.json:
        print_json(
            {
                "folder": str(report.folder),
                "written": [str(p) for p in report.written],
                "unchanged": [str(p) for p in report.unchanged],
                "refused": [{"task_id": t, "problem": p} for t, p in report.refused],
            }
        )
    else:
        console.print(
            f"exported {exported} gate(s) to {folder}: {len(report.written)} written, "
            f"{len(report.unchanged)} unchanged"
        )
    if report.refused:
        raise GatesNotExportedError(str(folder), exported, report.refused)


def _row(gate: ReviewGateRecord) -> dict[str, Any]:
    """A gate as its gate file's document, with what is computed: ready, the failing checks, updated_at."""
    return gate_document(gate) | {
        "ready": gate.ready,
        "failing": failing_checks(gate),
        "updated_at": gate.updated_at,
    }
