"""Whether the process that runs a pipeline run (its holder) is still alive.

Every run records its holder when it starts: the host name, the process id, and a heartbeat time that
the running process renews (see :func:`lakehouse.db.run_health.run_heartbeat`). A command that finds a run
still marked running asks :func:`holder_alive`:

- same host: the process id must exist and not be a zombie, and must not belong to a process that
  started after the run did (the pid was reused by another program);
- another host: the heartbeat must be newer than :data:`HOLDER_LEASE`;
- a run recorded before holders were (no host or pid): it is alive for :data:`UNKNOWN_HOLDER_GRACE`
  after its start, the rule of old.
"""

from __future__ import annotations

import logging
import socket
from datetime import datetime, timedelta

from lakehouse.db.records import PipelineRunRecord
from lakehouse.db.types import utcnow
from lakehouse.processes import process_alive

logger = logging.getLogger(__name__)

#: A holder on another host is presumed dead once its heartbeat is older than this.
HOLDER_LEASE = timedelta(minutes=2)
#: How often a running process renews its runs' heartbeat (well inside :data:`HOLDER_LEASE`).
HEARTBEAT_SECONDS = 20.0
#: A run with no recorded holder (recorded before migration 0004) is presumed dead after this long.
UNKNOWN_HOLDER_GRACE = timedelta(hours=6)


def this_host() -> str:
    """The host name runs of this process record as their holder host."""
    return socket.gethostname()


def holder_alive(
    run: PipelineRunRecord, lease: timedelta = HOLDER_LEASE, now: datetime | None = None
) -> bool:
    """Whether the process holding ``run`` is alive (whatever the run's status).

    Args:
        run: the run, with its holder host, pid and heartbeat.
        lease: how old the heartbeat of a holder on another host may be.
        now: the current time (for tests).
    """
    now = now or utcnow()
    if run.holder_host is None or run.holder_pid is None:
        return now - run.started_at < UNKNOWN_HOLDER_GRACE
    if run.holder_host == this_host():
        return process_alive(run.holder_pid, run.started_at)
    return now - (run.heartbeat_at or run.started_at) < lease


def holder_of(run: PipelineRunRecord) -> str:
    """The holder of ``run`` for messages: ``host H pid P``, or "an unrecorded process"."""
    if run.holder_host is None or run.holder_pid is None:
        return "an unrecorded process"
    return f"{run.holder_host} pid {run.holder_pid}"
