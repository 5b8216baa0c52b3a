"""Incremental builds: read only the new bronze files, re-publish only the chunks that changed.

The design is docs/incremental-builds.md. A build continues a **baseline**, the last successful full
build of the company, when :func:`find_baseline` finds one that fits (same dbt project and config,
its versions still current, an as-of on or before this one, every bronze file it read still current,
and every dbt table that reads bronze doing so through an ``incremental`` model). Then:

1. the run's ``bronze.<dataset>`` views list only the new files ``N`` (current minus what the baseline
   read, late feeds included);
2. each incremental (silver) model's table is seeded with its baseline version (:func:`seed_tables`),
   so dbt's ``incremental`` materialization merges the new versions into it (``latest_per_key``);
3. gold models are plain tables, recomputed from the merged silver;
4. :func:`write_chunks` exports a model as **chunks**: the rows of one month of ``_bronze_dt`` per
   file (the whole table, for a model without that column). A chunk whose content (row count and
   two order-independent row hashes) equals the baseline's is not written again: the new version
   lists the baseline's file (shared, immutable). A full build writes the same chunked layout, so
   the next build can continue from it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import duckdb

from lakehouse.dataplane import duck
from lakehouse.dataplane.manifest import FileEntry
from lakehouse.dataplane.sql import quote_identifier, quote_literal, reader_path
from lakehouse.dataplane.store import BRONZE_DAY, DatasetStore, StagedVersion
from lakehouse.db.records import DatasetVersionRecord, PipelineRunRecord
from lakehouse.errors import DataPlaneError

logger = logging.getLogger(__name__)

#: The column whose month is a silver chunk: the bronze day of each kept row.
CHUNK_COLUMN: Final = BRONZE_DAY
#: How many of the company's newest builds are searched for the last successful one.
_RECENT_BUILDS: Final = 50
#: dbt materializations that persist nothing of their own: they read what their parents read.
_PASS_THROUGH: Final = frozenset({"view", "ephemeral"})

#: A chunk's content: row count and two order-independent sums of the rows' hashes.
ChunkStats = tuple[int, int, int]


@dataclass
class PreviousOutput:
    """A model's version in the baseline; :func:`seed_tables` sorts its files by chunk (None: the
    whole table of a model without ``_bronze_dt``) and records each chunk's content."""

    version: DatasetVersionRecord
    entries: list[FileEntry]
    columns: list[str] = field(default_factory=list)
    #: (name, type) of each column of the baseline's files: a chunk is shared only with the same shape.
    shape: list[tuple[str, str]] = field(default_factory=list)
    files: dict[date | None, list[FileEntry]] = field(default_factory=dict)
    stats: dict[date | None, ChunkStats] = field(default_factory=dict)


@dataclass
class Baseline:
    """The build an incremental build continues, and what is new since."""

    run_id: str
    as_of: date
    #: model name -> its version in the baseline (every silver/gold model the baseline published).
    outputs: dict[str, PreviousOutput]
    #: ``incremental`` model name -> its relation (``schema.alias``), seeded with its baseline version.
    incremental: dict[str, tuple[str, str]]
    #: bronze dataset -> the current files the baseline did not read.
    new_files: dict[str, list[FileEntry]]

    def describe(self) -> dict[str, Any]:
        """This baseline as an entry of the build's input manifest."""
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "new_bronze_files": {
                name: [e.path for e in files] for name, files in sorted(self.new_files.items()) if files
            },
        }


def find_baseline(
    store: DatasetStore,
    company: str,
    project_fingerprint: str,
    as_of: date,
    current_bronze: Mapping[str, Sequence[FileEntry]],
) -> tuple[Baseline | None, str]:
    """The build an incremental build of ``company`` as of ``as_of`` continues, or None and why not.

    ``current_bronze`` holds, per bronze dataset, the files this build reads (``dt <= as_of``).
    """
    runs = store.dal.list_pipeline_runs(company, "dbt_build", limit=_RECENT_BUILDS)
    last = next((r for r in runs if r.status == "success"), None)
    if last is None:
        return None, "no earlier successful build"
    origin_id = str((last.input_manifest or {}).get("unchanged_since") or last.run_id)
    origin = last if origin_id == last.run_id else store.dal.get_pipeline_run(origin_id)
    inputs = origin.input_manifest or {}
    if inputs.get("select"):
        return None, f"the last build ({origin_id}) was a --select build"
    if inputs.get("project_fingerprint") != project_fingerprint:
        return None, "the dbt project, vars or config changed since the last build"
    previous_as_of = date.fromisoformat(str(inputs["as_of"]))
    if as_of < previous_as_of:
        return None, f"the as-of is before the last build's ({previous_as_of})"
    outputs = (origin.output_manifest or {}).get("outputs") or []
    current = {
        key: versions[0] for key, versions in store.current_versions(company).items() if key[0] != "bronze"
    }
    versions: dict[str, DatasetVersionRecord] = {}
    for output in outputs:
        version = current.get((str(output["zone"]), str(output["dataset"])))
        if version is None or version.version_tag != origin_id:
            return None, (
                f"{output['zone']}.{output['dataset']} of the last build ({origin_id}) is not current "
                "(a backfill, or a build since)"
            )
        versions[str(output["dataset"])] = version
    incremental, problem = _incremental_models(store, origin)
    if problem:
        return None, problem
    missing = sorted(set(incremental) - set(versions))
    if missing:
        return None, f"incremental model(s) {', '.join(missing)} have no version of the last build"
    read = _files_read(store, company, origin, previous_as_of)
    if read is None:
        return None, "a bronze version the last build read is gone"
    gone = sorted(set(read) - set(current_bronze))
    if gone:
        return None, f"bronze dataset(s) {', '.join(gone)} the last build read are no longer current"
    new_files: dict[str, list[FileEntry]] = {}
    for dataset, files in current_bronze.items():
        paths = {e.path for e in files}
        if not read.get(dataset, set()) <= paths:
            return None, f"bronze files of {dataset} the last build read are no longer current"
        new_files[dataset] = [e for e in files if e.path not in read.get(dataset, set())]
    by_version = store.entries_of(list(versions.values()))
    previous = {name: PreviousOutput(v, by_version[v.id]) for name, v in versions.items()}
    baseline = Baseline(origin_id, previous_as_of, previous, incremental, new_files)
    with duck.connect() as con:
        problem = sort_chunks(con, store, baseline)
    return (None, problem) if problem else (baseline, "")


def _incremental_models(
    store: DatasetStore, run: PipelineRunRecord
) -> tuple[dict[str, tuple[str, str]], str]:
    """The ``incremental`` models of the dbt project a build ran (from its kept manifest.json), and a
    problem if some other dbt table would read the new bronze files only (it would lose the rest)."""
    artifacts = (run.output_manifest or {}).get("dbt_artifacts") or []
    path = next((a for a in artifacts if str(a).endswith("manifest.json")), None)
    if path is None:
        return {}, f"the last build ({run.run_id}) kept no dbt manifest"
    try:
        nodes: dict[str, Any] = json.loads(store.root.objects.get_bytes(str(path))).get("nodes", {})
    except (DataPlaneError, ValueError) as exc:  # a missing or unreadable object, or not JSON
        return {}, f"cannot read the dbt manifest of the last build ({path}): {exc}"
    models = {uid: n for uid, n in nodes.items() if n.get("resource_type") == "model"}
    partial: dict[str, bool] = {}

    def reads_new_only(uid: str) -> bool:
        """Whether a relation holds only what the new bronze files give (a source, or a view over one)."""
        if uid.startswith("source."):
            return True
        node = models.get(uid)
        if node is None:  # a seed or snapshot: not rebuilt from bronze
            return False
        if uid not in partial:
            materialized = (node.get("config") or {}).get("materialized")
            parents = (node.get("depends_on") or {}).get("nodes") or []
            partial[uid] = materialized in _PASS_THROUGH and any(reads_new_only(p) for p in parents)
        return partial[uid]

    incremental: dict[str, tuple[str, str]] = {}
    for node in (models[uid] for uid in sorted(models)):
        materialized = (node.get("config") or {}).get("materialized")
        if materialized == "incremental":
            incremental[str(node["name"])] = (str(node["schema"]), str(node.get("alias") or node["name"]))
            continue
        if materialized in _PASS_THROUGH:
            continue
        parents = (node.get("depends_on") or {}).get("nodes") or []
        if any(reads_new_only(p) for p in parents):
            return {}, (
                f"model {node['name']} is a {materialized} over bronze (not through an incremental model)"
            )
    return incremental, ""


def _files_read(
    store: DatasetStore, company: str, run: PipelineRunRecord, as_of: date
) -> dict[str, set[str]] | None:
    """Bronze dataset -> paths of the files a build read (its input versions' files, dt <= its as-of)."""
    named = {
        (str(v["dataset"]), str(v["version"])) for v in (run.input_manifest or {}).get("bronze_versions", [])
    }
    versions = [
        v
        for v in store.dal.list_dataset_versions(company, zone="bronze")
        if (v.dataset_name, v.version_tag) in named
    ]
    if len(versions) != len(named):
        return None
    read: dict[str, set[str]] = {}
    day = as_of.isoformat()
    by_version = store.entries_of(versions)
    for v in versions:
        entries = by_version[v.id]
        read.setdefault(v.dataset_name, set()).update(
            e.path for e in entries if e.dt is not None and e.dt <= day
        )
    return read


# --- the per-run DuckDB file ----------------------------------------------------------------------


def _files_list(store: DatasetStore, entries: Sequence[FileEntry]) -> str:
    return "[" + ", ".join(quote_literal(reader_path(store.root.url(e.path))) for e in entries) + "]"


def _chunk_expr(columns: Sequence[str]) -> str | None:
    """The chunk of a row: the month of its ``_bronze_dt``; None for a model without that column."""
    if CHUNK_COLUMN not in columns:
        return None
    return f"cast(date_trunc('month', {quote_identifier(CHUNK_COLUMN)}) as date)"


def _shape(con: duckdb.DuckDBPyConnection, relation: str, columns: str = "*") -> list[tuple[str, str]]:
    """(name, type) of each column of ``SELECT columns FROM relation``."""
    return [
        (str(r[0]), str(r[1])) for r in con.execute(f"DESCRIBE SELECT {columns} FROM {relation}").fetchall()
    ]


def chunk_stats(
    con: duckdb.DuckDBPyConnection, relation: str, columns: Sequence[str]
) -> dict[date | None, ChunkStats]:
    """Chunk -> (rows, xor and sum of the rows' hashes) of a relation: equal stats, equal rows."""
    row_hash = f"hash({', '.join(quote_identifier(c) for c in columns)})"
    chunk = _chunk_expr(columns) or "cast(null as date)"
    rows = con.execute(
        f"SELECT chunk, count(*), bit_xor(h), sum(h::HUGEINT) FROM "
        f"(SELECT {chunk} AS chunk, {row_hash} AS h FROM {relation}) GROUP BY chunk"
    ).fetchall()
    return {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows}


def sort_chunks(con: duckdb.DuckDBPyConnection, store: DatasetStore, baseline: Baseline) -> str:
    """Sort each baseline version's files by chunk; a problem when a file holds rows of more than
    one chunk (a version written before chunks existed: the build is then a full one)."""
    for name, previous in baseline.outputs.items():
        if not previous.entries:
            continue
        listed = _files_list(store, previous.entries)
        previous.shape = _shape(con, f"read_parquet({listed}, hive_partitioning = false)")
        previous.columns = [name for name, _ in previous.shape]
        chunk = _chunk_expr(previous.columns)
        if chunk is None:
            previous.files[None] = list(previous.entries)
            continue
        by_path = {reader_path(store.root.url(e.path)): e for e in previous.entries}
        spans = con.execute(
            f"SELECT filename, min({chunk}), max({chunk}) FROM read_parquet({listed}, "
            "hive_partitioning = false, filename = true) GROUP BY filename"
        ).fetchall()
        for filename, low, high in spans:
            if low != high:
                return f"{name}: {filename} holds rows of more than one month (written before chunks)"
            previous.files.setdefault(low, []).append(by_path[str(filename)])
    return ""


def seed_tables(con: duckdb.DuckDBPyConnection, store: DatasetStore, baseline: Baseline) -> None:
    """Give every incremental model its baseline version as a table in the run's DuckDB file, and
    record the content of each baseline chunk (from that table, or from the files of a gold model)."""
    for name, previous in baseline.outputs.items():
        if not previous.entries:
            continue
        source = f"read_parquet({_files_list(store, previous.entries)}, hive_partitioning = false)"
        if name in baseline.incremental:
            schema, alias = baseline.incremental[name]
            table = f"{quote_identifier(schema)}.{quote_identifier(alias)}"
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema)}")
            con.execute(f"CREATE TABLE {table} AS SELECT * FROM {source}")
            source = table
        previous.stats.update(chunk_stats(con, source, previous.columns))


def write_chunks(
    store: DatasetStore,
    con: duckdb.DuckDBPyConnection,
    version: StagedVersion,
    relation: str,
    columns: Sequence[str],
    as_of: date,
    previous: PreviousOutput | None,
) -> int:
    """Export ``relation`` into ``version`` chunk by chunk, sharing the baseline's unchanged chunks.

    Returns how many chunks were shared.
    """
    listed = ", ".join(quote_identifier(c) for c in columns)
    chunk = _chunk_expr(columns)
    stats = chunk_stats(con, relation, columns)
    if not stats:  # an empty model: one empty file keeps its schema
        store.write_file(con, version, f"SELECT {listed} FROM {relation}", as_of)
        return 0
    if previous is not None and previous.shape != _shape(con, relation, listed):
        previous = None  # the model's columns or types changed: every chunk is written anew
    shared = 0
    for key in sorted(stats, key=lambda k: (k is None, k)):
        if previous is not None and previous.stats.get(key) == stats[key] and previous.files.get(key):
            version.files.extend(previous.files[key])
            shared += 1
            continue
        # (a model may hold rows whose _bronze_dt is null: their chunk is the null one)
        where = "" if chunk is None else f" WHERE {chunk} IS NOT DISTINCT FROM ?"
        # A stable row order: a rebuild of the same data writes the same rows in the same order.
        query = f"SELECT {listed} FROM {relation}{where} ORDER BY ALL"
        store.write_file(con, version, query, as_of, params=None if chunk is None else [key])
    return shared


def new_bronze_views(store: DatasetStore, baseline: Baseline) -> dict[str, list[str]]:
    """Bronze dataset -> the new files, for the run's ``bronze`` views."""
    return {
        name: [store.root.url(e.path) for e in files] for name, files in baseline.new_files.items() if files
    }
