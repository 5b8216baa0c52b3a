"""What each type of scheduled task does: one function per ``task_type``, over the same pipelines as
the commands (``lakehouse ingest``, ``build``, ``extract``, ``gc``, ``gates sync``, ``notify retry``).

A runner gets the task, its checked arguments (:mod:`lakehouse.ops.task_config`) and the scheduler
run's id, which the pipeline run it starts takes as its own: ``lakehouse runs show <run_id>`` of a
scheduler run shows the pipeline run. It returns a one-line summary and metadata for
``scheduler_runs``, or raises (the worker records the error and retries as the task says).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from lakehouse.config.models import LakehouseConfig
from lakehouse.dataplane.ingest import BronzeIngest
from lakehouse.dataplane.store import DatasetStore
from lakehouse.db.records import Task
from lakehouse.ops.task_config import (
    BuildTaskConfig,
    ExtractTaskConfig,
    GatesSyncTaskConfig,
    GcTaskConfig,
    IngestTaskConfig,
    NotifyRetryTaskConfig,
    TaskConfig,
)
from lakehouse.settings import Settings
from lakehouse.transform.build import DbtBuild
from lakehouse.transform.events import refresh_events
from lakehouse.transform.extraction_run import run_extraction


@dataclass(frozen=True)
class TaskContext:
    """What every runner may use: the data store (and its DAL), the loaded config, the settings."""

    store: DatasetStore
    config: LakehouseConfig
    settings: Settings


def base_dir(settings: Settings) -> Path:
    """Where a relative ``scheduler.legacy_json_dir`` starts: the config folder's parent, or the
    current folder under the config shipped with the package."""
    config_dir, shipped = settings.config_dir_or_shipped()
    return Path.cwd() if shipped else config_dir.parent


@dataclass(frozen=True)
class TaskResult:
    """A finished task: a one-line summary and what ``scheduler_runs.metadata_json`` records."""

    message: str
    metadata: dict[str, Any] = field(default_factory=dict)


Runner = Callable[[TaskContext, Task, Any, str], TaskResult]


def run_ingest(ctx: TaskContext, task: Task, cfg: IngestTaskConfig, run_id: str) -> TaskResult:
    """Ingest what is new in the drop folder (files already ingested are skipped by their claims)."""
    folder = Path(cfg.drop_folder)
    result = BronzeIngest(ctx.store).run(
        task.company,
        [folder],
        on_error=cfg.on_error,
        delimiter=cfg.delimiter,
        encoding=cfg.encoding,
        header_case=cfg.header_case,
        run_id=run_id,
    )
    published = [f"{v.get('zone', 'bronze')}.{v.get('dataset')}" for v in result.versions]
    metadata = {
        "pipeline_run": result.run_id,
        "ingested_files": len(result.ingested),
        "skipped_files": len(result.skipped),
        "rows": result.rows,
        "published": published,
    }
    if result.run_id is None:
        return TaskResult(
            f"nothing new in {folder} ({len(result.skipped)} file(s) ingested before)", metadata
        )
    return TaskResult(
        f"ingested {len(result.ingested)} file(s), {result.rows} row(s) from {folder} (run {result.run_id})",
        metadata,
    )


def run_build(ctx: TaskContext, task: Task, cfg: BuildTaskConfig, run_id: str) -> TaskResult:
    """Build silver and gold; new events that notify are announced (once each)."""
    from lakehouse.ops.notify import Notifier, notify_new_events

    result = DbtBuild(ctx.store, ctx.config, ctx.settings.dbt_project_dir).run(
        task.company,
        select=list(cfg.select) or None,
        wait_seconds=cfg.wait_seconds,
        allow_partial=cfg.allow_partial,
        run_id=run_id,
        full_refresh=cfg.full_refresh,
    )
    notifier = Notifier.from_config(ctx.store.dal, ctx.config, ctx.store.root.root)
    announced = notify_new_events(ctx.store.dal, notifier, ctx.config, task.company)
    extraction = result.extraction.run_id if result.extraction is not None else None
    metadata = {
        "pipeline_run": result.run_id,
        "as_of": result.as_of.isoformat(),
        "versions": len(result.versions),
        "unchanged_since": result.unchanged_since,
        "extraction_run": extraction,
        "events": result.events,
        "notified_events": announced,
        "warnings": list(notifier.warnings),
    }
    if result.unchanged_since is not None:
        message = (
            f"nothing changed since build {result.unchanged_since} as of {result.as_of}: "
            f"nothing published (run {result.run_id})"
        )
    else:
        message = (
            f"built as of {result.as_of}: {len(result.versions)} version(s) published (run {result.run_id})"
        )
    return TaskResult(message, metadata)


def run_extract(ctx: TaskContext, task: Task, cfg: ExtractTaskConfig, run_id: str) -> TaskResult:
    """Transcript extraction into the gold profile datasets."""
    result = run_extraction(
        ctx.store, ctx.config, task.company, lock=True, wait_seconds=cfg.wait_seconds, run_id=run_id
    )
    metadata = {"pipeline_run": result.run_id, "versions": result.versions, "skipped": result.skipped}
    if result.run_id is None:
        return TaskResult("nothing to extract: " + "; ".join(result.skipped), metadata)
    return TaskResult(f"extracted {len(result.versions)} dataset(s) (run {result.run_id})", metadata)


def run_events_refresh(ctx: TaskContext, task: Task, cfg: TaskConfig, run_id: str) -> TaskResult:
    """Sync the events index again from the current gold event facts."""
    rid, summary = refresh_events(ctx.store, ctx.config, task.company, run_id=run_id)
    detected = sum(s["detected"] for s in summary.values())
    resolved = sum(s["resolved"] for s in summary.values())
    return TaskResult(
        f"events refreshed: {detected} active, {resolved} resolved (run {rid})",
        {"pipeline_run": rid, "events": summary},
    )


def run_gates_sync(ctx: TaskContext, task: Task, cfg: GatesSyncTaskConfig, run_id: str) -> TaskResult:
    """Sync the review-gate files of a folder; gates that became ready are announced once."""
    from lakehouse.ops.gates import ready_message, sync_gates
    from lakehouse.ops.notify import Notifier

    notifier = Notifier.from_config(ctx.store.dal, ctx.config, ctx.store.root.root)
    report = sync_gates(ctx.store.dal, Path(cfg.gates_dir), lambda g: notifier.send(ready_message(g)))
    metadata = {
        "synced": report.synced,
        "changed": list(report.changed),
        "became_ready": list(report.became_ready),
        "notified": report.notified,
        "skipped": [{"file": str(f), "problem": p} for f, p in report.skipped],
        "announce_errors": [{"task_id": t, "error": e} for t, e in report.announce_errors],
        "warnings": list(notifier.warnings),
    }
    message = report.summary()
    if report.skipped:
        message += " (malformed: " + ", ".join(Path(f).name for f, _ in report.skipped) + ")"
    if report.announce_errors:
        message += f"; announcing failed for {', '.join(t for t, _ in report.announce_errors)}"
    return TaskResult(message, metadata)


def run_gc(ctx: TaskContext, task: Task, cfg: GcTaskConfig, run_id: str) -> TaskResult:
    """Remove crash leftovers and versions past retention."""
    retention = ctx.config.global_.retention
    keep = cfg.keep if cfg.keep is not None else retention.keep_versions
    report = ctx.store.maintenance.gc(
        task.company, keep, cfg.dry_run, min_age=timedelta(minutes=retention.min_age_minutes)
    )
    metadata = {
        "expired_versions": report.expired_versions,
        "removed_files": len(report.removed_files),
        "abandoned_runs": report.abandoned_runs,
        "dry_run": cfg.dry_run,
    }
    verb = "would remove" if cfg.dry_run else "removed"
    return TaskResult(
        f"gc: {verb} {len(report.removed_files)} file(s), {len(report.expired_versions)} expired version(s)",
        metadata,
    )


def run_notify_retry(ctx: TaskContext, task: Task, cfg: NotifyRetryTaskConfig, run_id: str) -> TaskResult:
    """Send again the notifications whose sending failed (with the same idempotency key)."""
    from lakehouse.ops.notify import Notifier

    notifier = Notifier.from_config(ctx.store.dal, ctx.config, ctx.store.root.root)
    report = notifier.retry_failed(max_attempts=cfg.max_attempts)
    return TaskResult(f"notify retry: {report}", {"report": str(report), "warnings": list(notifier.warnings)})


RUNNERS: Mapping[str, Runner] = {
    "ingest": run_ingest,
    "build": run_build,
    "extract": run_extract,
    "events_refresh": run_events_refresh,
    "gates_sync": run_gates_sync,
    "gc": run_gc,
    "notify_retry": run_notify_retry,
}
"""The runner of each task type (every type of :data:`lakehouse.ops.task_config.TASK_TYPES`)."""
