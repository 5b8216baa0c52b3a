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

import functools
import logging
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lakehouse.db.records import PipelineRunRecord
from lakehouse.db.types import utcnow

logger = logging.getLogger(__name__)

#: A holder on another host is presumed dead once its heartbeat is older than this.
HOLDER_LEASE = timedelta(minutes=2)
#: How often a running process renews its runs' heartbeat (well inside :data:`HOLDER_LEASE`).
HEARTBEAT_SECONDS = 20.0
#: A run with no recorded holder (recorded before migration 0004) is presumed dead after this long.
UNKNOWN_HOLDER_GRACE = timedelta(hours=6)
#: A process that started this long after the run it should hold is another program reusing the pid.
PID_REUSE_SLACK = timedelta(seconds=60)


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


def process_alive(pid: int, started_by: datetime | None = None) -> bool:
    """Whether process ``pid`` of this host exists (a zombie does not count).

    Args:
        pid: the process id.
        started_by: when the process was known to run; a process with this pid that started later
            (by more than :data:`PID_REUSE_SLACK`) is another one that reused the pid.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to another user
        pass
    stat = _proc_stat(pid)
    if stat is None:  # no /proc (or it vanished just now): the signal check is all there is
        return True
    state, started = stat
    if state in ("Z", "X"):
        return False
    if started_by is not None and started is not None and started > started_by + PID_REUSE_SLACK:
        logger.debug("pid %d started at %s, after %s: reused by another process", pid, started, started_by)
        return False
    return True


def _proc_stat(pid: int) -> tuple[str, datetime | None] | None:
    """The state letter and start time of ``pid`` from ``/proc/<pid>/stat``, or None without /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after the last ")".
    fields = text[text.rfind(")") + 2 :].split()
    if len(fields) < 20:
        return None
    boot = _boot_time()
    if boot is None:
        return fields[0], None
    ticks = int(fields[19])  # field 22: start time in clock ticks after boot
    return fields[0], boot + timedelta(seconds=ticks / os.sysconf("SC_CLK_TCK"))


@functools.cache
def _boot_time() -> datetime | None:
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return datetime.fromtimestamp(int(line.split()[1]), UTC)
    except (OSError, ValueError):
        pass
    return None


def holder_of(run: PipelineRunRecord) -> str:
    """The holder of ``run`` for messages: ``host H pid P``, or "an unrecorded process"."""
    if run.holder_host is None or run.holder_pid is None:
        return "an unrecorded process"
    return f"{run.holder_host} pid {run.holder_pid}"
