"""DataHound Lakehouse: a lakehouse-style analytical store for field-service business data.

Services read published datasets with :func:`read_dataset`; everything else goes through the DAL
façade (:class:`lakehouse.dal.DataAccessLayer`) and :class:`lakehouse.dataplane.store.DatasetStore`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import date

    import pyarrow as pa

__version__ = "0.1.0"


def read_dataset(company: str, zone: str, dataset: str, as_of: str | date | None = None) -> pa.Table:
    """Read a dataset's current version as a pyarrow Table, or an earlier one: ``as_of`` is a version
    tag, a run id, or an as-of date (``YYYY-MM-DD``: the version that was current as of that day).

    Uses the process settings (``LAKEHOUSE_DATABASE_URL``, ``LAKEHOUSE_DATA_ROOT``).

    Raises:
        DatasetNotFoundError: nothing is published under that name (or version).
    """
    from lakehouse.runtime import open_store

    with open_store() as store:
        return store.read_dataset(company, zone, dataset, as_of)
