"""Recovery after a crash, on the data plane: what dead runs left behind.

The control plane marks runs whose process died failed (:mod:`lakehouse.db.run_health`, through the
DAL). A process killed after its commit but before its catalog refresh leaves the analysts' catalog
behind the control plane: every recovery pass (:func:`recover_runs`) refreshes a stale catalog (the
store's catalog hook). The run's ``_work/`` folder and orphan files are removed by the next build or
gc (:func:`recover_company`, :meth:`Maintenance.gc <lakehouse.dataplane.maintenance.Maintenance.gc>`).
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from lakehouse.errors import DataPlaneError

if TYPE_CHECKING:
    from lakehouse.dataplane.store import DatasetStore

logger = logging.getLogger(__name__)


def recover_runs(store: DatasetStore, company: str, command: str) -> list[str]:
    """Mark the company's dead runs failed, and refresh its catalog if a crash left it stale.

    Call it at the start of every command that reads or writes runs (ingest, ``runs``, gc; a build
    through :func:`recover_company`). A catalog that cannot be refreshed (a full disk) is logged:
    the command goes on, and the next one tries again.

    Returns:
        The run ids marked failed.

    Raises:
        DatabaseUnavailableError: the control plane is down.
    """
    reaped = store.dal.reap_dead_runs(company, command)
    try:
        store.ensure_catalog(company)
    except (DataPlaneError, OSError) as exc:
        logger.warning("could not refresh the stale catalog of %s: %s", company, _one_line(exc))
    return reaped


def recover_company(store: DatasetStore, company: str, command: str = "build") -> list[str]:
    """Mark a company's dead runs failed and remove what crashed runs left (``_work/``, orphan files).

    This is the crash-leftover part of ``lakehouse gc`` (no version is expired). A build calls it
    once it holds the company's build lock, before it starts its own run.

    Returns:
        The run ids marked failed.

    Raises:
        DatabaseUnavailableError: the control plane is down.
    """
    reaped = recover_runs(store, company, command)
    try:
        report = store.maintenance.gc(company, keep=sys.maxsize)
    except (DataPlaneError, OSError) as exc:  # housekeeping must not stop the command that needs it
        logger.warning(
            "could not remove the leftovers of crashed runs of %s: %s (run `lakehouse gc`)",
            company,
            _one_line(exc),
        )
        return reaped
    if report.removed_files:
        logger.info("removed %d leftover(s) of crashed runs of %s", len(report.removed_files), company)
    return reaped


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
