"""Run health on the control plane: heartbeats of running runs, and marking runs whose process died.

A process that dies (``kill -9``, a lost control plane, a full disk) cannot mark its run failed. The
next command that looks (build, ingest, gc, ``lakehouse runs``) finds the run still marked running
with a holder that is gone (:func:`lakehouse.db.liveness.holder_alive`) and marks it failed with
``{"type": "ProcessDied", ...}``; a run it could not mark because the control plane was down is
still found, and marked, once the control plane is back. A run marked dead that had committed says
so in its error (``published_versions``). Callers reach these through the DAL façade
(:meth:`DataAccessLayer.run_heartbeat`, :meth:`~DataAccessLayer.reap_dead_runs`, ...); what a crash
left on the data plane is cleaned by :mod:`lakehouse.dataplane.recovery`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lakehouse.db import liveness
from lakehouse.db.liveness import holder_alive, holder_of
from lakehouse.db.records import PipelineRunRecord
from lakehouse.db.types import utcnow
from lakehouse.errors import InvalidStateError, NotFoundError

if TYPE_CHECKING:
    from lakehouse.dal import DataAccessLayer

logger = logging.getLogger(__name__)

#: ``error.type`` of a run marked failed because its process died.
PROCESS_DIED = "ProcessDied"


@contextmanager
def run_heartbeat(dal: DataAccessLayer, run_id: str, every: float | None = None) -> Iterator[None]:
    """Renew the heartbeat of running run ``run_id`` from a background thread while the block runs.

    Other hosts judge a run alive by its heartbeat (:data:`~lakehouse.db.liveness.HOLDER_LEASE`);
    wrap everything a run does after :meth:`DataAccessLayer.start_pipeline_run` in this block.
    A failed renewal is logged and retried at the next beat; the beats stop when the run is no
    longer running.

    Args:
        every: seconds between beats (default :data:`~lakehouse.db.liveness.HEARTBEAT_SECONDS`).
    """
    interval = liveness.HEARTBEAT_SECONDS if every is None else every
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(interval):
            try:
                if not dal.heartbeat_pipeline_run(run_id):
                    _heartbeat_stopped(dal, run_id)
                    return
            except Exception as exc:  # the next beat retries; other hosts wait HOLDER_LEASE
                logger.warning("could not renew the heartbeat of run %s: %s", run_id, _one_line(exc))

    thread = threading.Thread(target=beat, name=f"heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        # A beat stuck on an unreachable database must not hold the command up: it is a daemon.
        thread.join(timeout=5.0)


def _heartbeat_stopped(dal: DataAccessLayer, run_id: str) -> None:
    """Say why a run's heartbeat stops: it finished, or another command presumed its process dead."""
    try:
        error = dal.get_pipeline_run(run_id).error or {}
    except Exception:  # only for the message
        error = {}
    if error.get("type") == PROCESS_DIED:
        logger.warning(
            "run %s was marked failed while its process still runs (%s): its outcome will not be recorded",
            run_id,
            error.get("message"),
        )
    else:
        logger.debug("run %s is no longer running: its heartbeat stops", run_id)


def dead_runs(
    dal: DataAccessLayer, company: str | None = None, now: datetime | None = None
) -> list[PipelineRunRecord]:
    """Runs still marked running whose holder process is gone, oldest first."""
    now = now or utcnow()
    return [r for r in dal.running_pipeline_runs(company) if not holder_alive(r, now=now)]


def death_error(
    run: PipelineRunRecord,
    command: str,
    now: datetime | None = None,
    published: list[str] | None = None,
) -> dict[str, Any]:
    """The ``error`` recorded on a run whose process died, found by ``command``.

    Args:
        published: the versions the run committed before it died (``zone.dataset@tag``).
    """
    if run.holder_host is None or run.holder_pid is None:
        message = (
            f"process died: still running {liveness.UNKNOWN_HOLDER_GRACE} after it started, "
            f"with no holder recorded (marked failed by {command})"
        )
    else:
        message = f"process died: {holder_of(run)} is gone (marked failed by {command})"
    if published:
        message += (
            f"; it had committed {len(published)} version(s), which stay published: "
            "only its steps after the commit did not run"
        )
    error: dict[str, Any] = {
        "type": PROCESS_DIED,
        "message": message,
        "holder_host": run.holder_host,
        "holder_pid": run.holder_pid,
        "marked_at": (now or utcnow()).isoformat(),
    }
    if run.heartbeat_at is not None:
        error["last_heartbeat"] = run.heartbeat_at.isoformat()
    if published:
        error["published_versions"] = published
    return error


def mark_dead(dal: DataAccessLayer, run: PipelineRunRecord, command: str) -> bool:
    """Mark ``run`` failed because its process died; False if it finished meanwhile.

    Raises:
        DatabaseUnavailableError: the control plane is down (the run is marked by a later command).
    """
    published = [
        f"{v.zone}.{v.dataset_name}@{v.version_tag}"
        for v in dal.list_dataset_versions(run.company, include_expired=True, produced_by_run_id=run.run_id)
    ]
    try:
        dal.finish_pipeline_run(run.run_id, "failed", error=death_error(run, command, published=published))
    except (InvalidStateError, NotFoundError):  # finished (or marked by another command) meanwhile
        return False
    logger.warning(
        "marked %s run %s failed: process died (%s is gone)", run.pipeline_name, run.run_id, holder_of(run)
    )
    return True


def reap_dead_runs(dal: DataAccessLayer, company: str | None = None, command: str = "gc") -> list[str]:
    """Mark every run whose process died failed (of one company, if given).

    Call it at the start of every command that reads or writes runs (build, ingest, gc, ``runs``).

    Args:
        command: the command that looks, named in the recorded error.

    Returns:
        The run ids marked failed.

    Raises:
        DatabaseUnavailableError: the control plane is down.
    """
    return [r.run_id for r in dead_runs(dal, company) if mark_dead(dal, r, command)]


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
