"""The analysts' catalog kept in step with the commits: the data plane's catalog hook.

The store (:class:`lakehouse.dataplane.store.DatasetStore`) calls its hook after every publish and
gc, and every recovery pass ensures it; the runtime plugs :class:`AnalystCatalog` in
(:func:`lakehouse.runtime.dataset_store`), so the data plane never imports this analyst layer.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.dataplane.zones import DATA_ZONES
from lakehouse.query.catalog import ViewSource, catalog_reflects, write_catalog

if TYPE_CHECKING:
    from lakehouse.dataplane.store import DatasetStore

logger = logging.getLogger(__name__)

#: Rewrites when concurrent publishers keep committing while the catalog is written.
_ATTEMPTS = 5


class AnalystCatalog:
    """Writes ``data/<company>/catalog.duckdb`` over the current versions of a store."""

    def refresh(self, store: DatasetStore, company: str) -> Path:
        """Rewrite the company's DuckDB catalog over the current versions (atomically replaced).

        The catalog records the fingerprint of the commits it shows
        (:meth:`DatasetStore.catalog_fingerprint`). Two publishers may rename their catalogs in
        either order; each checks afterwards that what is committed did not change meanwhile, and
        writes again if it did, so the last catalog written always shows the newest commits.
        """
        path = store.root.catalog_path(company)
        for _ in range(_ATTEMPTS):
            seen = store.catalog_fingerprint(company)
            write_catalog(path, catalog_views(store, company), reflects=seen)
            if store.catalog_fingerprint(company) == seen:
                break
        return path

    def ensure(self, store: DatasetStore, company: str) -> bool:
        """Refresh the catalog if it is missing or does not show what is committed; whether it was."""
        from lakehouse.dataplane.store import fingerprint

        path = store.root.catalog_path(company)
        versions = store.dal.list_dataset_versions(company)
        if not versions and not path.exists():
            return False  # nothing published, nothing to show (the catalog is made by the first publish)
        if catalog_reflects(path) == fingerprint(versions):
            return False
        logger.info("catalog of %s is stale or missing: refreshing it", company)
        self.refresh(store, company)
        return True


def catalog_views(
    store: DatasetStore, company: str, as_of: date | None = None
) -> dict[str, dict[str, ViewSource]]:
    """The views of the analysts' catalog: each dataset's files, with the as-of of a silver/gold one."""
    views: dict[str, dict[str, ViewSource]] = {z: {} for z in DATA_ZONES}
    current = store.current_versions(company, as_of)
    by_version = store.entries_of([v for versions in current.values() for v in versions])
    for (zone, name), versions in current.items():
        entries = [e for v in versions for e in by_version[v.id]]
        if zone == "bronze" and as_of is not None:
            entries = [e for e in entries if e.dt is not None and date.fromisoformat(e.dt) <= as_of]
        if not entries:
            continue
        files = [store.root.url(e.path) for e in entries]
        # A silver/gold version gets its as-of as a constant dt column when its files sit under
        # dt=<its as-of>, or under the dt of an earlier version whose unchanged files it shares (an
        # incremental build): dt is the date the snapshot describes, not where a file was written.
        as_of_day = versions[0].as_of if zone != "bronze" else None
        snapshot = as_of_day is not None and all(
            e.dt is not None and e.dt <= as_of_day.isoformat() for e in entries
        )
        views[zone][name] = ViewSource(files, dt=as_of_day if snapshot else None)
    return views
