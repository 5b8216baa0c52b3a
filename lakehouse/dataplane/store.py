"""Dataset versions on the data plane: stage immutable files, commit through the control plane, read back.

The commit protocol (the same for an ingest and a dbt build):

1. Every file of a version is written under a name unique to its run
   (``part-<run_id>-NNNNN.parquet``), to a temporary name first, fsync'd, then renamed; a file is
   never overwritten.
2. The version's manifest (files, sizes, row counts, sha256) is written the same way.
3. One control-plane transaction registers every version of the run (and claims the run's
   idempotency keys). That commit is the only point where the versions become visible: readers list
   files from committed manifests only, never by globbing folders. A crash before it leaves the
   previous versions current and intact; its leftovers are orphans that ``gc`` removes.

Silver and gold datasets are snapshots. Each version records the ``as_of`` date it describes; the
current one is the version with the newest as_of, and among equal as_of the latest commit
(``commit_seq``), so a backfill (an older as-of) is published and readable but never current. Bronze
is append-only: every committed version is part of the dataset; read as of a date, it holds the files
whose ``dt`` is on or before it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import duckdb
import pyarrow as pa

from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.catalog_fingerprint import versions_fingerprint
from lakehouse.dataplane.json_io import json_document, parse_json
from lakehouse.dataplane.maintenance import Maintenance
from lakehouse.dataplane.manifest import FileEntry, dataset_manifest, manifest_files, manifest_relpath
from lakehouse.dataplane.parquet_io import (
    WrittenFile,
    column_ranges,
    read_parquet,
    stored_columns,
    write_parquet_to,
)
from lakehouse.dataplane.zones import (
    DATA_ZONES,
    DataRoot,
    Zone,
    part_file_name,
    partition_dir_name,
    validate_run_id,
)
from lakehouse.db.records import DatasetFileRecord, DatasetVersionRecord, DatasetVersionSpec
from lakehouse.errors import (
    AlreadyExistsError,
    CatalogStaleError,
    DataPlaneError,
    DatasetNotFoundError,
    IntegrityError,
    LakehouseError,
    disk_full_from,
)
from lakehouse.names import validate_slug

logger = logging.getLogger(__name__)

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class StagedVersion:
    """A dataset version being written by a run: its files exist but are not visible yet."""

    company: str
    zone: Zone
    dataset: str
    run_id: str
    schema_version: str
    schema: dict[str, Any] | None = None
    files: list[FileEntry] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    #: The date the version describes; bronze: defaults to the newest dt of its files.
    as_of: date | None = None
    #: The column whose min/max each file's index row records (the dataset's key), if any.
    key_column: str | None = None

    @property
    def row_count(self) -> int:
        return sum(f.row_count for f in self.files)

    @property
    def effective_as_of(self) -> date | None:
        if self.as_of is not None:
            return self.as_of
        days = [f.dt for f in self.files if f.dt]
        return date.fromisoformat(max(days)) if days else None

    def as_output(self) -> dict[str, Any]:
        """This version as an entry of its run's output manifest (files with checksums and row counts)."""
        return {
            "zone": self.zone,
            "dataset": self.dataset,
            "schema_version": self.schema_version,
            **self.extra,
            "files": [f.as_dict() for f in self.files],
        }


def version_summary(records: Sequence[DatasetVersionRecord]) -> list[dict[str, Any]]:
    """Published versions as short rows (zone, dataset, version, rows) for results and the CLI."""
    return [
        {"zone": r.zone, "dataset": r.dataset_name, "version": r.version_tag, "rows": r.row_count}
        for r in records
    ]


def curated_metadata(dataset: str, schema_version: str, run_id: str) -> dict[str, str]:
    """Parquet key-value metadata carried by every file the lakehouse writes."""
    return {
        "lakehouse.dataset": dataset,
        "lakehouse.schema_version": schema_version,
        "lakehouse.run_id": run_id,
    }


#: The column a silver row carries its bronze day in (the dbt models' lineage; the chunks of an
#: incremental build are months of it): its range is indexed per file.
BRONZE_DAY = "_bronze_dt"


class CatalogHook(Protocol):
    """A read model derived from the commits of a company (the analysts' DuckDB catalog), kept in
    step by the store: refreshed after each publish and gc, ensured by every recovery pass. The data
    plane does not know what it is; the runtime plugs it in (:mod:`lakehouse.runtime`)."""

    def refresh(self, store: DatasetStore, company: str) -> Path:
        """Rewrite it over what is committed now."""
        ...

    def ensure(self, store: DatasetStore, company: str) -> bool:
        """Refresh it if it does not show what is committed; whether it was refreshed."""
        ...


class DatasetStore:
    """Publishes and reads dataset versions of one data root, through the DAL.

    Args:
        dal: the control-plane façade; its transactions are the commit points.
        root: the data root.
        catalog: keeps a derived read model in step after every commit (the runtime passes the
            analysts' catalog, :class:`lakehouse.query.catalog_hook.AnalystCatalog`); None: no catalog.
    """

    def __init__(self, dal: DataAccessLayer, root: DataRoot, catalog: CatalogHook | None = None) -> None:
        self.dal = dal
        self.root = root
        self.catalog = catalog
        self._catalog_deferred = 0
        self._catalog_pending: set[str] = set()

    # --- writing ---------------------------------------------------------------------------------

    def write_file(
        self,
        con: duckdb.DuckDBPyConnection,
        staged: StagedVersion,
        source: str | duckdb.DuckDBPyRelation | pa.Table,
        dt: date,
        params: list[object] | None = None,
    ) -> FileEntry:
        """Write one immutable part file of ``staged`` under ``dt=`` and add it to the version."""
        key = (
            f"{self.root.dataset_prefix(staged.company, staged.zone, staged.dataset)}{partition_dir_name(dt)}/"
            f"{part_file_name(staged.run_id, len(staged.files))}"
        )
        with self.root.objects.new_file(key) as local:  # stored create-only when the block ends
            written: WrittenFile = write_parquet_to(
                con,
                source,
                local,
                metadata=curated_metadata(staged.dataset, staged.schema_version, staged.run_id),
                params=params,
                name=key,
            )
            ranges = column_ranges(local, [c for c in (BRONZE_DAY, staged.key_column) if c])
        days = ranges.get(BRONZE_DAY) or ((dt.isoformat(),) * 2 if staged.zone == "bronze" else (None, None))
        keys = ranges.get(staged.key_column or "", (None, None))
        entry = FileEntry(
            path=key,
            size_bytes=written.size_bytes,
            row_count=written.row_count,
            checksum=written.checksum,
            dt=dt.isoformat(),
            dt_min=days[0],
            dt_max=days[1],
            key_min=keys[0],
            key_max=keys[1],
        )
        staged.files.append(entry)
        return entry

    def publish(
        self,
        versions: Sequence[StagedVersion],
        claims: Sequence[tuple[str, str]] = (),
        *,
        claimed_files: Mapping[tuple[str, str], str] | None = None,
        on_claim_taken: Callable[[str, str], None] | None = None,
    ) -> list[DatasetVersionRecord]:
        """Write the manifests of ``versions``, then commit them all in one control-plane transaction.

        Args:
            versions: the staged versions, their files written.
            claims: idempotency keys to claim in the commit; if another run holds one, nothing is
                published, unless it is a per-file claim (``claimed_files``).
            claimed_files: per-file claims: claim -> the root-relative path of the staged file it
                stands for. When another run holds such a claim, only that file is left out: it is
                taken out of its version and deleted (it was never visible), the version's manifest
                is written again, a version left with no file is dropped, and the rest commits.
            on_claim_taken: called with ``(file path, holder run id)`` for each file left out so.

        Returns:
            The committed versions (those dropped are not among them).

        Raises:
            AlreadyExistsError: a claim that is not per file was taken (nothing is published).
            SchemaConflictError: a version's schema version is registered with other columns.
        """
        per_file = dict(claimed_files or {})

        def remove(key: str) -> None:
            try:
                self.root.objects.delete([key])
            except (OSError, DataPlaneError):  # it was never visible; gc removes it
                logger.warning("could not remove %s: gc will", key, exc_info=True)

        def spec_of(v: StagedVersion) -> DatasetVersionSpec:
            """Write the manifest of ``v`` (again, if it changed) and return what registers it."""
            key = self._manifest_key(v)
            document = dataset_manifest(
                company=v.company,
                zone=v.zone,
                dataset=v.dataset,
                version_tag=v.run_id,
                run_id=v.run_id,
                schema_version=v.schema_version,
                schema=v.schema,
                files=v.files,
                extra={**v.extra, "as_of": as_of.isoformat()} if (as_of := v.effective_as_of) else v.extra,
            )
            # (rewritten when a file is left out, before the commit makes it visible)
            self.root.objects.put_bytes(key, json_document(document, key), if_absent=False)
            return DatasetVersionSpec(
                company=v.company,
                dataset_name=v.dataset,
                version_tag=v.run_id,
                schema_version=v.schema_version,
                manifest_path=key,
                row_count=v.row_count,
                checksum=document["checksum"],
                produced_by_run_id=v.run_id,
                zone=v.zone,
                schema=v.schema,
                as_of=v.effective_as_of,
                files=tuple(_file_record(f) for f in v.files),
            )

        specs = {id(v): spec_of(v) for v in versions}
        kept = list(versions)

        def leave_out(taken: Sequence[tuple[str, str, str]]) -> list[DatasetVersionSpec]:
            """Called in the commit transaction with the claims another run holds."""
            nonlocal kept
            holders: dict[str, str] = {}
            for scope, key, holder in taken:
                path = per_file.get((scope, key))
                if path is None:
                    raise AlreadyExistsError(scope, key)
                holders[path] = holder
            survivors: list[StagedVersion] = []
            for v in kept:
                files = [f for f in v.files if f.path not in holders]
                if len(files) == len(v.files):
                    survivors.append(v)
                    continue
                v.files = files
                if files:
                    specs[id(v)] = spec_of(v)
                    survivors.append(v)
                else:
                    remove(self._manifest_key(v))
            kept = survivors
            for path, holder in holders.items():
                remove(path)
                if on_claim_taken is not None:
                    on_claim_taken(path, holder)
            return [specs[id(v)] for v in kept]

        records = self.dal.commit_dataset_versions(
            [specs[id(v)] for v in versions], claims, on_taken=leave_out if per_file else None
        )
        # Committed: nothing below may undo it. The catalog is derived data; a failed refresh leaves
        # it stale until the next one, never the versions unpublished.
        companies = {v.company for v in versions}
        if self._catalog_deferred:
            self._catalog_pending |= companies
        else:
            self._refresh_catalogs(companies)
        return records

    @contextmanager
    def catalog_deferred(self) -> Iterator[None]:
        """Refresh the catalog once, when the block ends, for every publish in it (a build and the
        extraction that follows it); also when the block fails after a publish. A process killed
        inside leaves the catalog stale, which the next command's recovery pass refreshes."""
        self._catalog_deferred += 1
        try:
            yield
        finally:
            self._catalog_deferred -= 1
            if not self._catalog_deferred:
                pending, self._catalog_pending = self._catalog_pending, set()
                self._refresh_catalogs(pending)

    def _refresh_catalogs(self, companies: Iterable[str]) -> None:
        for company in sorted(companies):
            try:
                self.refresh_catalog(company)
            except Exception as exc:  # the command's closing check (stale_catalog) reports it
                logger.info("published, but the catalog of %s could not be refreshed: %s", company, exc)

    def write_run_manifest(self, company: str, manifest: dict[str, Any]) -> str:
        """Keep a finished run's manifest as ``manifests/runs/<run_id>.json``; returns its relative path."""
        key = f"{self.root.zone_prefix(company, 'manifests')}runs/{validate_run_id(str(manifest['run_id']))}.json"
        self.root.objects.put_bytes(key, json_document(manifest, key), if_absent=False)
        return key

    def _manifest_key(self, v: StagedVersion) -> str:
        """``<company>/manifests/<zone>/<dataset>/<run_id>.json``: the key of a version's manifest."""
        return (
            self.root.zone_prefix(v.company, "manifests")
            + manifest_relpath(v.zone, v.dataset, v.run_id).as_posix()
        )

    def discard(self, versions: Iterable[StagedVersion]) -> bool:
        """Best-effort removal of the files (and manifests) of versions that will not be published.

        A version that was committed after all (the caller failed after :meth:`publish` returned) is
        left alone, and so is everything when the control plane cannot tell: gc removes orphans later.

        Returns:
            Whether none of the versions was committed (False also when that cannot be told).
        """
        versions = list(versions)
        try:
            committed = {
                (r.zone, r.dataset_name, r.version_tag)
                for company in {v.company for v in versions}
                for r in self.dal.list_dataset_versions(company)
            }
        except Exception:
            logger.warning(
                "cannot tell which versions were committed: leaving their files to gc", exc_info=True
            )
            return False
        none_committed = True
        for v in versions:
            if (v.zone, v.dataset, v.run_id) in committed:
                logger.warning("not discarding %s.%s@%s: it was committed", v.zone, v.dataset, v.run_id)
                none_committed = False
                continue
            # Files shared with an earlier version (an incremental build) belong to that version.
            own = [f.path for f in v.files if PurePosixPath(f.path).name.startswith(f"part-{v.run_id}-")]
            try:
                self.root.objects.delete([*own, self._manifest_key(v)])
            except (OSError, DataPlaneError):  # never hide the error that made the caller discard
                logger.warning(
                    "could not remove the files of %s.%s@%s: gc will",
                    v.zone,
                    v.dataset,
                    v.run_id,
                    exc_info=True,
                )
        return none_committed

    # --- reading ---------------------------------------------------------------------------------

    def versions(self, company: str, zone: str, dataset: str) -> list[DatasetVersionRecord]:
        """Committed versions of one dataset, oldest first.

        Raises:
            InvalidNameError: ``company`` or ``dataset`` is not a valid name.
            DataPlaneError: ``zone`` is not bronze, silver or gold.
        """
        validate_slug("company", company)
        validate_slug("dataset", dataset)
        if zone not in DATA_ZONES:
            raise DataPlaneError(f"unknown zone {zone!r}: use one of {', '.join(DATA_ZONES)}")
        return self.dal.list_dataset_versions(company, dataset, zone)

    def resolve_version(
        self, company: str, zone: str, dataset: str, as_of: str | date | None = None
    ) -> DatasetVersionRecord:
        """The current version; or the one tagged (or produced by run) ``as_of``; or, for an as-of
        date (``YYYY-MM-DD`` or a ``date``), the version that was current as of that day: the newest
        with ``as_of <= date``.

        Raises:
            DatasetNotFoundError: nothing published, or no such version.
        """
        versions = self.versions(company, zone, dataset)
        if not versions:
            raise DatasetNotFoundError(company, zone, dataset)
        if as_of is None:
            return current_of(versions)
        day = as_of if isinstance(as_of, date) else None
        if day is None:
            assert isinstance(as_of, str)
            for v in versions:
                if as_of in (v.version_tag, v.produced_by_run_id):
                    return v
            day = parse_as_of(as_of)
        if day is not None:
            eligible = [v for v in versions if v.as_of is not None and v.as_of <= day]
            if eligible:
                return current_of(eligible)
        raise DatasetNotFoundError(company, zone, dataset, str(as_of))

    def version_entries(self, version: DatasetVersionRecord) -> list[FileEntry]:
        """The file entries of a version, from the file index (see :meth:`entries_of`)."""
        return self.entries_of([version])[version.id]

    def entries_of(self, versions: Sequence[DatasetVersionRecord]) -> dict[Any, list[FileEntry]]:
        """Version id -> its file entries, for many versions in one control-plane query.

        The file index (``dataset_files``) is committed with each version. A version without indexed
        files (committed before the index existed, or without files) is read from its manifest, and
        its files are indexed then, so the next read is a query again.
        """
        indexed = self.dal.dataset_files_of(versions)
        out: dict[Any, list[FileEntry]] = {}
        for v in versions:
            files = indexed.get(v.id)
            if files is not None:
                out[v.id] = [_file_entry(f) for f in files]
                continue
            entries = self.manifest_entries(v)
            if entries:
                self.dal.index_dataset_files(v, [_file_record(e) for e in entries])
            out[v.id] = entries
        return out

    def manifest_entries(self, version: DatasetVersionRecord) -> list[FileEntry]:
        """The file entries of a version, from its manifest (checked against the committed checksum)."""
        document = parse_json(self.root.objects.get_bytes(version.manifest_path), version.manifest_path)
        entries = manifest_files(document, version.manifest_path)
        if document.get("checksum") != version.checksum:
            raise IntegrityError(
                f"manifest {version.manifest_path} does not match the checksum committed for version {version.version_tag}"
            )
        return entries

    def dataset_files(
        self, company: str, zone: str, dataset: str, as_of: str | date | None = None
    ) -> list[str]:
        """Files visible for a dataset: silver/gold = one version (see :meth:`resolve_version`);
        bronze = every version committed up to the one named by ``as_of`` (all of them by default),
        or, for an as-of date, every file whose ``dt`` is on or before it."""
        if zone == "bronze":
            return [self.root.url(e.path) for e in self.bronze_entries(company, dataset, as_of)]
        target = self.resolve_version(company, zone, dataset, as_of)
        return [self.root.url(e.path) for e in self.version_entries(target)]

    def bronze_entries(self, company: str, dataset: str, as_of: str | date | None = None) -> list[FileEntry]:
        """The file entries of a bronze dataset as of a run/version (or date); every one by default."""
        versions = self.versions(company, "bronze", dataset)
        if not versions:
            raise DatasetNotFoundError(company, "bronze", dataset)
        day = as_of if isinstance(as_of, date) else None
        if isinstance(as_of, str):
            named = [v for v in versions if as_of in (v.version_tag, v.produced_by_run_id)]
            if named:
                versions = [v for v in versions if v.commit_seq <= named[0].commit_seq]
            else:
                day = parse_as_of(as_of)
                if day is None:
                    raise DatasetNotFoundError(company, "bronze", dataset, as_of)
        by_version = self.entries_of(versions)
        entries = [e for v in versions for e in by_version[v.id]]
        if day is not None:
            entries = [e for e in entries if e.dt is not None and date.fromisoformat(e.dt) <= day]
            if not entries:
                raise DatasetNotFoundError(company, "bronze", dataset, str(as_of))
        return entries

    def read_dataset(
        self, company: str, zone: str, dataset: str, as_of: str | date | None = None
    ) -> pa.Table:
        """A dataset's current (or an earlier) version as a ``pyarrow.Table`` (with its ``dt`` column).

        ``as_of`` is a version tag, a run id, or an as-of date (``YYYY-MM-DD``): each silver/gold
        dataset's newest version with as_of on or before it; bronze rows with ``dt`` on or before it.
        Like the catalog views, the table leaves out the redundant ``dataset`` partition column of the
        paths (a column of that name stored in the files themselves is kept).
        """
        snapshot: date | None = None
        if zone == "bronze":
            files = self.dataset_files(company, zone, dataset, as_of)
        else:
            version = self.resolve_version(company, zone, dataset, as_of)
            files = [self.root.url(e.path) for e in self.version_entries(version)]
            snapshot = version.as_of
        if not files:
            raise DatasetNotFoundError(company, zone, dataset, None if as_of is None else str(as_of))
        table = read_parquet(files)
        if "dataset" in table.column_names and "dataset" not in stored_columns(files):
            table = table.drop_columns(["dataset"])
        if snapshot is not None and "dt" in table.column_names:
            # A snapshot's dt is its as-of, also in the files it shares with an earlier version (they
            # sit under that version's dt folder), as in the catalog's views.
            column = table.column_names.index("dt")
            if pa.types.is_date(table.schema.field(column).type):
                table = table.set_column(column, "dt", pa.array([snapshot] * table.num_rows, pa.date32()))
        return table

    def current_versions(
        self, company: str, as_of: date | None = None
    ) -> dict[tuple[str, str], list[DatasetVersionRecord]]:
        """(zone, dataset) -> the versions that make it up now (or as of a date): bronze every version
        (committed up to then), silver/gold the current one (as of then)."""
        by_dataset: dict[tuple[str, str], list[DatasetVersionRecord]] = {}
        for v in self.dal.list_dataset_versions(company):
            by_dataset.setdefault((v.zone, v.dataset_name), []).append(v)
        chosen: dict[tuple[str, str], list[DatasetVersionRecord]] = {}
        for (zone, name), versions in sorted(by_dataset.items()):
            if zone == "bronze":
                chosen[(zone, name)] = versions
                continue
            if as_of is not None:
                versions = [v for v in versions if v.as_of is not None and v.as_of <= as_of]
            if versions:
                chosen[(zone, name)] = [current_of(versions)]
        return chosen

    def current_views(self, company: str, as_of: date | None = None) -> dict[str, dict[str, list[str]]]:
        """Zone -> dataset -> files (what DuckDB opens) of what is current, or current as of a date."""
        views: dict[str, dict[str, list[str]]] = {z: {} for z in DATA_ZONES}
        current = self.current_versions(company, as_of)
        by_version = self.entries_of([v for versions in current.values() for v in versions])
        for (zone, name), versions in current.items():
            entries = [e for v in versions for e in by_version[v.id]]
            if zone == "bronze" and as_of is not None:
                entries = [e for e in entries if e.dt is not None and date.fromisoformat(e.dt) <= as_of]
            if entries:
                views[zone][name] = [self.root.url(e.path) for e in entries]
        return views

    def refresh_catalog(self, company: str) -> Path | None:
        """Rewrite the company's derived read model (the analysts' catalog) through the store's
        catalog hook; None when the store has none."""
        return None if self.catalog is None else self.catalog.refresh(self, company)

    def ensure_catalog(self, company: str) -> bool:
        """Refresh the catalog if it is missing or does not show what is committed (a process killed
        between a commit and its refresh leaves it stale). Returns whether it was refreshed."""
        return False if self.catalog is None else self.catalog.ensure(self, company)

    def stale_catalog(self, company: str) -> CatalogStaleError | None:
        """Refresh the catalog if it is stale; the error to report if it is and cannot be refreshed.

        A command that committed calls it last, so that a catalog left behind (a full disk during
        the refresh) fails the command instead of passing unnoticed.
        """
        try:
            self.ensure_catalog(company)
        except (LakehouseError, OSError, duckdb.Error) as exc:
            full = disk_full_from(exc)
            reason = str(full) if full is not None else " ".join(str(exc).split()) or type(exc).__name__
            return CatalogStaleError(company, str(self.root.catalog_path(company)), reason)
        return None

    def catalog_fingerprint(self, company: str) -> str:
        """A digest of every committed version of the company (what the catalog should show)."""
        return fingerprint(self.dal.list_dataset_versions(company))

    @property
    def maintenance(self) -> Maintenance:
        """Integrity checks and housekeeping of this store: ``verify`` and ``gc``."""
        return Maintenance(self)


def _day(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _file_record(entry: FileEntry) -> DatasetFileRecord:
    return DatasetFileRecord(
        entry.path,
        entry.size_bytes,
        entry.row_count,
        entry.checksum,
        _day(entry.dt),
        _day(entry.dt_min),
        _day(entry.dt_max),
        entry.key_min,
        entry.key_max,
    )


def _file_entry(record: DatasetFileRecord) -> FileEntry:
    return FileEntry(
        record.path,
        record.size_bytes,
        record.row_count,
        record.checksum,
        _iso(record.dt),
        _iso(record.dt_min),
        _iso(record.dt_max),
        record.key_min,
        record.key_max,
    )


def current_of(versions: Sequence[DatasetVersionRecord]) -> DatasetVersionRecord:
    """The current one of a dataset's versions: the newest as_of, then the latest commit."""
    return max(versions, key=lambda v: v.currency_key)


def parse_as_of(text: str) -> date | None:
    """``YYYY-MM-DD`` as a date, or None when ``text`` is not a date."""
    if not _ISO_DAY.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


Progress = Callable[[str], None]


def fingerprint(versions: Iterable[DatasetVersionRecord]) -> str:
    """What a catalog over exactly these committed versions records that it reflects."""
    return versions_fingerprint((v.zone, v.dataset_name, v.version_tag, v.checksum) for v in versions)
