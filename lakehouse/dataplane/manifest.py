"""Run and dataset-version manifests: file lists with sizes, row counts and sha256 checksums.

A dataset-version manifest is a JSON file under ``<company>/manifests/<zone>/<dataset>/`` named after
its version tag. It lists every file of the version with its size, row count and ``sha256:<hex>``
checksum (the hex part is what ``sha256sum`` prints), and a version checksum: a sha256 digest over
the sorted ``path<TAB>checksum`` lines, which the ``dataset_versions`` row records as well.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse.errors import IntegrityError

MANIFEST_FORMAT = "lakehouse.dataset-version/1"
RUN_MANIFEST_FORMAT = "lakehouse.run/1"


#: The optional range fields of a file entry (manifests written before they existed lack them).
RANGE_FIELDS = ("dt_min", "dt_max", "key_min", "key_max")


@dataclass(frozen=True)
class FileEntry:
    """One file of a dataset version; ``path`` is relative to the data root (posix)."""

    path: str
    size_bytes: int
    row_count: int
    checksum: str
    dt: str | None = None
    #: The range of the file's bronze days: its ``_bronze_dt`` column (silver), else its ``dt=``
    #: folder (bronze); None where neither applies (gold). ISO dates.
    dt_min: str | None = None
    dt_max: str | None = None
    #: The range of the dataset's key column in the file (bronze: the schema's primary key; silver:
    #: the model's ``unique_key``), as text of the typed value; None without a key or statistics.
    key_min: str | None = None
    key_max: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "size_bytes": self.size_bytes,
            "row_count": self.row_count,
            "checksum": self.checksum,
        }
        if self.dt is not None:
            out["dt"] = self.dt
        for name in RANGE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], manifest: str) -> FileEntry:
        try:
            return cls(
                path=str(data["path"]),
                size_bytes=int(data["size_bytes"]),
                row_count=int(data["row_count"]),
                checksum=str(data["checksum"]),
                dt=data.get("dt"),
                **{name: None if data.get(name) is None else str(data[name]) for name in RANGE_FIELDS},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityError(f"manifest {manifest}: malformed file entry {dict(data)!r}: {exc}") from exc


def version_checksum(files: Iterable[FileEntry]) -> str:
    """Digest over the version's file list: path, checksum, size and row count of each (any order)."""
    lines = sorted(f"{f.path}\t{f.checksum}\t{f.size_bytes}\t{f.row_count}\n" for f in files)
    return "sha256:" + hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def dataset_manifest(
    *,
    company: str,
    zone: str,
    dataset: str,
    version_tag: str,
    run_id: str,
    schema_version: str,
    schema: Mapping[str, Any] | None,
    files: Sequence[FileEntry],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON document of a dataset-version manifest."""
    return {
        "format": MANIFEST_FORMAT,
        "company": company,
        "zone": zone,
        "dataset": dataset,
        "version_tag": version_tag,
        "run_id": run_id,
        "schema_version": schema_version,
        "schema": dict(schema) if schema is not None else None,
        "row_count": sum(f.row_count for f in files),
        "file_count": len(files),
        "files": [f.as_dict() for f in files],
        "checksum": version_checksum(files),
        **(dict(extra) if extra else {}),
    }


def manifest_files(document: Mapping[str, Any], manifest: str) -> list[FileEntry]:
    """The file entries of a manifest document, checked against its own checksum.

    Raises:
        IntegrityError: the manifest is malformed or its checksum does not match its file list.
    """
    if document.get("format") != MANIFEST_FORMAT:
        raise IntegrityError(f"manifest {manifest}: unknown format {document.get('format')!r}")
    files = [FileEntry.from_dict(f, manifest) for f in document.get("files", [])]
    if version_checksum(files) != document.get("checksum"):
        raise IntegrityError(f"manifest {manifest}: its file list does not match its checksum (edited?)")
    return files


def run_manifest(
    *,
    run_id: str,
    company: str,
    pipeline: str,
    inputs: Sequence[Mapping[str, Any]],
    outputs: Sequence[Mapping[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """The JSON document of a run manifest (kept in ``pipeline_runs`` and as ``manifests/runs/<run_id>.json``)."""
    return {
        "format": RUN_MANIFEST_FORMAT,
        "run_id": run_id,
        "company": company,
        "pipeline": pipeline,
        "inputs": list(inputs),
        "outputs": list(outputs),
        **extra,
    }


def manifest_relpath(zone: str, dataset: str, version_tag: str) -> Path:
    """Path of a version manifest below the company's ``manifests`` zone."""
    return Path(zone) / dataset / f"{version_tag}.json"
