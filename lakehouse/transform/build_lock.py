"""Serialize builds of one company with a lease in the control plane.

The lease is an idempotency key (``lock`` scope) with an expiry, claimed with
``INSERT ... ON CONFLICT DO NOTHING``: it works the same on SQLite and PostgreSQL, survives
processes on different machines, and a crashed holder's lease lapses by itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from lakehouse.dal import DataAccessLayer
from lakehouse.errors import LockBusyError

logger = logging.getLogger(__name__)

LEASE = timedelta(hours=2)
POLL_SECONDS = 1.0


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
        if time.monotonic() >= deadline:
            raise LockBusyError(name, f"run {current}" if current else None)
        if not told and on_wait is not None:
            on_wait(f"waiting for {name} held by run {current}")
            told = True
        time.sleep(POLL_SECONDS)
    try:
        yield
    finally:
        dal.release_idempotency_key("lock", name, holder)
