"""Zone layout of the data root: names, paths and URIs.

Every path the data plane touches is built here, from validated names only::

    <root>/_control/                                   control-plane side files
    <root>/<company>/catalog.duckdb                    per-company DuckDB catalog
    <root>/<company>/<zone>/dataset=<name>/dt=YYYY-MM-DD/part-<run_id>-<index>.parquet
    <root>/<company>/bronze/_rejects/                  rows the bronze ingest refused
    <root>/<company>/manifests/                        run and dataset manifests

Company and dataset names are slugs (:func:`lakehouse.names.validate_slug`), checked before any path
is built, so a name can never climb out of its folder; the zone names come from :mod:`lakehouse.names`.
The same layout, as root-relative keys, addresses the objects (:attr:`DataRoot.objects`): files under
a local root, or objects in an S3-compatible bucket for an ``s3://bucket/prefix`` root
(:meth:`DataRoot.on_s3`), whose ``root`` folder is then the worker's local state (scratch, catalog).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Final
from urllib.parse import unquote, urlparse

from lakehouse.dataplane.objects import LocalObjectStore, ObjectStore, S3ObjectStore
from lakehouse.dataplane.s3 import S3Access, split_s3_uri
from lakehouse.errors import DataPlaneError
from lakehouse.names import DATA_ZONES as DATA_ZONES
from lakehouse.names import ZONES as ZONES
from lakehouse.names import Zone as Zone
from lakehouse.names import validate_slug

logger = logging.getLogger(__name__)

RUN_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_-]{1,128}")

CONTROL_DIR_NAME: Final = "_control"
REJECTS_DIR_NAME: Final = "_rejects"
CATALOG_FILE_NAME: Final = "catalog.duckdb"
PART_FILE_PREFIX: Final = "part-"
PART_FILE_SUFFIX: Final = ".parquet"


def validate_zone(zone: str) -> Zone:
    """Return ``zone`` typed as :data:`Zone`, or raise DataPlaneError naming the valid zones."""
    for known in ZONES:
        if zone == known:
            return known
    raise DataPlaneError(f"unknown zone {zone!r}: use one of {', '.join(ZONES)}")


def validate_run_id(run_id: str) -> str:
    """Check that ``run_id`` holds only ``A-Za-z0-9_-`` (1-128 characters) and return it."""
    if not isinstance(run_id, str) or RUN_ID_PATTERN.fullmatch(run_id) is None:
        raise DataPlaneError(f"invalid run id {run_id!r}: use 1-128 characters of A-Z, a-z, 0-9, '_' or '-'")
    return run_id


def part_file_name(run_id: str, index: int) -> str:
    """Name of the ``index``-th Parquet part file written by run ``run_id``.

    Args:
        run_id: sortable text id of the run, e.g. ``20261130T054512Z-1a2b3c4d``.
        index: 0-based index of the file within the run's output for one partition.

    Returns:
        ``part-<run_id>-<index:05d>.parquet``.

    Raises:
        DataPlaneError: the run id has characters outside ``A-Za-z0-9_-`` or the index is negative.
    """
    validate_run_id(run_id)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise DataPlaneError(f"invalid part file index {index!r}: use an integer >= 0")
    return f"{PART_FILE_PREFIX}{run_id}-{index:05d}{PART_FILE_SUFFIX}"


def partition_dir_name(dt: date) -> str:
    """Return ``dt=YYYY-MM-DD`` for a calendar date (a datetime is refused: it is ambiguous)."""
    if isinstance(dt, datetime) or not isinstance(dt, date):
        raise DataPlaneError(f"partition key must be a date, not {type(dt).__name__} {dt!r}")
    return f"dt={dt.isoformat()}"


def _path_from_uri(uri: str) -> Path:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise DataPlaneError(
                f"file URI {uri!r} names host {parsed.netloc!r}; only local file:// URIs are supported"
            )
        return Path(unquote(parsed.path))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):
        return Path(uri)
    raise DataPlaneError(
        f"data root {uri!r} uses the {parsed.scheme}:// scheme, which is not supported: "
        "use a local path, a file:// URI or s3://bucket/prefix"
    )


@dataclass(frozen=True)
class DataRoot:
    """The root folder of the data plane and the layout of everything under it.

    Attributes:
        root: absolute path of the data root (symlinks resolved).
    """

    root: Path
    #: Where the objects live when not under ``root`` (an ``s3://`` data root): ``root`` is then
    #: this worker's local folder for scratch files, the catalog and the dbt sandboxes.
    remote: ObjectStore | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(os.path.abspath(Path(self.root).expanduser())).resolve())

    @classmethod
    def from_uri(cls, uri: str | Path, state_dir: Path | None = None) -> DataRoot:
        """Build a data root from a local path, a ``file://`` URI or an ``s3://bucket/prefix`` URI.

        Args:
            uri: ``/srv/data``, ``./data``, ``file:///srv/data`` or ``s3://lake/prod``.
            state_dir: with an ``s3://`` URI, the worker's local folder (see :meth:`on_s3`).

        Returns:
            The data root.

        Raises:
            DataPlaneError: the URI is empty or uses another scheme.
            SettingsError: a malformed ``s3://`` URI, or the AWS variables are missing.
        """
        if isinstance(uri, Path):
            return cls(uri)
        if not uri.strip():
            raise DataPlaneError("data root URI is empty: set it to a local path or a file:// URI")
        if uri.strip().startswith("s3://"):
            return cls.on_s3(uri.strip(), state_dir)
        return cls(_path_from_uri(uri.strip()))

    @classmethod
    def on_s3(cls, uri: str, state_dir: Path | None = None, access: S3Access | None = None) -> DataRoot:
        """A data root in an S3-compatible bucket (access from the AWS variables unless given);
        ``state_dir`` (default ``~/.cache/lakehouse/<bucket>/<prefix>``) is this worker's local folder.

        Raises:
            SettingsError: a malformed URI or missing AWS variables.
        """
        bucket, prefix = split_s3_uri(uri)
        access = access or S3Access.from_env()
        local = state_dir or Path.home() / ".cache" / "lakehouse" / bucket / (prefix or "_root")
        store = S3ObjectStore(bucket, prefix, access, scratch=Path(local) / "_scratch")
        return cls(Path(local), remote=store)

    @property
    def is_remote(self) -> bool:
        """Whether the objects are on object storage (S3), not under :attr:`root`."""
        return self.remote is not None

    # --- URIs and relative paths ------------------------------------------------------------------

    def uri(self, path: Path | str | None = None) -> str:
        """Return the ``file://`` URI of the root, or of ``path`` (absolute or root-relative) under it.

        Raises:
            DataPlaneError: ``path`` lies outside the root.
        """
        if path is None:
            return self.root.as_uri()
        target = self.resolve(path) if isinstance(path, str) else self._inside(path)
        return target.as_uri()

    def relative(self, path: Path | str) -> str:
        """Return ``path`` as a posix path relative to the root (the form the control plane stores).

        Raises:
            DataPlaneError: ``path`` lies outside the root, or is the root itself.
        """
        target = self._inside(Path(path))
        rel = target.relative_to(self.root)
        if rel == Path("."):
            raise DataPlaneError(f"{path} is the data root itself, not a path under it")
        return rel.as_posix()

    def resolve(self, relative: str) -> Path:
        """Turn a root-relative posix path (as stored by the control plane) back into a local path.

        Raises:
            DataPlaneError: the path is empty, absolute, contains ``..`` or otherwise escapes the root
                (symlinks included).
        """
        if not isinstance(relative, str) or not relative.strip():
            raise DataPlaneError("empty relative path: expected a path under the data root")
        if "\\" in relative or "\x00" in relative:
            raise DataPlaneError(f"relative path {relative!r} contains a backslash or NUL character")
        pure = PurePosixPath(relative)
        if pure.is_absolute() or ".." in pure.parts:
            raise DataPlaneError(
                f"relative path {relative!r} escapes the data root {self.root}: "
                "use a path below the root without '..'"
            )
        return self._inside(self.root.joinpath(*pure.parts))

    def _inside(self, path: Path) -> Path:
        """Return ``path`` made absolute, after checking that it resolves to a place under the root.

        A relative ``path`` is taken from the working directory, like any other ``Path``.
        """
        absolute = Path(os.path.abspath(path.expanduser()))
        real = absolute.resolve()
        if not (real == self.root or real.is_relative_to(self.root)):
            raise DataPlaneError(f"path {path} is outside the data root {self.root}")
        if not (absolute == self.root or absolute.is_relative_to(self.root)):
            # Reached through a symlink to the root from elsewhere: hand back the canonical form.
            return real
        return absolute

    # --- layout ----------------------------------------------------------------------------------

    def control_dir(self) -> Path:
        """``<root>/_control``: side files of the control plane (e.g. the default SQLite database)."""
        return self.root / CONTROL_DIR_NAME

    def company_dir(self, company: str) -> Path:
        """``<root>/<company>``."""
        return self.root / validate_slug("company", company)

    def zone_dir(self, company: str, zone: Zone) -> Path:
        """``<root>/<company>/<zone>``."""
        return self.company_dir(company) / validate_zone(zone)

    def dataset_dir(self, company: str, zone: Zone, dataset: str) -> Path:
        """``<root>/<company>/<zone>/dataset=<name>``."""
        return self.zone_dir(company, zone) / f"dataset={validate_slug('dataset', dataset)}"

    def partition_dir(self, company: str, zone: Zone, dataset: str, dt: date) -> Path:
        """``<root>/<company>/<zone>/dataset=<name>/dt=YYYY-MM-DD``."""
        return self.dataset_dir(company, zone, dataset) / partition_dir_name(dt)

    def manifests_dir(self, company: str) -> Path:
        """``<root>/<company>/manifests``."""
        return self.zone_dir(company, "manifests")

    def rejects_dir(self, company: str) -> Path:
        """``<root>/<company>/bronze/_rejects``: where the ingest keeps refused rows."""
        return self.zone_dir(company, "bronze") / REJECTS_DIR_NAME

    # --- keys: the same layout as root-relative posix paths, for the object store ------------------

    @cached_property
    def objects(self) -> ObjectStore:
        """The objects under this root, by key (lakehouse.dataplane.objects)."""
        return self.remote if self.remote is not None else LocalObjectStore(self.root)

    def url(self, key: str) -> str:
        """What DuckDB and pyarrow open for the object ``key``: its absolute path, or an ``s3://`` URL."""
        return self.objects.url(key)

    def zone_location(self, company: str, zone: Zone) -> str:
        """Where a zone's objects are, for DuckDB's ``allowed_directories``: its folder, or its
        ``s3://`` prefix (ending with ``/``)."""
        if self.remote is None:
            return str(self.zone_dir(company, zone))
        return self.url(self.zone_prefix(company, zone).rstrip("/")) + "/"

    def zone_prefix(self, company: str, zone: Zone) -> str:
        """``<company>/<zone>/``: the key prefix of a zone (manifests included)."""
        return f"{validate_slug('company', company)}/{validate_zone(zone)}/"

    def dataset_prefix(self, company: str, zone: Zone, dataset: str | None = None) -> str:
        """``<company>/<zone>/dataset=<name>/``; without a name, ``<company>/<zone>/dataset=`` (every dataset)."""
        base = self.zone_prefix(company, zone) + "dataset="
        return base if dataset is None else f"{base}{validate_slug('dataset', dataset)}/"

    def rejects_prefix(self, company: str) -> str:
        """``<company>/bronze/_rejects/``."""
        return self.zone_prefix(company, "bronze") + f"{REJECTS_DIR_NAME}/"

    def catalog_path(self, company: str) -> Path:
        """``<root>/<company>/catalog.duckdb``."""
        return self.company_dir(company) / CATALOG_FILE_NAME
