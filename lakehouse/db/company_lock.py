"""Serialize the runs of one company: a lock that dies with its holder, and a row that says who holds it.

The lock itself is :func:`lakehouse.db.locks.named_lock`: a PostgreSQL session advisory lock, or an
``flock`` beside the SQLite file. The moment its holder process dies, the server or the kernel
releases it, so the next build starts at once after a ``kill -9``; a holder that is alive is never
taken over, whatever state its run is in (the transcript extraction that follows a build runs under
the same lock, after the build's run has finished).

Callers take it through the DAL façade (:meth:`DataAccessLayer.company_lock`).

The lease row (idempotency key ``lock:<name>``, never expiring) only tells the others who holds the
lock: "held by run X on host H pid P since T". A row left by a killed holder is overwritten by the
next one to take the lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from lakehouse.db.liveness import HEARTBEAT_SECONDS
from lakehouse.db.locks import NamedLock
from lakehouse.errors import LockBusyError, NotFoundError

if TYPE_CHECKING:
    from lakehouse.dal import DataAccessLayer

logger = logging.getLogger(__name__)

LEASE_SCOPE = "lock"
#: How often a waiting caller tries the lock again.
POLL_SECONDS = 1.0
#: A lock just taken has no lease row for a moment: wait this long for it before naming no holder.
ROW_GRACE_SECONDS = 0.5
ROW_POLL_SECONDS = 0.02
#: How often the holder checks that it still holds the lock (a PostgreSQL session can be lost).
CHECK_SECONDS = HEARTBEAT_SECONDS


def describe_holder(dal: DataAccessLayer, name: str) -> str | None:
    """Who holds lock ``name``, from its lease row and the holder's run: "run X on host H pid P since T"."""
    run_id = dal.idempotency_claim_of(LEASE_SCOPE, name)
    if not run_id:
        return None
    try:
        run = dal.get_pipeline_run(run_id)
    except NotFoundError:  # the holder has not recorded its run yet
        return f"run {run_id}"
    where = f" on host {run.holder_host} pid {run.holder_pid}" if run.holder_host else ""
    return f"run {run_id}{where} since {run.started_at:%Y-%m-%d %H:%M:%S} UTC"


@contextmanager
def company_lock(
    dal: DataAccessLayer,
    name: str,
    holder_run_id: str,
    wait_seconds: float = 0.0,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold lock ``name`` for run ``holder_run_id`` while the block runs.

    Args:
        dal: the control plane whose database carries the lock.
        name: the lock, e.g. ``build:<company>``.
        holder_run_id: the run id recorded as the holder (its run may be started inside the block).
        wait_seconds: how long to wait for the current holder to finish; 0 = fail at once.
        on_wait: told who holds the lock, once, when this caller starts waiting.

    Raises:
        LockBusyError: the lock is still held after ``wait_seconds``; names the holder.
        DatabaseUnavailableError: the control plane cannot be reached.
    """
    lock = dal.named_lock(name)
    started = time.monotonic()
    deadline = started + max(wait_seconds, 0.0)
    told = False
    while not lock.try_acquire():
        holder = describe_holder(dal, name)
        if holder is None and time.monotonic() - started < ROW_GRACE_SECONDS:
            time.sleep(ROW_POLL_SECONDS)  # just taken: the holder is writing its lease row
            continue
        if time.monotonic() >= deadline:
            raise LockBusyError(name, holder)
        if not told and on_wait is not None:
            on_wait(f"waiting for {name}: held by {holder or 'another process'}")
            told = True
        time.sleep(POLL_SECONDS)
    try:
        _record_holder(dal, name, holder_run_id)
        with _watch(lock):
            yield
    finally:
        try:
            dal.release_idempotency_key(LEASE_SCOPE, name, holder_run_id)
        except Exception as exc:  # the lock below is what counts; the next holder rewrites the row
            logger.warning("could not clear the lease row of %s: %s", name, " ".join(str(exc).split()))
        lock.release()


def _record_holder(dal: DataAccessLayer, name: str, run_id: str) -> None:
    # Whoever wrote the row before is gone (we hold the lock): replace it.
    dal.release_idempotency_key(LEASE_SCOPE, name)
    if not dal.claim_idempotency_key(LEASE_SCOPE, name, ttl=None, run_id=run_id):
        logger.warning("the lease row of %s was written by another process meanwhile", name)


@contextmanager
def _watch(lock: NamedLock) -> Iterator[None]:
    """Check from a background thread that ``lock`` stays held; log once if it was lost."""
    stop = threading.Event()

    def check() -> None:
        while not stop.wait(CHECK_SECONDS):
            if not lock.check():
                logger.error("lost lock %s: another build may run at the same time as this one", lock.name)
                return

    thread = threading.Thread(target=check, name=f"lock-{lock.name}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
