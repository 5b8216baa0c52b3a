"""Whether a process of this host is alive: the one check behind run holders and writers' scratch.

A process counts as alive while its pid exists and is not a zombie; given when it was known to run,
a process with the same pid that started later is another program that reused the pid.
"""

from __future__ import annotations

import functools
import logging
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

logger = logging.getLogger(__name__)

#: A process that started this long after it was known to run is another program reusing the pid.
PID_REUSE_SLACK = timedelta(seconds=60)


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
