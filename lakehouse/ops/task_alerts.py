"""A ``failed`` notification when a scheduled task fails with no sooner retry left.

One notification per failure streak, not per failed occurrence: a task failing every 15 minutes
overnight is announced once, and again only after it has succeeded in between. The message's
dedupe part is the run id of the task's last success before the failure ("never" when it has none
among its recent runs), so every worker, retry and rerun derives the same idempotency key (see
:mod:`lakehouse.ops.notify`) and a receiver sees the streak once.
"""

from __future__ import annotations

import logging
from typing import Final

from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import NotificationRecord, Task
from lakehouse.errors import LakehouseError
from lakehouse.ops.notify import Message, Notifier

logger = logging.getLogger(__name__)

#: How many of a task's newest runs are searched for its last success.
RECENT_RUNS: Final = 200


def failure_message(dal: DataAccessLayer, task: Task, run_id: str, error: str) -> Message:
    """The ``failed`` message of ``task``'s run ``run_id`` that ended with ``error``."""
    runs = dal.list_task_runs(task.task_key, limit=RECENT_RUNS)
    successes = [r.run_id for r in runs if r.success and r.run_id != run_id]
    since = successes[-1] if successes else "never"
    return Message(
        task_id=f"scheduler:{task.task_key}",
        message_type="failed",
        dedupe=f"after:{since}",
        text=(
            f"Scheduled task {task.task_key} ({task.task_type} for {task.company}) failed: {error} "
            f"(run {run_id}; `lakehouse scheduler show {task.task_key}`)"
        ),
        details={
            "task_key": task.task_key,
            "task_type": task.task_type,
            "company": task.company,
            "run_id": run_id,
            "error": error,
            "last_success_run_id": None if since == "never" else since,
            "severity": "high",
        },
    )


def announce_failure(
    dal: DataAccessLayer, notifier: Notifier, task: Task, run_id: str, error: str
) -> list[NotificationRecord]:
    """Send the ``failed`` message of a run; a failure to do so is logged, never raised (the run
    is recorded already, and ``lakehouse notify retry`` sends again what failed)."""
    try:
        return notifier.send(failure_message(dal, task, run_id, error))
    except LakehouseError as exc:
        logger.warning("announcing the failure of task %s failed: %s", task.task_key, exc)
        return []
