"""Integrity and housekeeping of a store: ``verify`` and ``gc`` (kept apart from stage/publish/read).

Reached as ``store.maintenance`` (:attr:`lakehouse.dataplane.store.DatasetStore.maintenance`), the
way pyiceberg keeps ``table.maintenance`` apart from its ``Table``. ``verify`` recomputes checksums
against the committed manifests; ``gc`` removes temporary leftovers, orphans of runs that did not
commit and silver/gold versions past retention, never a file a run in flight may still publish.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lakehouse.dataplane.atomic import TEMP_PREFIX
from lakehouse.dataplane.manifest import FileEntry
from lakehouse.dataplane.zones import DATA_ZONES, Zone
from lakehouse.db.records import DatasetVersionRecord, PipelineRunRecord
from lakehouse.errors import DataPlaneError, IntegrityError, NotFoundError
from lakehouse.names import validate_slug

if TYPE_CHECKING:
    from lakehouse.dataplane.store import DatasetStore

#: gc's default grace period before an expired version's files are deleted (retention.min_age_minutes).
DEFAULT_MIN_AGE = timedelta(hours=1)
#: Per-run scratch folders of builds, below the company folder.
WORK_DIR = "_work"
_REJECTS_NAME = re.compile(r"rejects-(.+)-[0-9a-f]{12}\.jsonl")
_TEMP_NAME = re.compile(re.escape(TEMP_PREFIX) + r"[0-9a-f]{32}-(.+)")


@dataclass(frozen=True)
class VerifyProblem:
    kind: str  # missing | altered | extra | manifest
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.path} ({self.detail})"


@dataclass(frozen=True)
class VerifyReport:
    versions_checked: int
    files_checked: int
    problems: list[VerifyProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class GcReport:
    removed_files: list[str]
    expired_versions: list[str]
    dry_run: bool
    abandoned_runs: list[str] = field(default_factory=list)


class Maintenance:
    """``verify`` and ``gc`` over one store.

    Args:
        store: the store whose data root and control plane are checked and cleaned.
    """

    def __init__(self, store: DatasetStore) -> None:
        self.store = store

    def verify(self, company: str, dataset: str | None = None) -> VerifyReport:
        """Recompute the checksums of every visible file and look for missing, altered or extra files."""
        validate_slug("company", company)
        if dataset is not None:
            validate_slug("dataset", dataset)
        problems: list[VerifyProblem] = []
        known: set[str] = set()
        unreadable_runs: set[str] = set()  # their files are reported with the manifest, not as extra
        versions = [
            v for v in self.store.dal.list_dataset_versions(company) if dataset in (None, v.dataset_name)
        ]
        files_checked = 0
        objects = self.store.root.objects
        for v in versions:
            try:
                entries = self.store.version_entries(v)
                manifest = self.store.manifest_entries(v)
            except (IntegrityError, DataPlaneError, OSError) as exc:
                problems.append(VerifyProblem("manifest", v.manifest_path, str(exc)))
                unreadable_runs.add(v.produced_by_run_id)
                continue
            if manifest != entries:  # the audit copy and the control plane's file index disagree
                problems.append(
                    VerifyProblem(
                        "manifest",
                        v.manifest_path,
                        f"lists other files than the file index (dataset_files) of version {v.version_tag}: "
                        f"{_index_difference(manifest, entries)}",
                    )
                )
            for e in entries:
                known.add(e.path)
                files_checked += 1
                if objects.head(e.path) is None:
                    problems.append(VerifyProblem("missing", e.path, f"listed by version {v.version_tag}"))
                    continue
                actual = objects.sha256(e.path)  # streamed
                if actual != e.checksum:
                    problems.append(
                        VerifyProblem(
                            "altered", e.path, f"sha256 {actual[7:19]}... != recorded {e.checksum[7:19]}..."
                        )
                    )
        for zone in DATA_ZONES:
            for key in self._data_files(company, zone, dataset):
                if key in known or _run_id_of(_name(key)) in unreadable_runs:
                    continue
                if not self._in_flight(key):
                    problems.append(VerifyProblem("extra", key, "not listed by any committed version"))
        return VerifyReport(len(versions), files_checked, problems)

    def gc(
        self,
        company: str,
        keep: int = 5,
        dry_run: bool = False,
        min_age: timedelta = DEFAULT_MIN_AGE,
    ) -> GcReport:
        """Remove temporary leftovers, orphaned files and silver/gold versions older than the newest ``keep``.

        Versions are ranked as currency is (newest as_of, then latest commit): the current version is
        never removed, and bronze versions are never expired (bronze is append-only). A version is
        expired only once every version ranked above it was committed at least ``min_age`` ago, so an
        analyst session that opened the catalog before still finds its files (Delta's vacuum
        retention). Files (temporary ones too) of a run in flight are kept; those of a finished,
        unknown or dead run are orphans.
        """
        if keep < 1:
            raise DataPlaneError("--keep must be at least 1: the current version is never removed")
        validate_slug("company", company)
        expire: list[DatasetVersionRecord] = []
        by_dataset: dict[tuple[str, str], list[DatasetVersionRecord]] = {}
        for v in self.store.dal.list_dataset_versions(company):
            by_dataset.setdefault((v.zone, v.dataset_name), []).append(v)
        settled = datetime.now(UTC) - min_age
        for (zone, _name), versions in by_dataset.items():
            if zone == "bronze" or len(versions) <= keep:
                continue
            ranked = sorted(versions, key=lambda v: v.currency_key, reverse=True)
            for n, v in enumerate(ranked[keep:], start=keep):
                if all(newer.created_at <= settled for newer in ranked[:n]):
                    expire.append(v)
        keep_paths: set[str] = set()
        expired_paths: list[str] = []
        expire_ids = {v.id for v in expire}
        by_version = self.store.entries_of([v for versions in by_dataset.values() for v in versions])
        for versions in by_dataset.values():
            for v in versions:
                entries = [e.path for e in by_version[v.id]]
                if v.id in expire_ids:
                    expired_paths.extend(entries + [v.manifest_path])
                else:
                    keep_paths.update(entries)
                    keep_paths.add(v.manifest_path)
        removed: list[str] = []
        if expire and not dry_run:
            self.store.dal.expire_dataset_versions([v.id for v in expire])
        removed.extend(p for p in expired_paths if p not in keep_paths)
        for key in self._all_files(company):
            if key in keep_paths or key in removed:
                continue
            if not self._in_flight(key):
                removed.append(key)
        # A run may have committed and finished between the listing above and the file scan: its
        # files then look orphaned. Re-read what is committed now and never remove any of it.
        committed_now = self._referenced_paths(company, exclude=expire_ids)
        removed = [rel for rel in removed if rel not in committed_now]
        removed.extend(self._orphaned_rejects(company))
        objects = list(removed)  # under the data root; what follows is this worker's scratch
        work = self.store.root.company_dir(company) / WORK_DIR
        # Run folders only: not the link to the running build's folder (transform/dbt_runner.py).
        stale_work = (
            [d for d in sorted(work.iterdir()) if d.is_dir() and not d.is_symlink()] if work.exists() else []
        )
        stale_work = [d for d in stale_work if not self._run_in_flight(d.name)]
        removed.extend(self.store.root.relative(d) + "/" for d in stale_work)
        # ...but a link a killed build left behind, once its run folder is gone or going.
        links = [p for p in work.iterdir() if p.is_symlink()] if work.exists() else []
        going = {d.resolve() for d in stale_work}
        dangling = [p for p in links if not p.exists() or p.resolve() in going]
        removed.extend(sorted(self.store.root.relative(p) for p in dangling))
        # ...and on S3, the upload folders of writers that died (this worker's scratch, any company).
        stale_uploads = self.store.root.objects.stale_uploads()
        removed.extend(self.store.root.relative(d) + "/" for d in stale_uploads)
        abandoned = self._abandoned_runs(company)
        if not dry_run:
            self.store.root.objects.delete(objects)
            for link in dangling:
                link.unlink(missing_ok=True)
            for d in [*stale_work, *stale_uploads]:
                shutil.rmtree(d, ignore_errors=True)
            abandoned = [r for r in abandoned if self.store.dal.mark_dead(r, "gc")]
            if expire:
                self.store.refresh_catalog(company)
        return GcReport(
            sorted(removed),
            [f"{v.zone}.{v.dataset_name}@{v.version_tag}" for v in expire],
            dry_run,
            [r.run_id for r in abandoned],
        )

    def _orphaned_rejects(self, company: str) -> list[str]:
        """Quarantine files of ingests that did not succeed (a killed run leaves its rejects behind)."""
        base = self.store.root.rejects_prefix(company)
        orphans = []
        for key in (i.key for i in self.store.root.objects.list(base)):
            parts = key[len(base) :].split("/")  # dataset=<name>/dt=<day>/<file>
            if len(parts) != 3 or not parts[0].startswith("dataset=") or not parts[1].startswith("dt="):
                continue
            match = _REJECTS_NAME.fullmatch(parts[2])
            if match is None:
                continue
            run_id = match.group(1)
            try:
                status = self.store.dal.get_pipeline_run(run_id).status
            except NotFoundError:
                status = "unknown"
            if status != "success" and not self._run_in_flight(run_id):
                orphans.append(key)
        return orphans

    def _referenced_paths(self, company: str, exclude: set[Any]) -> set[str]:
        """Files and manifests of every committed version (but those in ``exclude``)."""
        paths: set[str] = set()
        versions = [v for v in self.store.dal.list_dataset_versions(company) if v.id not in exclude]
        by_version = self.store.entries_of(versions)
        for v in versions:
            paths.add(v.manifest_path)
            paths.update(e.path for e in by_version[v.id])
        return paths

    def _abandoned_runs(self, company: str) -> list[PipelineRunRecord]:
        """Runs still marked running whose process died (see :meth:`DataAccessLayer.dead_runs`)."""
        return self.store.dal.dead_runs(company)

    def _data_files(self, company: str, zone: Zone, dataset: str | None) -> list[str]:
        """Keys of every object below the zone's ``dataset=`` folders (of one dataset, if named)."""
        prefix = self.store.root.dataset_prefix(company, zone, dataset)
        keys = [i.key for i in self.store.root.objects.list(prefix)]
        # every dataset: only what is inside a dataset= folder, as the glob dataset=*/**/* had it
        return keys if dataset is not None else [k for k in keys if "/" in k[len(prefix) :]]

    def _all_files(self, company: str) -> list[str]:
        files: list[str] = []
        for zone in DATA_ZONES:
            files.extend(self._data_files(company, zone, None))
        for zone in DATA_ZONES:  # version manifests only; run artifacts (manifests/dbt/...) are kept
            prefix = f"{self.store.root.zone_prefix(company, 'manifests')}{zone}/"
            files.extend(
                i.key for i in self.store.root.objects.list(prefix) if i.key[len(prefix) :].count("/") == 1
            )
        return files

    def _in_flight(self, key: str) -> bool:
        """Whether ``key`` may still be published by a run in progress (running, its process alive)."""
        run_id = _run_id_of(_name(key))
        if run_id is None:
            return False
        return self._run_in_flight(run_id)

    def _run_in_flight(self, run_id: str) -> bool:
        try:
            run = self.store.dal.get_pipeline_run(run_id)
        except NotFoundError:  # unknown run: an orphan (any other error propagates: never guess)
            return False
        # A run whose process died is no longer in flight, even before it is marked failed.
        return run.status == "running" and self.store.dal.run_alive(run)


def _index_difference(manifest: list[FileEntry], indexed: list[FileEntry]) -> str:
    """What differs between a version's manifest and its indexed files, in a few words."""
    only_manifest = sorted({e.path for e in manifest} - {e.path for e in indexed})
    only_index = sorted({e.path for e in indexed} - {e.path for e in manifest})
    if only_manifest or only_index:
        return f"only in the manifest {only_manifest[:3]}, only in the index {only_index[:3]}"
    return "the same files with other sizes, row counts, checksums or order"


def _name(key: str) -> str:
    """The last part of a key (the file name)."""
    return key.rpartition("/")[2]


def _run_id_of(name: str) -> str | None:
    """The run id in ``part-<run_id>-NNNNN.parquet`` or ``<run_id>.json`` (or in the temporary name
    ``.tmp-<uuid>-...`` of one being written), if the name has one."""
    temp = _TEMP_NAME.fullmatch(name)
    if temp is not None:
        name = temp.group(1)
    stem = name.removesuffix(".parquet").removesuffix(".json")
    if stem.startswith("part-"):
        stem = stem[len("part-") :].rsplit("-", 1)[0]
    return stem or None
