"""Bronze ingest: extract files -> validated, append-only bronze dataset versions.

Each call is one ``pipeline_run`` (pipeline ``ingest``) that publishes one dataset version per dataset
it touched, through :class:`lakehouse.datasets.DatasetStore`. A source file whose sha256 was already
ingested for the same dataset is skipped (its idempotency key was claimed when it was published).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, Literal

import duckdb

from lakehouse.datasets import DatasetStore, StagedVersion, version_summary
from lakehouse.db.types import utcnow
from lakehouse.errors import (
    AlreadyExistsError,
    DataPlaneError,
    RowValidationError,
    SchemaMismatchError,
)
from lakehouse.io.atomic import sha256_file
from lakehouse.io.json_io import write_jsonl
from lakehouse.io.validate import (
    SchemaDiff,
    SourceFormat,
    detect_format,
    infer_schema,
    read_source,
    schema_diff,
)
from lakehouse.io.zones import validate_slug
from lakehouse.manifest import run_manifest
from lakehouse.schemas import (
    Column,
    DatasetSchema,
    declared_schema,
    schema_from_json,
    schema_to_json,
    with_added_columns,
)

logger = logging.getLogger(__name__)

OnError = Literal["abort", "quarantine"]
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SUFFIXES = {".csv", ".jsonl", ".ndjson", ".parquet"}


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest, with the dataset and partition date it goes to."""

    path: Path
    dataset: str
    dt: date
    fmt: SourceFormat
    sha256: str = ""
    size_bytes: int = 0


@dataclass
class IngestResult:
    run_id: str | None
    company: str
    ingested: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    rejected_rows: int = 0
    rejects_files: list[str] = field(default_factory=list)
    versions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(int(i["rows"]) for i in self.ingested)


def _parse_day(name: str) -> date | None:
    if not _DAY.match(name):
        return None
    try:
        return date.fromisoformat(name)
    except ValueError:
        return None


def _is_data_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in _SUFFIXES and not path.name.startswith((".", "_"))


def discover_sources(
    paths: Sequence[Path], dataset: str | None = None, dt: date | None = None
) -> list[SourceFile]:
    """Expand PATHs into source files: files, one day folder (``YYYY-MM-DD/``) or an extract root.

    The dataset comes from ``dataset`` or the file name; the date from ``dt`` or the day folder name.

    Raises:
        DataPlaneError: a path does not exist, holds nothing to ingest, or a file's date is unknown.
    """
    found: list[SourceFile] = []
    for raw in paths:
        path = Path(raw).absolute()
        if not path.exists():
            raise DataPlaneError(f"{path}: no such file or folder")
        if path.is_file():
            files = [(path, _parse_day(path.parent.name))]
        else:
            day = _parse_day(path.name)
            if day is not None:
                files = [(p, day) for p in sorted(path.iterdir()) if _is_data_file(p)]
            else:
                days = sorted(p for p in path.iterdir() if p.is_dir() and _parse_day(p.name) is not None)
                files = [
                    (p, _parse_day(d.name)) for d in days for p in sorted(d.iterdir()) if _is_data_file(p)
                ]
            if not files:
                raise DataPlaneError(
                    f"{path}: no .csv/.jsonl/.parquet files found (expected files, a YYYY-MM-DD folder, "
                    "or a folder of YYYY-MM-DD folders)"
                )
        for file, folder_day in files:
            day = dt or folder_day
            if day is None:
                raise DataPlaneError(
                    f"{file}: cannot tell its date from the folder name: pass --dt YYYY-MM-DD"
                )
            name = dataset if dataset is not None else file.name.split(".")[0]
            validate_slug("dataset", name)
            found.append(SourceFile(file, name, day, detect_format(file)))
    return found


class BronzeIngest:
    """Runs ingests into the bronze zone of one company."""

    def __init__(self, store: DatasetStore) -> None:
        self.store = store
        self.dal = store.dal

    def run(
        self,
        company: str,
        paths: Sequence[Path],
        dataset: str | None = None,
        dt: date | None = None,
        on_error: OnError = "abort",
        allow_schema_evolution: bool = False,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> IngestResult:
        """Ingest ``paths`` into bronze as one pipeline run.

        Raises:
            RowValidationError: a row does not fit the schema and ``on_error`` is abort (nothing published).
            SchemaMismatchError: columns differ from the declared or recorded schema.
        """
        validate_slug("company", company)
        sources = [_with_digest(s) for s in discover_sources(paths, dataset, dt)]
        result = IngestResult(run_id=None, company=company)
        todo: list[SourceFile] = []
        seen: dict[tuple[str, str], Path] = {}
        for s in sources:
            holder = self.dal.idempotency_claim_of(_scope(company, s.dataset), s.sha256)
            twin = seen.get((s.dataset, s.sha256))
            if holder is not None:
                result.skipped.append(_describe(s) | {"reason": f"already ingested by run {holder}"})
            elif twin is not None:
                result.skipped.append(_describe(s) | {"reason": f"same content as {twin} in this ingest"})
            else:
                seen[(s.dataset, s.sha256)] = s.path
                todo.append(s)
        if not todo:
            return result

        inputs = [_describe(s) for s in todo]
        run_id = self.dal.start_pipeline_run(
            company, "ingest", stage="bronze", input_manifest={"sources": inputs}
        )
        result.run_id = run_id
        staged: dict[str, StagedVersion] = {}
        try:
            with duckdb.connect() as con:
                for n, source in enumerate(todo, start=1):
                    if progress is not None:
                        progress(f"{source.dataset} {source.dt} ({source.path.name})", n - 1, len(todo))
                    version = staged.get(source.dataset)
                    if version is None:
                        version = self._stage_version(con, company, source, run_id, allow_schema_evolution)
                        staged[source.dataset] = version
                    elif declared_schema(source.dataset) is None:
                        # Every file of an undeclared dataset is checked against the schema, not just
                        # the first one of the run (a later file may evolve it: added nullable columns).
                        schema = self._schema_for(con, company, source, allow_schema_evolution, version)
                        version.schema, version.schema_version = schema_to_json(schema), schema.version
                    self._ingest_file(con, company, source, version, on_error, result)
                if progress is not None:
                    progress("publishing", len(todo), len(todo))
            claims = [(_scope(company, s.dataset), s.sha256) for s in todo]
            records = self.store.publish(list(staged.values()), claims)
        except AlreadyExistsError as exc:
            # Another ingest published the same source file(s) while this one ran: nothing new.
            self.dal.fail_pipeline_run(run_id, exc)
            self._cleanup(company, run_id, staged, result)
            result.skipped.extend(
                _describe(s) | {"reason": "same content ingested by a concurrent run"} for s in todo
            )
            result.ingested, result.rejected_rows, result.rejects_files = [], 0, []
            result.run_id = None
            return result
        except BaseException as exc:
            self.dal.fail_pipeline_run(
                run_id, exc
            )  # first: the run must not stay "running", whatever cleanup does
            self._cleanup(company, run_id, staged, result)
            raise
        result.versions = version_summary(records)
        outputs = [v.as_output() for v in staged.values()]
        manifest = run_manifest(
            run_id=run_id,
            company=company,
            pipeline="ingest",
            inputs=inputs,
            outputs=outputs,
            rejected_rows=result.rejected_rows,
            rejects_files=result.rejects_files,
        )
        self.store.write_run_manifest(company, manifest)
        self.dal.finish_pipeline_run(run_id, "success", manifests=manifest)
        return result

    def _committed(self, company: str, run_id: str) -> bool:
        """Whether a version of run ``run_id`` was committed (True when that cannot be told)."""
        try:
            versions = self.dal.list_dataset_versions(company, zone="bronze")
        except Exception:  # the files stay; gc removes them if they turn out to be orphans
            logger.warning("cannot tell whether run %s committed: keeping its files", run_id, exc_info=True)
            return True
        return any(v.produced_by_run_id == run_id for v in versions)

    def _cleanup(
        self, company: str, run_id: str, staged: dict[str, StagedVersion], result: IngestResult
    ) -> None:
        """Remove an uncommitted run's files; once committed they belong to visible versions."""
        try:
            if self._committed(company, run_id):
                return
            self.store.discard(staged.values())
            for rel in result.rejects_files:
                self.store.root.resolve(rel).unlink(missing_ok=True)
        except Exception:  # never hide the error that failed the run; gc removes leftovers
            logger.warning("could not clean up after run %s: `lakehouse gc` will", run_id, exc_info=True)

    def _stage_version(
        self,
        con: duckdb.DuckDBPyConnection,
        company: str,
        source: SourceFile,
        run_id: str,
        allow_evolution: bool,
    ) -> StagedVersion:
        schema = self._schema_for(con, company, source, allow_evolution)
        return StagedVersion(
            company=company,
            zone="bronze",
            dataset=source.dataset,
            run_id=run_id,
            schema_version=schema.version,
            schema=schema_to_json(schema),
        )

    def _schema_for(
        self,
        con: duckdb.DuckDBPyConnection,
        company: str,
        source: SourceFile,
        allow_evolution: bool,
        staged: StagedVersion | None = None,
    ) -> DatasetSchema:
        """The schema ``source`` is ingested with: declared, else the one of ``staged`` (the version
        this run is writing) or of the newest version, evolved if allowed, else inferred from it."""
        declared = declared_schema(source.dataset)
        if declared is not None:
            return declared
        if staged is not None and staged.schema is not None:
            known: dict[str, Any] | None = staged.schema
        else:
            versions = self.dal.list_dataset_versions(company, source.dataset, "bronze")
            known = versions[-1].schema if versions else None
        inferred = infer_schema(con, source.path, source.fmt, source.dataset)
        if known is None:
            logger.info(
                "dataset %s is not declared: inferred schema version 1 from %s", source.dataset, source.path
            )
            return inferred
        recorded = schema_from_json(known)
        diff = self._type_changes_that_matter(con, source, recorded, schema_diff(recorded, inferred))
        if diff.is_empty:
            return recorded
        if allow_evolution and diff.is_additive_nullable:
            return with_added_columns(recorded, diff.added)
        hint = (
            " (only adding nullable columns can evolve a schema)"
            if allow_evolution
            else "; pass --allow-schema-evolution to accept added nullable columns"
        )
        raise SchemaMismatchError(
            f"{source.path}: columns differ from dataset {source.dataset!r} schema version {recorded.version}: {diff}{hint}"
        )

    @staticmethod
    def _type_changes_that_matter(
        con: duckdb.DuckDBPyConnection, source: SourceFile, recorded: DatasetSchema, diff: SchemaDiff
    ) -> SchemaDiff:
        """Drop the type changes the sniffer imagined: a column whose values all fit the recorded type
        (e.g. only empty values, or ``t``/``f`` in a VARCHAR column) has not changed type."""
        if not diff.type_changed:
            return diff
        changed = {t.name for t in diff.type_changed}
        probe = DatasetSchema(
            name=recorded.name,
            version=recorded.version,
            columns=tuple(Column(c.name, c.type, True) for c in recorded.columns if c.name in changed),
        )
        read = read_source(con, source.path, probe, source.fmt, allow_extra_columns=True)
        read.drop(con)
        misfits = {r.column for r in read.rejects}
        return replace(diff, type_changed=tuple(t for t in diff.type_changed if t.name in misfits))

    def _ingest_file(
        self,
        con: duckdb.DuckDBPyConnection,
        company: str,
        source: SourceFile,
        version: StagedVersion,
        on_error: OnError,
        result: IngestResult,
    ) -> None:
        schema = schema_from_json(version.schema or {})
        read = read_source(con, source.path, schema, source.fmt)
        try:
            if read.rejects:
                if on_error == "abort":
                    first = read.rejects[0]
                    more = len(read.rejects) - 1
                    raise RowValidationError(
                        str(source.path),
                        first.line,
                        first.column,
                        f"{first.reason} (value {first.value!r})"
                        + (
                            f"; {more} more problem(s), nothing was ingested"
                            if more
                            else "; nothing was ingested"
                        )
                        + " — fix the file or use --on-error quarantine",
                    )
                result.rejected_rows += read.rejected_rows
                result.rejects_files.append(self._quarantine(company, source, version.run_id, read.rejects))
            cols = ", ".join(f'"{c}"' for c in schema.column_names)
            query = (
                f"SELECT {cols}, ?::VARCHAR AS _ingest_run_id, ?::TIMESTAMPTZ AS _ingested_at, "
                f"?::VARCHAR AS _source_file, _source_line FROM ({read.relation_sql}) ORDER BY _source_line"
            )
            entry = self.store.write_file(
                con, version, query, source.dt, params=[version.run_id, utcnow(), str(source.path)]
            )
        finally:
            read.drop(con)
        result.ingested.append(_describe(source) | {"rows": entry.row_count, "rejected": read.rejected_rows})

    def _quarantine(self, company: str, source: SourceFile, run_id: str, rejects: Sequence[Any]) -> str:
        folder = (
            self.store.root.rejects_dir(company) / f"dataset={source.dataset}" / f"dt={source.dt.isoformat()}"
        )
        path = folder / f"rejects-{run_id}-{source.sha256[7:19]}.jsonl"
        raw = _raw_lines(source, {r.line for r in rejects})
        rows = [
            r.as_dict() | {"source_file": str(source.path), "raw": raw.get(r.line), "header": raw.get(1)}
            for r in rejects
        ]
        write_jsonl(path, rows)
        return self.store.root.relative(path)


def _raw_lines(source: SourceFile, lines: set[int]) -> dict[int, str]:
    """The text of the given physical lines of a CSV/JSONL source (and a CSV's header, line 1).

    Kept with each reject so a quarantined row can be repaired and re-ingested from the lake
    alone. A record that spans several lines (a quoted newline) keeps only its first line.
    """
    if source.fmt == "parquet":
        return {}
    wanted = lines | ({1} if source.fmt == "csv" else set())
    found: dict[int, str] = {}
    with source.path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        for number, text in enumerate(fh, start=1):
            if number in wanted:
                found[number] = text.rstrip("\r\n")
                if len(found) == len(wanted):
                    break
    return found


def _scope(company: str, dataset: str) -> str:
    return f"ingest:{company}:{dataset}"


def _with_digest(source: SourceFile) -> SourceFile:
    return SourceFile(
        source.path,
        source.dataset,
        source.dt,
        source.fmt,
        sha256_file(source.path),
        source.path.stat().st_size,
    )


def _describe(source: SourceFile) -> dict[str, Any]:
    return {
        "path": str(source.path),
        "dataset": source.dataset,
        "dt": source.dt.isoformat(),
        "format": source.fmt,
        "size_bytes": source.size_bytes,
        "sha256": source.sha256,
    }


__all__ = ["AlreadyExistsError", "BronzeIngest", "IngestResult", "SourceFile", "discover_sources"]
