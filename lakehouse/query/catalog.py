"""The per-company DuckDB catalog: views over the current versions' Parquet files.

``data/<company>/catalog.duckdb`` holds one view per published dataset, ``bronze.<dataset>``,
``silver.<dataset>`` and ``gold.<dataset>``, each reading an explicit list of absolute file paths
(never a glob: files of uncommitted runs may sit in the same folders). The hive partition column
``dt`` (a DATE) is part of every view whose files sit under ``dt=YYYY-MM-DD`` folders, and a filter on
it skips the other partitions' files. The redundant ``dataset`` partition column is left out.

The file is rebuilt from scratch under a temporary name (``.tmp-...``, see :mod:`lakehouse.io.atomic`)
in the same folder, closed, fsynced and renamed over the old one, so an analyst who has the old
catalog open read-only keeps working and the next open sees the new version. (Within one process,
DuckDB shares a database instance between connections to the same path: a new connection made while
an old one is still open sees the old version; :mod:`lakehouse.query.sandbox` attaches the file to a
fresh instance instead.) Open it with the plain DuckDB CLI from any folder::

    duckdb -readonly data/acme/catalog.duckdb

Schema ``lakehouse`` holds ``lakehouse.datasets`` (what each view reads) and ``lakehouse.catalog_info``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from lakehouse.errors import DataPlaneError
from lakehouse.io.atomic import atomic_output
from lakehouse.io.zones import validate_slug

logger = logging.getLogger(__name__)

CATALOG_ZONES: tuple[str, ...] = ("bronze", "silver", "gold")
METADATA_SCHEMA = "lakehouse"
CATALOG_FORMAT_VERSION = 1
# read_parquet expands these even inside an explicit list: 'a[1].parquet' would read 'a1.parquet'.
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class _ViewPlan:
    """What one view reads and how."""

    zone: str
    dataset: str
    files: tuple[str, ...]
    union_by_name: bool
    has_dt: bool
    drop_dataset_column: bool


def write_catalog(catalog_path: Path, views: Mapping[str, Mapping[str, Sequence[Path]]]) -> None:
    """Rebuild the catalog file of one company and swap it in atomically.

    Args:
        catalog_path: the catalog file, e.g. ``data/acme/catalog.duckdb``; its folder is created if missing.
        views: zone (``bronze``, ``silver`` or ``gold``) -> dataset -> the absolute paths of the files of
            the dataset's current version. A dataset with no files gets no view (it is still listed in
            ``lakehouse.datasets`` with ``file_count = 0``). An empty mapping writes a catalog with the
            schemas only.

    Raises:
        InvalidNameError: a dataset name is not valid.
        DataPlaneError: the zone is unknown, a path is relative, listed twice or contains glob
            characters, a file cannot be read as Parquet, or DuckDB cannot build a view.
    """
    plans = [
        _plan_view(zone, dataset, files)
        for zone, datasets in views.items()
        for dataset, files in datasets.items()
    ]
    catalog_path = Path(catalog_path)
    with atomic_output(catalog_path) as tmp_path:
        try:
            _build(tmp_path, plans)
        finally:
            with suppress(FileNotFoundError):
                os.remove(f"{tmp_path}.wal")
        # A leftover WAL of the old file would be replayed onto the new one at its next open.
        with suppress(FileNotFoundError):
            os.remove(f"{catalog_path}.wal")
    logger.info("wrote catalog %s: %d view(s)", catalog_path, sum(1 for plan in plans if plan.files))


def quote_literal(value: str) -> str:
    """Return ``value`` as a SQL string literal (single quotes doubled)."""
    return "'" + value.replace("'", "''") + "'"


def quote_identifier(name: str) -> str:
    """Return ``name`` as a double-quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


# --- planning --------------------------------------------------------------------------------------


def _plan_view(zone: str, dataset: str, files: Sequence[Path]) -> _ViewPlan:
    if zone not in CATALOG_ZONES:
        raise DataPlaneError(f"unknown catalog zone {zone!r}: use one of {', '.join(CATALOG_ZONES)}")
    validate_slug("dataset", dataset)
    paths = tuple(_checked_path(zone, dataset, Path(f)) for f in files)
    if len(set(paths)) != len(paths):
        raise DataPlaneError(f"catalog view {zone}.{dataset}: a file is listed more than once")
    if not paths:
        return _ViewPlan(zone, dataset, (), union_by_name=False, has_dt=False, drop_dataset_column=False)
    columns = [_file_columns(zone, dataset, p) for p in paths]
    partition_keys = [_partition_keys(p) for p in paths]
    has_dt = all("dt" in keys for keys in partition_keys)
    own_dataset_column = any(any(name == "dataset" for name, _ in cols) for cols in columns)
    if own_dataset_column and any("dataset" in keys for keys in partition_keys):
        logger.warning(
            "%s.%s has a column named 'dataset'; the hive partition value of the path shadows it",
            zone,
            dataset,
        )
    return _ViewPlan(
        zone=zone,
        dataset=dataset,
        files=paths,
        # With identical schemas DuckDB binds from the first file only, so a filter on dt never even
        # opens the other partitions' files; union_by_name reads every footer on every query.
        union_by_name=any(cols != columns[0] for cols in columns[1:]),
        has_dt=has_dt,
        drop_dataset_column=all("dataset" in keys for keys in partition_keys) and not own_dataset_column,
    )


def _checked_path(zone: str, dataset: str, path: Path) -> str:
    if not path.is_absolute():
        raise DataPlaneError(f"catalog view {zone}.{dataset}: file path {str(path)!r} is not absolute")
    text = str(path)
    if _GLOB_CHARS.intersection(text):
        raise DataPlaneError(
            f"catalog view {zone}.{dataset}: file path {text!r} contains a glob character (*, ? or [), "
            "which DuckDB would expand; rename the file"
        )
    return text


def _file_columns(zone: str, dataset: str, path: str) -> tuple[tuple[str, str], ...]:
    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError) as exc:
        raise DataPlaneError(
            f"catalog view {zone}.{dataset}: cannot read the Parquet footer of {path}: {exc}"
        ) from exc
    return tuple((field.name, str(field.type)) for field in schema)


def _partition_keys(path: str) -> frozenset[str]:
    return frozenset(part.split("=", 1)[0] for part in Path(path).parent.parts if "=" in part)


# --- building --------------------------------------------------------------------------------------


def _view_sql(plan: _ViewPlan) -> str:
    file_list = "[" + ", ".join(quote_literal(f) for f in plan.files) + "]"
    options = ["hive_partitioning = true", f"union_by_name = {'true' if plan.union_by_name else 'false'}"]
    if plan.has_dt:
        options.append("hive_types = {'dt': 'DATE'}")
    projection = "* exclude (dataset)" if plan.drop_dataset_column else "*"
    name = f"{quote_identifier(plan.zone)}.{quote_identifier(plan.dataset)}"
    return f"create view {name} as select {projection} from read_parquet({file_list}, {', '.join(options)})"


def _comment(plan: _ViewPlan) -> str:
    dts = sorted({part[3:] for f in plan.files for part in Path(f).parent.parts if part.startswith("dt=")})
    span = f", dt {dts[0]}..{dts[-1]}" if dts else ""
    return f"{plan.zone} dataset {plan.dataset}: {len(plan.files)} file(s){span} (current version)"


def _build(path: Path, plans: Sequence[_ViewPlan]) -> None:
    con = duckdb.connect(str(path))
    try:
        for zone in (*CATALOG_ZONES, METADATA_SCHEMA):
            con.execute(f"create schema {quote_identifier(zone)}")
        con.execute(
            f"create table {METADATA_SCHEMA}.datasets ("
            " zone varchar not null, dataset varchar not null, has_view boolean not null,"
            " file_count bigint not null, union_by_name boolean not null, files varchar[] not null,"
            " primary key (zone, dataset))"
        )
        con.execute(
            f"create table {METADATA_SCHEMA}.catalog_info ("
            " format_version integer not null, built_at timestamp with time zone not null,"
            " duckdb_version varchar not null)"
        )
        con.execute(
            f"insert into {METADATA_SCHEMA}.catalog_info values (?, now(), ?)",
            [CATALOG_FORMAT_VERSION, duckdb.__version__],
        )
        for plan in plans:
            if plan.files:
                _create_view(con, plan)
            con.execute(
                f"insert into {METADATA_SCHEMA}.datasets values (?, ?, ?, ?, ?, ?)",
                [
                    plan.zone,
                    plan.dataset,
                    bool(plan.files),
                    len(plan.files),
                    plan.union_by_name,
                    list(plan.files),
                ],
            )
        con.execute("checkpoint")
    finally:
        con.close()


def _create_view(con: duckdb.DuckDBPyConnection, plan: _ViewPlan) -> None:
    name = f"{quote_identifier(plan.zone)}.{quote_identifier(plan.dataset)}"
    try:
        con.execute(_view_sql(plan))
        con.execute(f"comment on view {name} is {quote_literal(_comment(plan))}")
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0]
        raise DataPlaneError(f"cannot build catalog view {plan.zone}.{plan.dataset}: {message}") from exc
    logger.debug("view %s over %d file(s), union_by_name=%s", name, len(plan.files), plan.union_by_name)
