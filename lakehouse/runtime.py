"""Wire the planes together from the settings (what the CLI and services start from)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from lakehouse.dal import DataAccessLayer
from lakehouse.settings import Settings, get_settings

if TYPE_CHECKING:  # the data plane imports DuckDB and pyarrow: only commands that use it load it
    from lakehouse.dataplane.store import DatasetStore
    from lakehouse.dataplane.zones import DataRoot


def dataset_store(dal: DataAccessLayer, root: DataRoot) -> DatasetStore:
    """A dataset store whose commits keep the analysts' catalog in step (the catalog hook)."""
    from lakehouse.dataplane.store import DatasetStore
    from lakehouse.query.catalog_hook import AnalystCatalog

    return DatasetStore(dal, root, catalog=AnalystCatalog())


@contextmanager
def open_store(settings: Settings | None = None) -> Iterator[DatasetStore]:
    """A dataset store over the configured data root and control plane (closed on exit)."""
    from lakehouse.dataplane import duck
    from lakehouse.dataplane.objects import S3ObjectStore
    from lakehouse.dataplane.zones import DataRoot

    cfg = settings or get_settings()
    root = DataRoot.from_uri(str(cfg.data_root), cfg.state_dir)
    if isinstance(root.remote, S3ObjectStore):
        duck.use_s3(root.remote.access)  # every DuckDB connection reads and writes s3:// through httpfs
    dal = DataAccessLayer.from_settings(cfg)
    try:
        yield dataset_store(dal, root)
    finally:
        dal.close()


@contextmanager
def open_dal(settings: Settings | None = None) -> Iterator[DataAccessLayer]:
    """The configured control plane alone (closed on exit): for commands that read only its rows."""
    dal = DataAccessLayer.from_settings(settings or get_settings())
    try:
        yield dal
    finally:
        dal.close()
