"""Wire the planes together from the settings (what the CLI and services start from)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.store import DatasetStore
from lakehouse.dataplane.zones import DataRoot
from lakehouse.query.catalog_hook import AnalystCatalog
from lakehouse.settings import Settings, get_settings


def dataset_store(dal: DataAccessLayer, root: DataRoot) -> DatasetStore:
    """A dataset store whose commits keep the analysts' catalog in step (the catalog hook)."""
    return DatasetStore(dal, root, catalog=AnalystCatalog())


@contextmanager
def open_store(settings: Settings | None = None) -> Iterator[DatasetStore]:
    """A dataset store over the configured data root and control plane (closed on exit)."""
    cfg = settings or get_settings()
    dal = DataAccessLayer.from_settings(cfg)
    try:
        yield dataset_store(dal, DataRoot.from_uri(str(cfg.data_root)))
    finally:
        dal.close()
