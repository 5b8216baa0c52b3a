"""``lakehouse scheduler``: scheduled tasks on the control plane, and the worker that runs them."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from lakehouse.cli.errors import catch_errors, err_console
from lakehouse.cli.options import OptionalCompanyOpt, OutputOpt, default_company
from lakehouse.cli.output import OutputFormat, console, emit, print_json
from lakehouse.config import load_config
from lakehouse.db.records import Task, TaskRun
from lakehouse.errors import UsageError
from lakehouse.ops import task_admin
from lakehouse.ops.task_config import TASK_TYPES
from lakehouse.ops.tasks import TaskContext, base_dir
from lakehouse.ops.worker import RunSummary, Worker, WorkerReport, describe_next
from lakehouse.runtime import open_store
from lakehouse.settings import get_settings

scheduler_app = typer.Typer(
    help=(
        "Scheduled tasks on the control plane, and the worker that runs them. Add tasks with `add`, "
        "run a worker with `run` (on PostgreSQL several workers may run at once; on SQLite one)."
    ),
    no_args_is_help=True,
)

TaskKey = Annotated[str, typer.Argument(metavar="TASK_KEY", help="The task's key, e.g. acme-nightly-build.")]
CronOpt = Annotated[
    str | None,
    typer.Option("--cron", metavar="EXPR", help="5 cron fields in the task's time zone, e.g. '0 3 * * *'."),
]
EveryOpt = Annotated[
    str | None,
    typer.Option(
        "--every", metavar="INTERVAL", help="An interval from the end of the last run: 30s, 15m, 1h, 1d."
    ),
]
AtOpt = Annotated[
    str | None,
    typer.Option(
        "--at",
        metavar="TIMESTAMP",
        help="Run once at an ISO timestamp, e.g. 2026-12-24T06:00 (in --timezone).",
    ),
]
TimezoneOpt = Annotated[
    str | None,
    typer.Option(
        "--timezone",
        "--tz",
        metavar="ZONE",
        help="IANA time zone of the schedule (default: the company's, from global.json).",
    ),
]
ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        metavar="JSON",
        help='The task\'s arguments as a JSON object, e.g. \'{"select": ["marts"]}\'.',
    ),
]
ArgOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--arg",
        metavar="KEY=VALUE",
        help='One argument (repeatable); VALUE is read as JSON when it is JSON (5, true, ["a"]), else as text.',
    ),
]


def _schedule(cron: str | None, every: str | None, at: str | None) -> tuple[str, str] | None:
    given = [
        (kind, expr) for kind, expr in (("cron", cron), ("interval", every), ("once", at)) if expr is not None
    ]
    if len(given) > 1:
        raise UsageError("give one of --cron, --every and --at")
    return given[0] if given else None


def _arguments(config: str | None, args: list[str] | None) -> dict[str, Any] | None:
    if config is None and not args:
        return None
    values: dict[str, Any] = {}
    if config is not None:
        try:
            parsed = json.loads(config)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--config is not JSON: {exc.msg} at character {exc.pos + 1}") from None
        if not isinstance(parsed, dict):
            raise UsageError('--config must be a JSON object, e.g. \'{"select": ["marts"]}\'')
        values.update(parsed)
    for item in args or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--arg {item!r}: write KEY=VALUE")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


def _task_row(task: Task) -> dict[str, Any]:
    return {
        "task_key": task.task_key,
        "type": task.task_type,
        "company": task.company,
        "schedule": f"{task.schedule_type} {task.schedule_expr}",
        "timezone": task.timezone,
        "status": task.status,
        "next_run": describe_next(task),
        "next_run_at": task.next_run_at,
        "attempt": task.attempt,
        "claimed_by": task.claimed_by,
        "config": task.config,
    }


def _run_row(run: TaskRun) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "occurrence_at": run.occurrence_at,
        "attempt": run.attempt,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "result": "running" if run.success is None else ("ok" if run.success else "failed"),
        "duration_ms": run.duration_ms,
        "worker_id": run.worker_id,
        "message": run.message,
        "metadata": run.metadata,
    }


def _print_task(task: Task, output: OutputFormat, runs: list[TaskRun] | None = None) -> None:
    row = _task_row(task)
    if output == OutputFormat.json:
        print_json(row | ({"runs": [_run_row(r) for r in runs]} if runs is not None else {}))
        return
    for key in ("task_key", "type", "company", "schedule", "timezone", "status", "next_run"):
        console.print(f"{key + ':':<11} {row[key]}", markup=False, highlight=False)
    if task.claimed_by:
        console.print(
            f"{'claimed:':<11} by {task.claimed_by} until {task.claim_expires_at:%Y-%m-%d %H:%M:%S} UTC",
            markup=False,
        )
    console.print(f"{'config:':<11} {json.dumps(task.config, sort_keys=True)}", markup=False, highlight=False)
    if runs is not None:
        emit(
            OutputFormat.text,
            f"last {len(runs)} run(s) of {task.task_key}",
            [
                _run_row(r)
                | {
                    "started_at": f"{r.started_at:%Y-%m-%d %H:%M:%S}",
                    "duration": "" if r.duration_ms is None else f"{r.duration_ms / 1000:.1f}s",
                }
                for r in runs
            ],
            ["run_id", "attempt", "started_at", "duration", "result", "message"],
        )


@scheduler_app.command("add")
@catch_errors
def add_command(
    task_key: TaskKey,
    task_type: Annotated[
        str, typer.Option("--type", metavar="TYPE", help=f"What the task runs: {', '.join(TASK_TYPES)}.")
    ],
    company: OptionalCompanyOpt = None,
    cron: CronOpt = None,
    every: EveryOpt = None,
    at: AtOpt = None,
    timezone: TimezoneOpt = None,
    config: ConfigOpt = None,
    arg: ArgOpt = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Add a scheduled task (checked now: its schedule, its type's arguments; folders made absolute).

    Examples: `lakehouse scheduler add acme-build --type build --cron '0 3 * * *'`;
    `lakehouse scheduler add acme-ingest --type ingest --every 15m --arg drop_folder=./inbox/acme`.
    """
    schedule = _schedule(cron, every, at)
    if schedule is None:
        raise UsageError("give the schedule: --cron EXPR, --every INTERVAL or --at TIMESTAMP")
    slug = company or default_company()
    settings = get_settings()
    zone = timezone or load_config(settings.config_dir_or_shipped()[0]).global_.timezone_of(slug)
    with open_store(settings) as store:
        task = task_admin.add_task(
            store.dal,
            task_admin.NewTask(
                task_key, task_type, slug, schedule[0], schedule[1], zone, _arguments(config, arg) or {}
            ),
        )
    if output == OutputFormat.json:
        print_json(_task_row(task))
        return
    console.print(
        f"added {task.task_key} ({task.task_type} for {task.company}); next run: {describe_next(task)}",
        markup=False,
    )


@scheduler_app.command("update")
@catch_errors
def update_command(
    task_key: TaskKey,
    cron: CronOpt = None,
    every: EveryOpt = None,
    at: AtOpt = None,
    timezone: TimezoneOpt = None,
    config: Annotated[
        str | None,
        typer.Option("--config", metavar="JSON", help="Replace the task's arguments with this JSON object."),
    ] = None,
    arg: Annotated[
        list[str] | None,
        typer.Option("--arg", metavar="KEY=VALUE", help="Set one argument, keeping the others (repeatable)."),
    ] = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Change a task's schedule, time zone or arguments (a new schedule counts from now)."""
    schedule = _schedule(cron, every, at)
    with open_store() as store:
        current = store.dal.get_task(task_key)
        arguments: dict[str, Any] | None = None
        if config is not None or arg:
            base = {} if config is not None else dict(current.config)
            arguments = base | (_arguments(config, arg) or {})
        if schedule is None and timezone is None and arguments is None:
            raise UsageError("nothing to change: give --cron/--every/--at, --timezone, --config or --arg")
        task = task_admin.update_task(
            store.dal,
            task_key,
            schedule_type=schedule[0] if schedule else None,
            schedule_expr=schedule[1] if schedule else None,
            timezone=timezone,
            config=arguments,
        )
    if output == OutputFormat.json:
        print_json(_task_row(task))
        return
    console.print(f"updated {task.task_key}; next run: {describe_next(task)}", markup=False)


def _status_command(name: str, action: str) -> None:
    def command(task_key: TaskKey, output: OutputOpt = OutputFormat.text) -> None:
        with open_store() as store:
            task = getattr(task_admin, f"{name}_task")(store.dal, task_key)
        if output == OutputFormat.json:
            print_json(_task_row(task))
            return
        console.print(f"{task.task_key}: {task.status}; next run: {describe_next(task)}", markup=False)

    command.__doc__ = action
    scheduler_app.command(name)(catch_errors(command))


_status_command("pause", "Pause a task: it does not run until resumed (a run in progress finishes).")
_status_command(
    "resume", "Resume a paused (or deleted) task from its next occurrence; missed ones are not caught up."
)
_status_command(
    "delete", "Delete a task: it never runs again; its run history is kept, and its key stays taken."
)


@scheduler_app.command("list")
@catch_errors
def list_command(
    company: OptionalCompanyOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="Deleted tasks too.")] = False,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """List the scheduled tasks: schedule, status, when each runs next (UTC)."""
    with open_store() as store:
        tasks = task_admin.list_tasks(store.dal, company, include_deleted=all_)
    rows = [_task_row(t) for t in tasks]
    if output == OutputFormat.json:
        print_json(rows)
        return
    if not rows:
        err_console.print("no scheduled tasks (add one with `lakehouse scheduler add`)", markup=False)
        return
    emit(
        OutputFormat.text,
        "scheduled tasks",
        rows,
        ["task_key", "type", "company", "schedule", "timezone", "status", "next_run"],
    )


@scheduler_app.command("show")
@catch_errors
def show_command(
    task_key: TaskKey,
    runs: Annotated[int, typer.Option("--runs", min=0, metavar="N", help="Show the last N runs.")] = 10,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Show a task and its last runs (each run's run_id is the id of the pipeline run it started)."""
    with open_store() as store:
        task = store.dal.get_task(task_key)
        history = task_admin.recent_runs(store.dal, task_key, runs) if runs else []
    _print_task(task, output, history)


@contextmanager
def _stop_on_signals(worker: Worker) -> Iterator[None]:
    """SIGTERM and Ctrl-C stop the worker cleanly (see :meth:`Worker.request_stop`)."""

    def handle(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        err_console.print(f"{name}: worker {worker.worker_id} stopping", markup=False)
        worker.request_stop(name)

    before = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in before.items():
            signal.signal(sig, old)


def _print_run(summary: RunSummary) -> None:
    mark = "ok" if summary.success else ("abandoned" if summary.abandoned else "FAILED")
    then = (
        f"retry in {summary.retry_in:.0f}s"
        if summary.retry_in is not None
        else (f"next {summary.next_run_at:%Y-%m-%d %H:%M:%S} UTC" if summary.next_run_at else "no next run")
    )
    err_console.print(
        f"{mark} {summary.task_key} (attempt {summary.attempt}, run {summary.run_id}, "
        f"{summary.duration_ms / 1000:.1f}s): {summary.message}; {then}",
        markup=False,
        highlight=False,
    )


@scheduler_app.command("run")
@catch_errors
def run_command(
    once: Annotated[
        bool, typer.Option("--once", help="Run the tasks due now, then exit (e.g. from cron).")
    ] = False,
    worker_id: Annotated[
        str | None,
        typer.Option(
            "--worker-id", metavar="ID", help="This worker's name in claims and runs (default host:pid)."
        ),
    ] = None,
    max_tasks: Annotated[
        int | None, typer.Option("--max-tasks", min=1, metavar="N", help="Exit after running N tasks.")
    ] = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Run a worker: claim due tasks, run them, record each run, schedule the next occurrence.

    Several workers may share a PostgreSQL control plane (each occurrence runs once); on SQLite one
    worker runs at a time. SIGTERM or Ctrl-C stops the worker cleanly (exit 0): a task in progress is
    abandoned, its run marked, and it is due again at once for the next worker.
    """
    settings = get_settings()
    config = load_config(settings.config_dir)
    sched = config.global_.scheduler
    legacy = sched.legacy_json_dir
    legacy_dir = None if legacy is None else (base_dir(settings) / Path(legacy)).resolve()
    with open_store(settings) as store:
        worker = Worker(
            TaskContext(store, config, settings),
            worker_id,
            lease=timedelta(seconds=sched.claim_lease_seconds),
            poll_seconds=sched.poll_seconds,
            legacy_dir=legacy_dir,
            on_start=None if once else lambda: _print_start(worker.worker_id, sched.poll_seconds),
            on_claim=lambda c: err_console.print(
                f"running {c.task.task_key} ({c.task.task_type} for {c.task.company}, attempt {c.attempt})",
                markup=False,
                highlight=False,
            ),
            on_run=_print_run,
        )
        with _stop_on_signals(worker):
            report = worker.run(once=once, max_tasks=max_tasks)
    _print_report(report, output)


def _print_start(worker_id: str, poll_seconds: float) -> None:
    err_console.print(
        f"worker {worker_id} started (polls every {poll_seconds:g}s; Ctrl-C or SIGTERM stops it)",
        markup=False,
    )


def _print_report(report: WorkerReport, output: OutputFormat) -> None:
    if output == OutputFormat.json:
        print_json(
            {
                "worker_id": report.worker_id,
                "stopped_by": report.stopped_by,
                "runs": [
                    {
                        "task_key": r.task_key,
                        "run_id": r.run_id,
                        "attempt": r.attempt,
                        "success": r.success,
                        "abandoned": r.abandoned,
                        "message": r.message,
                        "duration_ms": r.duration_ms,
                        "next_run_at": r.next_run_at,
                    }
                    for r in report.runs
                ],
            }
        )
        return
    why = {"once": "nothing more due", "max-tasks": "--max-tasks reached"}.get(
        report.stopped_by or "", report.stopped_by
    )
    console.print(
        f"worker {report.worker_id}: ran {len(report.runs)} task(s), {report.failed} failed; stopped: {why}",
        markup=False,
        highlight=False,
    )


__all__ = ["scheduler_app"]
