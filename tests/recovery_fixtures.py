"""Helpers for tests of crash recovery: dead process ids, and holders rewritten in place."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from typing import Any

from sqlalchemy import update

from lakehouse.dal import DataAccessLayer
from lakehouse.db.models import PipelineRun


def dead_pid() -> int:
    """The pid of a process of this host that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def set_holder(
    dal: DataAccessLayer,
    run_id: str,
    *,
    host: str | None = None,
    pid: int | None = None,
    heartbeat_at: datetime | None = None,
    started_at: datetime | None = None,
    clear: bool = False,
) -> None:
    """Rewrite the recorded holder of a run (only the fields given; ``clear`` sets host and pid NULL)."""
    values: dict[str, Any] = {}
    if clear:
        values.update(holder_host=None, holder_pid=None, heartbeat_at=None)
    if host is not None:
        values["holder_host"] = host
    if pid is not None:
        values["holder_pid"] = pid
    if heartbeat_at is not None:
        values["heartbeat_at"] = heartbeat_at
    if started_at is not None:
        values["started_at"] = started_at
    with dal._session() as s:
        s.execute(update(PipelineRun).where(PipelineRun.run_id == run_id).values(**values))


def kill_holder(dal: DataAccessLayer, run_id: str) -> None:
    """Make the run's holder a process of this host that has died."""
    set_holder(dal, run_id, pid=dead_pid())
