"""The per-company DuckDB catalog: views over the current versions' Parquet files.

``data/<company>/catalog.duckdb`` holds one view per published dataset, ``bronze.<dataset>``,
``silver.<dataset>`` and ``gold.<dataset>``, each reading an explicit list of absolute file paths
(never a glob: files of uncommitted runs may sit in the same folders). Every view whose files sit
under ``dt=YYYY-MM-DD`` folders has a DATE column ``dt`` (last), and a filter on it skips the other
partitions' files. The redundant ``dataset`` folder is not a column.

The views never use DuckDB's hive partitioning. DuckDB 1.5.5 (the version the extension wheels need)
fails ``select max(dt)`` over a hive partition column with ``INTERNAL Error: Attempted to access index
N within vector of size N-1`` whenever the scan reads a single file -- one file listed, or a ``dt``
filter that leaves one. Instead:

- a view whose files share one dt (a silver/gold version, a bronze dataset of one day) gives it as a
  typed constant, ``DATE 'YYYY-MM-DD' AS dt``; a filter on another day folds to an empty result;
- a view over several days (bronze) derives ``dt`` from each file's path
  (``read_parquet(..., filename = true)``); DuckDB evaluates a filter on it against the file list,
  so it still opens only the matching files. (If a file has its own ``filename`` column, the path
  column gets another name and a filter on ``dt`` no longer skips files: still right, only slower.)

Both are plain SQL, so any DuckDB client reads the catalog. A file's own ``dt`` column is hidden by
the folder's; a file's own ``dataset`` column is kept.

The file is rebuilt from scratch under a temporary name (``.tmp-...``, see :mod:`lakehouse.dataplane.atomic`)
in the same folder, closed, fsynced and renamed over the old one, so an analyst who has the old
catalog open read-only keeps working and the next open sees the new version. (Within one process,
DuckDB shares a database instance between connections to the same path: a new connection made while
an old one is still open sees the old version; :mod:`lakehouse.query.sandbox` attaches the file to a
fresh instance instead.) Open it with the plain DuckDB CLI from any folder::

    duckdb -readonly data/acme/catalog.duckdb

Schema ``lakehouse`` holds ``lakehouse.datasets`` (what each view reads, and the columns its files
share) and ``lakehouse.catalog_info``. A rebuild reads the Parquet footers of the files the previous
catalog did not list only: files are immutable, so their recorded columns still hold.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal, TypeAlias

import duckdb

from lakehouse.dataplane import duck
from lakehouse.dataplane.atomic import atomic_output
from lakehouse.dataplane.sql import quote_identifier, quote_literal
from lakehouse.errors import DataPlaneError
from lakehouse.names import DATA_ZONES, validate_slug

logger = logging.getLogger(__name__)

CATALOG_ZONES: tuple[str, ...] = DATA_ZONES
METADATA_SCHEMA = "lakehouse"
CATALOG_FORMAT_VERSION = 2
DT_COLUMN = "dt"
# read_parquet expands these even inside an explicit list: 'a[1].parquet' would read 'a1.parquet'.
_GLOB_CHARS = frozenset("*?[")
_DT_FOLDER_PREFIX = f"{DT_COLUMN}="
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# The value of the last dt=... folder of a path, as _folder_dt finds it in Python.
_DT_FROM_PATH_REGEX = r"^.*[/\\]dt=([^/\\]+)[/\\]"
# DuckDB skips files by a filter on the file name only when the column has its default name.
_FILENAME_COLUMN = "filename"

DtForm = Literal["none", "constant", "per_file"]


@dataclass(frozen=True)
class ViewSource:
    """The files of one catalog view and, when known, the one ``dt`` they all belong to.

    Attributes:
        files: the absolute paths of the files of the dataset's current version.
        dt: the version's date (a silver/gold version's as-of date), given to the view as a constant
            ``dt`` column; None derives ``dt`` from the files' ``dt=YYYY-MM-DD`` folders.
    """

    files: Sequence[str | Path]
    dt: date | None = None


ViewFiles: TypeAlias = Sequence[str | Path] | ViewSource
"""What :func:`write_catalog` takes per dataset: the file paths alone, or a :class:`ViewSource`."""


@dataclass(frozen=True)
class _ViewPlan:
    """What one view reads and how."""

    zone: str
    dataset: str
    files: tuple[str, ...]
    union_by_name: bool
    dt_form: DtForm
    dts: tuple[date, ...]  # the distinct dates of the view, sorted
    hide_file_dt: bool  # a file has its own dt column, shadowed by the folder's
    filename_column: str
    columns: tuple[tuple[str, str], ...] | None  # every file's columns, when they are the same


def write_catalog(
    catalog_path: Path, views: Mapping[str, Mapping[str, ViewFiles]], reflects: str | None = None
) -> None:
    """Rebuild the catalog file of one company and swap it in atomically.

    Args:
        catalog_path: the catalog file, e.g. ``data/acme/catalog.duckdb``; its folder is created if missing.
        views: zone (``bronze``, ``silver`` or ``gold``) -> dataset -> the absolute paths of the files of
            the dataset's current version, or a :class:`ViewSource` that also gives the version's ``dt``.
            A dataset with no files gets no view (it is still listed in ``lakehouse.datasets`` with
            ``file_count = 0``). An empty mapping writes a catalog with the schemas only.
        reflects: a fingerprint of the control-plane state the views show (kept in
            ``lakehouse.catalog_info.reflects``; see :func:`catalog_reflects`).

    Raises:
        InvalidNameError: a dataset name is not valid.
        DataPlaneError: the zone is unknown, a path is relative, listed twice or contains glob
            characters, a ``dt=`` folder is not a date or contradicts the given ``dt``, a file cannot
            be read as Parquet, or DuckDB cannot build a view.
    """
    catalog_path = Path(catalog_path)
    known = _known_columns(catalog_path)
    plans = [
        _plan_view(
            zone,
            dataset,
            source if isinstance(source, ViewSource) else ViewSource(source),
            known.get((zone, dataset)),
        )
        for zone, datasets in views.items()
        for dataset, source in datasets.items()
    ]
    with atomic_output(catalog_path) as tmp_path:
        try:
            _build(tmp_path, plans, reflects)
        finally:
            with suppress(FileNotFoundError):
                os.remove(f"{tmp_path}.wal")
        # A leftover WAL of the old file would be replayed onto the new one at its next open.
        with suppress(FileNotFoundError):
            os.remove(f"{catalog_path}.wal")
    logger.info("wrote catalog %s: %d view(s)", catalog_path, sum(1 for plan in plans if plan.files))


# --- planning --------------------------------------------------------------------------------------


#: A view's files and their one column list (name, type), as the previous catalog recorded them.
_Known: TypeAlias = tuple[frozenset[str], tuple[tuple[str, str], ...]]


def _known_columns(catalog_path: Path) -> dict[tuple[str, str], _Known]:
    """(zone, dataset) -> the files of its view in the existing catalog and their common columns.

    Files are immutable, so a file the previous catalog read has the columns it recorded: a refresh
    reads the footers of new files only (after 1,000 daily ingests, 5 instead of 5,000). Views whose
    files differ in columns (``union_by_name``) record none and are read again.
    """
    if not catalog_path.is_file():
        return {}
    try:
        con = duck.connect(catalog_path, read_only=True)
    except duckdb.Error:
        return {}
    try:
        version = con.execute(f"select format_version from {METADATA_SCHEMA}.catalog_info").fetchone()
        if version is None or version[0] != CATALOG_FORMAT_VERSION:
            return {}
        rows = con.execute(
            f"select zone, dataset, files, columns from {METADATA_SCHEMA}.datasets where columns is not null"
        ).fetchall()
    except duckdb.Error:
        return {}
    finally:
        con.close()
    known: dict[tuple[str, str], _Known] = {}
    for zone, dataset, files, columns in rows:
        try:
            signature = tuple((str(name), str(kind)) for name, kind in json.loads(columns))
        except (TypeError, ValueError):
            continue
        known[(str(zone), str(dataset))] = (frozenset(files), signature)
    return known


def _plan_view(zone: str, dataset: str, source: ViewSource, known: _Known | None = None) -> _ViewPlan:
    if zone not in CATALOG_ZONES:
        raise DataPlaneError(f"unknown catalog zone {zone!r}: use one of {', '.join(CATALOG_ZONES)}")
    validate_slug("dataset", dataset)
    paths = tuple(_checked_path(zone, dataset, str(f)) for f in source.files)
    if len(set(paths)) != len(paths):
        raise DataPlaneError(f"catalog view {zone}.{dataset}: a file is listed more than once")
    if not paths:
        return _ViewPlan(zone, dataset, (), False, "none", (), False, _FILENAME_COLUMN, None)
    known_files, signature = known if known is not None else (frozenset(), ())
    read = _files_columns(zone, dataset, [p for p in paths if p not in known_files])
    columns = [signature if p in known_files else read[p] for p in paths]
    names = {name for cols in columns for name, _ in cols}
    dt_form, dts = _plan_dt(zone, dataset, paths, source.dt)
    hide_file_dt = dt_form != "none" and DT_COLUMN in names
    if hide_file_dt:
        logger.warning("%s.%s has a column named 'dt'; the dt of the file's folder shadows it", zone, dataset)
    filename_column = _unused_name(_FILENAME_COLUMN, names)
    if dt_form == "per_file" and filename_column != _FILENAME_COLUMN:
        logger.warning(
            "%s.%s has a column named 'filename': a filter on dt reads every file's footer", zone, dataset
        )
    union_by_name = any(cols != columns[0] for cols in columns[1:])
    return _ViewPlan(
        zone=zone,
        dataset=dataset,
        files=paths,
        # With identical schemas DuckDB binds from the first file only, so a filter on dt never even
        # opens the other partitions' files; union_by_name reads every footer on every query.
        union_by_name=union_by_name,
        columns=None if union_by_name else columns[0],
        dt_form=dt_form,
        dts=dts,
        hide_file_dt=hide_file_dt,
        filename_column=filename_column,
    )


def _plan_dt(
    zone: str, dataset: str, paths: Sequence[str], given: date | None
) -> tuple[DtForm, tuple[date, ...]]:
    folder_dts = [_folder_dt(zone, dataset, p) for p in paths]
    if given is not None:
        for path, folder_dt in zip(paths, folder_dts, strict=True):
            # A snapshot may list files an earlier version wrote (under its earlier dt), never later.
            if folder_dt is not None and folder_dt > given:
                raise DataPlaneError(
                    f"catalog view {zone}.{dataset}: file {path} sits under dt={folder_dt.isoformat()}, "
                    f"after the view's dt {given.isoformat()}"
                )
        return "constant", (given,)
    if any(d is None for d in folder_dts):
        if any(d is not None for d in folder_dts):
            logger.warning("%s.%s: some files are not under a dt= folder; the view has no dt", zone, dataset)
        return "none", ()
    dts = tuple(sorted({d for d in folder_dts if d is not None}))
    return ("constant" if len(dts) == 1 else "per_file"), dts


def _folder_dt(zone: str, dataset: str, path: str) -> date | None:
    """Return the date of the last ``dt=`` folder of ``path``, or None when it has none."""
    values = [
        part[len(_DT_FOLDER_PREFIX) :]
        for part in Path(path).parent.parts
        if part.startswith(_DT_FOLDER_PREFIX)
    ]
    if not values:
        return None
    try:
        if not _ISO_DATE.fullmatch(values[-1]):
            raise ValueError(values[-1])
        return date.fromisoformat(values[-1])
    except ValueError:
        raise DataPlaneError(
            f"catalog view {zone}.{dataset}: folder dt={values[-1]} of {path} is not a date (YYYY-MM-DD)"
        ) from None


def _unused_name(name: str, taken: set[str]) -> str:
    lowered = {t.lower() for t in taken}
    while name.lower() in lowered:
        name = f"_{name}"
    return name


def _checked_path(zone: str, dataset: str, text: str) -> str:
    """A view's file as DuckDB opens it: an absolute local path, or an ``s3://`` URL."""
    if not (text.startswith("s3://") or Path(text).is_absolute()):
        raise DataPlaneError(f"catalog view {zone}.{dataset}: file path {text!r} is not absolute")
    if _GLOB_CHARS.intersection(text):
        raise DataPlaneError(
            f"catalog view {zone}.{dataset}: file path {text!r} contains a glob character (*, ? or [), "
            "which DuckDB would expand; rename the file"
        )
    return text


def _files_columns(zone: str, dataset: str, paths: Sequence[str]) -> dict[str, tuple[tuple[str, str], ...]]:
    """Each file's columns: local footers through pyarrow; ``s3://`` ones through DuckDB's httpfs,
    all of them in one connection (it has the secret)."""
    columns = {p: _file_columns(zone, dataset, p) for p in paths if not p.startswith("s3://")}
    remote = [p for p in paths if p.startswith("s3://")]
    if remote:
        from lakehouse.dataplane.parquet_io import stored_schemas

        try:
            schemas = stored_schemas(remote)
        except duckdb.Error as exc:
            raise DataPlaneError(
                f"catalog view {zone}.{dataset}: cannot read a Parquet footer: {exc}"
            ) from exc
        columns.update((path, tuple(schema)) for path, schema in zip(remote, schemas, strict=True))
    return columns


def _file_columns(zone: str, dataset: str, path: str) -> tuple[tuple[str, str], ...]:
    import pyarrow.parquet as pq  # only to write a catalog (a query just reads one)

    try:
        schema = pq.read_schema(path)
    except (OSError, ValueError) as exc:
        raise DataPlaneError(
            f"catalog view {zone}.{dataset}: cannot read the Parquet footer of {path}: {exc}"
        ) from exc
    return tuple((field.name, str(field.type)) for field in schema)


# --- building --------------------------------------------------------------------------------------


def _view_sql(plan: _ViewPlan) -> str:
    file_list = "[" + ", ".join(quote_literal(f) for f in plan.files) + "]"
    options = ["hive_partitioning = false", f"union_by_name = {'true' if plan.union_by_name else 'false'}"]
    hidden = [DT_COLUMN] if plan.hide_file_dt else []
    extra = ""
    if plan.dt_form == "constant":
        extra = f", date {quote_literal(plan.dts[0].isoformat())} as {DT_COLUMN}"
    elif plan.dt_form == "per_file":
        named = plan.filename_column != _FILENAME_COLUMN
        options.append(f"filename = {quote_literal(plan.filename_column) if named else 'true'}")
        hidden.append(plan.filename_column)
        from_path = f"regexp_extract({quote_identifier(plan.filename_column)}, {quote_literal(_DT_FROM_PATH_REGEX)}, 1)"
        extra = f", cast({from_path} as date) as {DT_COLUMN}"
    projection = "*"
    if hidden:
        projection += " exclude (" + ", ".join(quote_identifier(h) for h in hidden) + ")"
    name = f"{quote_identifier(plan.zone)}.{quote_identifier(plan.dataset)}"
    return (
        f"create view {name} as select {projection}{extra} "
        f"from read_parquet({file_list}, {', '.join(options)})"
    )


def _comment(plan: _ViewPlan) -> str:
    span = f", dt {plan.dts[0].isoformat()}..{plan.dts[-1].isoformat()}" if plan.dts else ""
    return f"{plan.zone} dataset {plan.dataset}: {len(plan.files)} file(s){span} (current version)"


def catalog_reflects(catalog_path: Path) -> str | None:
    """The fingerprint the catalog was written with (None: no catalog, or one from before fingerprints)."""
    if not Path(catalog_path).is_file():
        return None
    try:
        con = duck.connect(catalog_path, read_only=True)
    except duckdb.Error:
        return None
    try:
        row = con.execute(f"select reflects from {METADATA_SCHEMA}.catalog_info").fetchone()
    except duckdb.Error:
        return None
    finally:
        con.close()
    return None if row is None else row[0]


def _build(path: Path, plans: Sequence[_ViewPlan], reflects: str | None = None) -> None:
    con = duck.connect(path)
    try:
        for zone in (*CATALOG_ZONES, METADATA_SCHEMA):
            con.execute(f"create schema {quote_identifier(zone)}")
        con.execute(
            f"create table {METADATA_SCHEMA}.datasets ("
            " zone varchar not null, dataset varchar not null, has_view boolean not null,"
            " file_count bigint not null, union_by_name boolean not null, files varchar[] not null,"
            " columns varchar, primary key (zone, dataset))"
        )
        con.execute(
            f"create table {METADATA_SCHEMA}.catalog_info ("
            " format_version integer not null, built_at timestamp with time zone not null,"
            " duckdb_version varchar not null, reflects varchar)"
        )
        con.execute(
            f"insert into {METADATA_SCHEMA}.catalog_info values (?, now(), ?, ?)",
            [CATALOG_FORMAT_VERSION, duckdb.__version__, reflects],
        )
        for plan in plans:
            if plan.files:
                _create_view(con, plan)
            con.execute(
                f"insert into {METADATA_SCHEMA}.datasets values (?, ?, ?, ?, ?, ?, ?)",
                [
                    plan.zone,
                    plan.dataset,
                    bool(plan.files),
                    len(plan.files),
                    plan.union_by_name,
                    list(plan.files),
                    None if plan.columns is None else json.dumps(plan.columns),
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
