"""Serialize builds of one company with a lease in the control plane.

The lease is an idempotency key (``lock`` scope) claimed with ``INSERT ... ON CONFLICT DO NOTHING``:
it works the same on SQLite and PostgreSQL and across machines. It is short and renewed by a
heartbeat while the holder works, so a killed holder's lease lapses within :data:`LEASE`; a lease
whose holder run has already finished is taken over at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from lakehouse.dal import DataAccessLayer
from lakehouse.errors import LockBusyError, NotFoundError

logger = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
HEARTBEAT_SECONDS = 60.0
POLL_SECONDS = 1.0


def _holder_finished(dal: DataAccessLayer, holder: str | None) -> bool:
    """Whether the lease holder is a pipeline run that has already finished (a stale lease)."""
    if not holder:
        return False
    try:
        return dal.get_pipeline_run(holder).status != "running"
    except NotFoundError:
        return False


def _heartbeat(dal: DataAccessLayer, name: str, holder: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        try:
            if not dal.renew_idempotency_key("lock", name, holder, LEASE):
                logger.error("lease %s of %s was lost", name, holder)
                return
        except Exception:  # the next beat retries; the lease only lapses after LEASE
            logger.warning("could not renew lease %s", name, exc_info=True)


@contextmanager
def company_lock(
    dal: DataAccessLayer,
    name: str,
    holder: str,
    wait_seconds: float = 0.0,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the lease ``name`` for ``holder`` (a run id) while the block runs.

    Args:
        wait_seconds: how long to wait for another holder to finish; 0 = fail at once.
        on_wait: told the current holder once, when this caller starts waiting.

    Raises:
        LockBusyError: the lease is still held after ``wait_seconds``; names the holder.
    """
    deadline = time.monotonic() + wait_seconds
    told = False
    while not dal.claim_idempotency_key("lock", name, ttl=LEASE, run_id=holder):
        current = dal.idempotency_claim_of("lock", name)
        if _holder_finished(dal, current):
            logger.warning("taking over lease %s from finished run %s", name, current)
            dal.release_idempotency_key("lock", name, current)
            continue
        if time.monotonic() >= deadline:
            raise LockBusyError(name, f"run {current}" if current else None)
        if not told and on_wait is not None:
            on_wait(f"waiting for {name}: held by run {current}")
            told = True
        time.sleep(POLL_SECONDS)
    stop = threading.Event()
    beat = threading.Thread(target=_heartbeat, args=(dal, name, holder, stop), daemon=True)
    beat.start()
    try:
        yield
    finally:
        stop.set()
        beat.join()
        dal.release_idempotency_key("lock", name, holder)
