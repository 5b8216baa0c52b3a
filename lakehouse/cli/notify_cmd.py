"""`lakehouse notify`: Notifications: what was sent to which channel, and sending again what failed."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from lakehouse.cli.errors import catch_errors, err_console
from lakehouse.cli.options import OutputOpt
from lakehouse.cli.output import OutputFormat, console, emit, note_cut, print_json
from lakehouse.config import load_config
from lakehouse.db.records import NotificationRecord
from lakehouse.errors import NotificationsFailedError
from lakehouse.runtime import open_store
from lakehouse.settings import get_settings

notify_app = typer.Typer(
    help="Notifications: what was sent to which channel, and sending again what failed.", no_args_is_help=True
)


class NotificationStatusOpt(StrEnum):
    sent = "sent"
    failed = "failed"


def _row(n: NotificationRecord) -> dict[str, Any]:
    return {
        "id": str(n.id),
        "task_id": n.task_id,
        "type": n.message_type,
        "channel": n.channel,
        "target": n.target,
        "status": n.status,
        "attempts": n.attempts,
        "sent_at": n.sent_at,
        "provider_message_id": n.provider_message_id,
        "idempotency_key": n.idempotency_key,
        "error": n.error,
        "payload": n.payload,
    }


@notify_app.command("list")
@catch_errors
def notify_list_command(
    status: Annotated[
        NotificationStatusOpt | None, typer.Option(help="Only notifications with this status.")
    ] = None,
    task: Annotated[
        str | None,
        typer.Option("--task", metavar="TASK_ID", help="Only this task's (e.g. event:<event_id>)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, metavar="N", help="Show the newest N at most.")] = 100,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """List notification receipts, oldest first (the time of each one's last attempt).

    A line on stderr says when --limit cuts the list.
    """
    with open_store() as store:
        receipts = store.dal.list_notifications(task_id=task, status=status.value if status else None)
    shown = receipts[-limit:]
    rows = [_row(n) for n in shown]
    if output == OutputFormat.json:
        print_json(rows)
    else:
        emit(
            OutputFormat.text,
            "notifications",
            [r | {"sent_at": f"{r['sent_at']:%Y-%m-%d %H:%M:%S}", "error": r["error"] or ""} for r in rows],
            ["sent_at", "task_id", "type", "channel", "target", "status", "attempts", "error"],
        )
    note_cut(len(shown), len(receipts), "notifications")


@notify_app.command("retry")
@catch_errors
def notify_retry_command(
    max_attempts: Annotated[
        int,
        typer.Option(min=1, metavar="N", help="Leave alone a notification already tried N times (requests)."),
    ] = 5,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Send again the failed notifications, with the same idempotency key; each attempt is recorded.

    Exits 1 when some fail again.
    """
    from lakehouse.ops.notify import Notifier

    settings = get_settings()
    config = load_config(settings.config_dir)
    with open_store(settings) as store:
        notifier = Notifier.from_config(store.dal, config, store.root.root)
        report = notifier.retry_failed(max_attempts=max_attempts)
    for warning in notifier.warnings:
        err_console.print(f"warning: {warning}", markup=False)
    if output == OutputFormat.json:
        print_json(
            {
                "delivered": [_row(n) for n in report.delivered],
                "failed": [_row(n) for n in report.failed],
                "exhausted": report.exhausted,
                "skipped": list(report.skipped),
                "warnings": list(notifier.warnings),
            }
        )
    else:
        console.print(str(report), markup=False)
        for line in report.skipped:
            console.print(f"skipped {line}", markup=False)
    if report.failed:
        first = report.failed[0]
        raise NotificationsFailedError(len(report.failed), f"{first.id} on {first.channel}: {first.error}")
