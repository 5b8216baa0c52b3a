"""A scheduler worker process for the multi-worker tests: the real :class:`Worker` (claims, leases,
records, next occurrences) over the control plane of ``LAKEHOUSE_DATABASE_URL``, with a runner that
only writes down what it ran.

Every task type's runner appends ``<task_key> <occurrence> <attempt> <worker_id> <run_id>`` to the
file ``WORKER_LOG`` (one ``O_APPEND`` write per line, so lines of concurrent workers never mix), then
sleeps ``WORKER_TASK_SECONDS`` (``WORKER_SLOW_TASK`` names a task that sleeps ``WORKER_SLOW_SECONDS``
instead: a worker killed in it dies mid-task). Intervals down to 1 s are accepted.

    python -m tests.ops.worker_proc WORKER_ID SECONDS [LEASE_SECONDS]

runs the worker for SECONDS (then lets it finish its task and stop), or until SIGTERM.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from lakehouse.config import load_config
from lakehouse.db.records import Task
from lakehouse.ops.task_config import TASK_TYPES
from lakehouse.ops.tasks import TaskContext, TaskResult
from lakehouse.ops.worker import Worker
from lakehouse.runtime import open_store
from lakehouse.settings import get_settings


def log_runner(ctx: TaskContext, task: Task, cfg: Any, run_id: str) -> TaskResult:
    claim = CURRENT.get("claim")
    occurrence = claim.occurrence_at.isoformat() if claim is not None else "?"
    attempt = claim.attempt if claim is not None else 0
    line = f"{task.task_key} {occurrence} {attempt} {WORKER_ID} {run_id}\n"
    fd = os.open(os.environ["WORKER_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    slow = task.task_key == os.environ.get("WORKER_SLOW_TASK")
    time.sleep(float(os.environ.get("WORKER_SLOW_SECONDS" if slow else "WORKER_TASK_SECONDS", "0")))
    return TaskResult(f"logged {task.task_key}", {"occurrence": occurrence})


CURRENT: dict[str, Any] = {}
WORKER_ID = sys.argv[1] if len(sys.argv) > 1 else "worker"


def main() -> None:
    seconds = float(sys.argv[2])
    lease = timedelta(seconds=float(sys.argv[3]) if len(sys.argv) > 3 else 30)
    settings = get_settings()
    with open_store(settings) as store:
        worker = Worker(
            TaskContext(store, load_config(settings.config_dir), settings),
            WORKER_ID,
            lease=lease,
            poll_seconds=0.05,
            runners=dict.fromkeys(TASK_TYPES, log_runner),
            min_interval=timedelta(seconds=1),
            on_claim=lambda claim: CURRENT.update(claim=claim),
        )

        def stop(signum: int, frame: FrameType | None) -> None:
            worker.request_stop(signal.Signals(signum).name)

        signal.signal(signal.SIGTERM, stop)
        timer = threading.Timer(seconds, lambda: worker.drain("time"))
        timer.daemon = True
        timer.start()
        report = worker.run()
        timer.cancel()
    Path(os.environ["WORKER_LOG"] + f".{WORKER_ID}.done").write_text(
        f"{len(report.runs)} {report.stopped_by}\n"
    )


if __name__ == "__main__":
    main()
