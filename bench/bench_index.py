"""The file index after many ingests: one company, one small day per ingest run.

Set-up (allowed to be slow): ``index_ingests`` daily ingests (200 by default, 1,000 with
``BENCH_FULL=1``) of a small generated data set (scale 0.05), each its own run publishing five
bronze versions and refreshing the catalog. The figures compare the state after the last ingests
with the state after the first ones (the baseline), on the same root:

- one small daily ingest (discover, validate, publish, catalog refresh), the median of the last
  ingests versus the median of the first ones;
- the catalog refresh alone;
- ``lakehouse datasets`` as a subprocess.
"""

from __future__ import annotations

from typing import Any

from bench import data
from bench._report import Figure, Target, alternate, log, timed
from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.zones import DataRoot
from lakehouse.runtime import dataset_store

ONE_SECOND = Target("seconds_max", 1.0)
SCALE = 0.05
_WINDOW = 5


def _refresh(root: data.Root) -> None:
    dal = DataAccessLayer.from_url(root.url)
    try:
        store = dataset_store(dal, DataRoot.from_uri(str(root.data)))
        assert store.catalog is not None
        store.catalog.refresh(store, data.COMPANY)
    finally:
        dal.close()


def run(settings: data.Settings) -> list[Figure]:
    n = settings.index_ingests
    ds = data.extracts(SCALE, n)
    root = data.new_root(settings.work / f"index-{n}")
    window = min(_WINDOW, max(1, n // 4))
    repeat = max(settings.repeat, 3)
    datasets_cmd = [str(data.BIN / "lakehouse"), "datasets", "-c", data.COMPANY]
    ingest_times: list[float] = []
    early: dict[str, list[float]] = {}
    log(f"index: {n} daily ingests of one company (set-up; scale {SCALE:g})")
    for i, day in enumerate(ds.day_folders):
        _, seconds = timed(lambda day=day: data.ingest(root, [day]))  # type: ignore[misc]
        ingest_times.append(seconds)
        if i + 1 == window:  # the baseline state: the first ingests
            early["refresh"], _ = alternate(lambda: _refresh(root), None, repeat)
            early["datasets"], _ = alternate(lambda: data.run(datasets_cmd, root.env()), None, repeat)
        if (i + 1) % 50 == 0:
            log(f"index: {i + 1} ingests, the last took {seconds:.2f} s")
    refresh, _ = alternate(lambda: _refresh(root), None, repeat)
    listing, _ = alternate(lambda: data.run(datasets_cmd, root.env()), None, repeat)
    files = sum(1 for _ in (root.data / data.COMPANY / "bronze").rglob("*.parquet"))
    total = len(ds.day_folders)
    common: dict[str, Any] = {
        "scale": SCALE,
        "days": total,
        "extra": {"ingests": total, "bronze_files": files},
    }
    return [
        Figure(
            "index_ingest",
            f"one daily ingest after {total} (publish + catalog)",
            f"the first {window} ingests",
            ingest_times[-window:],
            ingest_times[1 : window + 1] if total > window else ingest_times[:window],
            ONE_SECOND,
            unit="ingests",
            items=1,
            **common,
        ),
        Figure(
            "index_refresh",
            f"catalog refresh after {total} ingests",
            f"after {window}",
            refresh,
            early["refresh"],
            ONE_SECOND,
            unit="refreshes",
            items=1,
            **common,
        ),
        Figure(
            "index_datasets",
            f"lakehouse datasets after {total} ingests",
            f"after {window}",
            listing,
            early["datasets"],
            ONE_SECOND,
            unit="runs",
            items=1,
            **common,
        ),
    ]
