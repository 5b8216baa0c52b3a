"""What a build depends on, as one digest; and whether the last build already made what this one would.

A build's result is determined by its bronze input (the bronze versions committed and the as-of that
filters their ``dt``), its ``--select``, the dbt project's files, the dbt vars (the company, the as-of
and the event rules of config/events/*.json), the extraction config and this package's version.
:func:`build_fingerprint` digests all of them; the build records it in its input manifest.

:func:`unchanged_since` finds the build whose versions a new build would only publish again: the newest
successful ``dbt_build`` of the company has the same fingerprint, and every version it published is
still current (nothing rebuilt or backfilled since), and so is the extraction that followed it. Then
the new build publishes nothing (``lakehouse build --full-refresh`` rebuilds anyway). This is the
first step of incremental builds (docs/incremental-builds.md): no new input, no work.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from lakehouse.dataplane.store import DatasetStore

#: Folders of a dbt project that are dbt's own output, not its source.
_NOT_SOURCE: Final = frozenset({"target", "logs", "dbt_packages", "dbt_modules"})
#: How many of the company's newest builds are searched for its last successful one.
_RECENT_BUILDS: Final = 50


def project_digest(project_dir: Path) -> str:
    """sha256 over the relative path and bytes of every source file of a dbt project."""
    digest = hashlib.sha256()
    for path in sorted(p for p in project_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(project_dir)
        if rel.parts[0] in _NOT_SOURCE or rel.name.startswith(".") or "__pycache__" in rel.parts:
            continue
        digest.update(rel.as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _package_version() -> str:
    try:
        return metadata.version("datahound-lakehouse")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "source"


def build_fingerprint(
    *,
    as_of: date,
    select: Sequence[str],
    bronze_versions: Iterable[Mapping[str, Any]],
    variables: Mapping[str, Any],
    extraction: Sequence[Mapping[str, Any]],
    project_dir: Path,
) -> str:
    """The digest of everything a build's result depends on (see the module docstring)."""
    document = {
        "as_of": as_of.isoformat(),
        "select": sorted(select),
        "bronze": sorted(json.dumps(v, sort_keys=True, default=str) for v in bronze_versions),
        "vars": variables,
        "extraction": list(extraction),
        "project": project_digest(project_dir),
        "package": _package_version(),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def project_fingerprint(
    *, variables: Mapping[str, Any], extraction: Sequence[Mapping[str, Any]], project_dir: Path
) -> str:
    """The digest of what a build's transform is, apart from its input: the dbt project's files, the
    dbt vars but the as-of, the extraction config and the package version. An incremental build
    continues only a build with the same one (docs/incremental-builds.md)."""
    document = {
        "vars": {k: v for k, v in variables.items() if k != "as_of"},
        "extraction": list(extraction),
        "project": project_digest(project_dir),
        "package": _package_version(),
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def unchanged_since(
    store: DatasetStore, company: str, fingerprint: str, as_of: date, extraction_outputs: Sequence[str]
) -> str | None:
    """The run id of the build whose current versions a build of ``fingerprint`` would only publish
    again, or None (see the module docstring)."""
    runs = store.dal.list_pipeline_runs(company, "dbt_build", limit=_RECENT_BUILDS)
    last = next((r for r in runs if r.status == "success"), None)
    if last is None or (last.input_manifest or {}).get("fingerprint") != fingerprint:
        return None
    # A build that published nothing for this reason points at the one that did.
    origin_id = str((last.input_manifest or {}).get("unchanged_since") or last.run_id)
    origin = last if origin_id == last.run_id else store.dal.get_pipeline_run(origin_id)
    outputs = (origin.output_manifest or {}).get("outputs") or []
    if not outputs:
        return None
    current = {
        key: versions[0] for key, versions in store.current_versions(company).items() if key[0] != "bronze"
    }
    for output in outputs:
        version = current.get((str(output["zone"]), str(output["dataset"])))
        if version is None or version.version_tag != origin_id:
            return None
    for dataset in extraction_outputs:
        profile = current.get(("gold", dataset))
        if profile is None or profile.as_of != as_of:
            return None
    return origin_id
