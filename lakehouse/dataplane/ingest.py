"""Bronze ingest: extract files -> validated, append-only bronze dataset versions.

Each call is one ``pipeline_run`` (pipeline ``ingest``) that publishes one dataset version per dataset
it touched, through :class:`lakehouse.dataplane.store.DatasetStore`. The rules that keep it honest:

* Idempotent per file and day. A source file whose bytes (sha256) were already ingested for the
  same dataset and day (``dt``) is skipped; the same bytes on another day (a header-only file of a
  quiet day) are that day's delivery and are ingested. Its idempotency key (``<dt>/sha256:<hex>``) is
  claimed in the commit transaction, one claim per file: when another ingest committed the same file
  meanwhile, only that file is left out of this run ("ingested concurrently by run ...") and the
  rest commits.
* What is recorded is what was read. Each file's sha256 and identity (device, inode, size, mtime) are
  taken when it is found and checked again just before the commit; a file that changed in between
  is refused, and nothing is published.
* Names. An undeclared dataset may not have a column named like a partition key (``dt``, ``dataset``)
  or like a lineage column the ingest adds (``_source_file``, ...), in any case: the file is refused.
* Symbolic links that lead out of the folder they were found in are refused unless
  ``follow_symlinks``; a file read through a link is recorded by its resolved path (and the link's).
* Day folders are named ``YYYY-MM-DD``; one named like that which is no calendar date is an error.
* A JSON Lines file with no record (empty, or blank lines only) is zero rows; a CSV file needs its
  header line.
* How files are read is the run's choice (:class:`ReadOptions`: a CSV field separator, a character
  set, matching header names exactly or ignoring case); gzip compression is told by a ``.gz`` suffix
  (``jobs.csv.gz``), and a truncated or damaged gzip file is refused. Each file's entry in the run's
  input manifest records how it was read. A compressed file is claimed by the sha256 of its
  compressed bytes, like any file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

import duckdb

from lakehouse.dataplane import duck
from lakehouse.dataplane.csv_io import (
    DEFAULT_DELIMITER,
    DEFAULT_ENCODING,
    Compression,
    needs_decoding,
    not_utf8,
    open_text,
    parse_delimiter,
    parse_encoding,
)
from lakehouse.dataplane.json_io import is_blank, jsonl_document
from lakehouse.dataplane.maintenance import WORK_DIR
from lakehouse.dataplane.manifest import FileEntry, run_manifest
from lakehouse.dataplane.pipeline_run import PipelineRun
from lakehouse.dataplane.recovery import recover_runs
from lakehouse.dataplane.schemas import (
    Column,
    DatasetSchema,
    declared_schema,
    reserved_column_problems,
    schema_from_json,
    schema_to_json,
    with_added_columns,
)
from lakehouse.dataplane.sql import quote_identifier
from lakehouse.dataplane.store import DatasetStore, StagedVersion, version_summary
from lakehouse.dataplane.validate import (
    HeaderCase,
    Reject,
    SchemaDiff,
    SourceFormat,
    SourceRead,
    detect_compression,
    detect_format,
    infer_schema,
    is_source_name,
    parse_header_case,
    read_source,
    schema_diff,
)
from lakehouse.errors import (
    AlreadyExistsError,
    DataPlaneError,
    DataRefusedError,
    RowValidationError,
    SchemaMismatchError,
)
from lakehouse.names import validate_slug

logger = logging.getLogger(__name__)

OnError = Literal["abort", "quarantine"]
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ReadOptions:
    """How an ingest reads its text files, the same for every file of the run.

    Attributes:
        delimiter: a CSV file's field separator, one character (``,`` by default; ``\\t`` for tab).
        encoding: a CSV or JSONL file's character set, canonical (``utf-8``, ``iso8859-1``, ...).
        header_case: ``exact``: a column is the schema column of exactly its name; ``insensitive``:
            of its name in any case.
    """

    delimiter: str = DEFAULT_DELIMITER
    encoding: str = DEFAULT_ENCODING
    header_case: HeaderCase = "exact"

    @classmethod
    def parse(
        cls, delimiter: str = DEFAULT_DELIMITER, encoding: str = DEFAULT_ENCODING, header_case: str = "exact"
    ) -> ReadOptions:
        """The options the values given name (``tab`` is a tab, ``latin-1`` is ``iso8859-1``).

        Raises:
            InvalidArgumentError: a value is not usable (an empty or multi-character delimiter, an
                unknown encoding, a header case other than exact or insensitive).
        """
        return cls(parse_delimiter(delimiter), parse_encoding(encoding), parse_header_case(header_case))


class FileIdentity(NamedTuple):
    """What tells one state of a file from another without reading it."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileIdentity:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class SourceFile:
    """A file to ingest, with the dataset and partition date it goes to.

    Attributes:
        path: the file that is read: the target of a symbolic link, resolved.
        symlink: the link it was found as, when it was reached through one.
        sha256: ``sha256:<hex>`` of its bytes (compressed bytes, for a ``.gz`` file), taken when it
            was found.
        identity: its device, inode, size and mtime then.
        compression: ``gzip`` for a ``.csv.gz`` / ``.jsonl.gz`` / ``.ndjson.gz`` file.
    """

    path: Path
    dataset: str
    dt: date
    fmt: SourceFormat
    sha256: str = ""
    size_bytes: int = 0
    symlink: Path | None = None
    identity: FileIdentity | None = None
    compression: Compression = "none"


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


@dataclass(frozen=True)
class _Ingested:
    """One source file written to its staged version."""

    source: SourceFile
    entry: FileEntry
    rejected_rows: int
    rejects_file: str | None
    renamed: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class _Reading:
    """How this run reads its files, and the folder of their decoded copies."""

    options: ReadOptions
    scratch: Path | None = None

    def read(
        self,
        con: duckdb.DuckDBPyConnection,
        source: SourceFile,
        schema: DatasetSchema,
        allow_extra_columns: bool = False,
    ) -> SourceRead:
        return read_source(
            con,
            source.path,
            schema,
            source.fmt,
            allow_extra_columns=allow_extra_columns,
            delimiter=self.options.delimiter,
            encoding=self.options.encoding,
            header_case=self.options.header_case,
            scratch_dir=self.scratch,
        )


# --- finding the files -----------------------------------------------------------------------------


def _folder_day(folder: Path, explicit: date | None) -> date | None:
    """The date a folder's ``YYYY-MM-DD`` name gives; None for a folder not named like a day.

    Raises:
        DataPlaneError: the name looks like a day but is no calendar date (and no ``explicit`` date
            stands in for it).
    """
    if _DAY.fullmatch(folder.name) is None:
        return None
    try:
        return date.fromisoformat(folder.name)
    except ValueError:
        if explicit is not None:
            return explicit
        raise DataPlaneError(
            f"{folder}: {folder.name} is not a calendar date: rename the day folder to a real "
            "YYYY-MM-DD date (or pass --dt)"
        ) from None


def _candidates(folder: Path) -> list[Path]:
    """The entries of ``folder`` that name data files (dot and underscore names are not data)."""
    found = []
    for p in sorted(folder.iterdir()):
        if not is_source_name(p) or p.name.startswith((".", "_")):
            continue
        if p.is_symlink() and not p.exists():
            raise DataPlaneError(f"{p}: symbolic link to {os.readlink(p)}, which points to nothing")
        if p.is_file():
            found.append(p)
    return found


def _through_links(file: Path, given: Path, follow_symlinks: bool) -> tuple[Path, Path | None]:
    """The path to read ``file`` from and the link it was found as (None when no link is in the way).

    ``given`` is the folder the file was found in (the argument, or a file argument's folder). A
    link below it is read through when its target stays inside ``given``, or with ``follow_symlinks``.

    Raises:
        DataPlaneError: a link leads out of ``given`` and ``follow_symlinks`` is off.
    """
    root = given.resolve()
    real = file.resolve()
    if real == root.joinpath(file.relative_to(given)):
        return file, None
    if not real.is_relative_to(root) and not follow_symlinks:
        raise DataPlaneError(
            f"{file}: a symbolic link leads to {real}, outside the extract folder {root}: refused; "
            "pass --follow-symlinks to ingest it"
        )
    return real, file


def discover_sources(
    paths: Sequence[Path],
    dataset: str | None = None,
    dt: date | None = None,
    follow_symlinks: bool = False,
) -> list[SourceFile]:
    """Expand PATHs into source files: files, one day folder (``YYYY-MM-DD/``) or an extract root.

    The dataset comes from ``dataset`` or the file name; the date from ``dt`` or the day folder name.

    Raises:
        DataPlaneError: a path does not exist or holds nothing to ingest, a file's date is unknown, a
            day folder's name is no calendar date, or a symbolic link leads out of its folder
            (without ``follow_symlinks``) or to nothing.
        InvalidNameError: a dataset name is not a valid slug.
    """
    found: list[SourceFile] = []
    for raw in paths:
        given = Path(raw).absolute()
        if not given.exists():
            if given.is_symlink():
                raise DataPlaneError(
                    f"{given}: symbolic link to {os.readlink(given)}, which points to nothing"
                )
            raise DataPlaneError(f"{given}: no such file or folder")
        if given.is_file():
            folder = given.parent
            files = [(given, _folder_day(folder, dt))]
        else:
            folder = given
            day = _folder_day(given, dt)
            if day is not None:
                files = [(p, day) for p in _candidates(given)]
            else:
                days = [(d, _folder_day(d, dt)) for d in sorted(given.iterdir()) if d.is_dir()]
                files = [(p, d_day) for d, d_day in days if d_day is not None for p in _candidates(d)]
            if not files:
                raise DataPlaneError(
                    f"{given}: no .csv/.jsonl/.parquet files (or .csv.gz/.jsonl.gz) found (expected files, "
                    "a YYYY-MM-DD folder, or a folder of YYYY-MM-DD folders)"
                )
        for file, folder_day in files:
            day = dt or folder_day
            if day is None:
                raise DataPlaneError(
                    f"{file}: cannot tell its date from the folder name: pass --dt YYYY-MM-DD"
                )
            name = dataset if dataset is not None else file.name.split(".")[0]
            validate_slug("dataset", name)
            path, link = _through_links(file, folder, follow_symlinks)
            found.append(
                SourceFile(
                    path, name, day, detect_format(file), symlink=link, compression=detect_compression(file)
                )
            )
    return found


@dataclass(frozen=True)
class _Fingerprint:
    sha256: str
    identity: FileIdentity
    nul_line: int | None  # the line of the first NUL byte, if any


def _fingerprint(path: Path) -> _Fingerprint:
    """The sha256 of a file's bytes, its identity, and where its first NUL byte is, in one read.

    Raises:
        DataPlaneError: the file cannot be read, or changed while it was hashed.
    """
    digest = hashlib.sha256()
    lines, nul_line = 1, None
    try:
        with open(path, "rb") as handle:
            before = FileIdentity.of(os.fstat(handle.fileno()))
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                if nul_line is None:
                    nul = chunk.find(b"\x00")
                    if nul >= 0:
                        nul_line = lines + chunk.count(b"\n", 0, nul)
                    lines += chunk.count(b"\n")
            after = FileIdentity.of(os.fstat(handle.fileno()))
    except OSError as exc:
        raise DataPlaneError(f"cannot read {path} to checksum it: {exc.strerror or exc}") from exc
    if before != after:
        raise _changed(path, before, after)
    return _Fingerprint("sha256:" + digest.hexdigest(), after, nul_line)


def _changed(path: Path, before: FileIdentity, after: FileIdentity | None) -> DataPlaneError:
    if after is None:
        what = "it was removed"
    elif (after.device, after.inode) != (before.device, before.inode):
        what = "it was replaced"
    elif after.size != before.size:
        what = f"{before.size:,} -> {after.size:,} bytes"
    else:
        what = "it was rewritten"
    return DataPlaneError(
        f"{path} changed while it was being ingested ({what}): nothing was ingested; "
        "run the ingest again once the extract is complete"
    )


def _fingerprinted(source: SourceFile, encoding: str = DEFAULT_ENCODING) -> SourceFile:
    """``source`` with its sha256 and identity.

    A file that is read through a decoded copy (gzip-compressed, or not UTF-8) has its text checked
    for NUL characters as it is decoded instead (a UTF-16 file has a NUL byte in every ASCII character).

    Raises:
        DataPlaneError: a plain CSV or JSON Lines file holds a NUL byte (text never does: a binary
            or damaged file).
    """
    found = _fingerprint(source.path)
    plain = not needs_decoding(encoding, source.compression)
    if found.nul_line is not None and source.fmt != "parquet" and plain:
        with open(source.path, "rb") as handle:
            if handle.read(2) in (b"\xff\xfe", b"\xfe\xff"):  # UTF-16: NUL in every ASCII character
                raise not_utf8(source.path)
        raise DataRefusedError(
            f"{source.path}: line {found.nul_line}: NUL byte in a text extract (a binary or damaged "
            "file?): fix or re-export it"
        )
    return replace(source, sha256=found.sha256, size_bytes=found.identity.size, identity=found.identity)


def _check_unchanged(source: SourceFile) -> None:
    """Refuse ``source`` if it is no longer the file that was hashed when it was found.

    Raises:
        DataPlaneError: its identity or its bytes changed since.
    """
    assert source.identity is not None
    try:
        now: FileIdentity | None = FileIdentity.of(os.stat(source.path))
    except FileNotFoundError:
        now = None
    if now != source.identity:
        raise _changed(source.path, source.identity, now)
    if _fingerprint(source.path).sha256 != source.sha256:
        raise _changed(source.path, source.identity, now)


# --- the ingest ------------------------------------------------------------------------------------


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
        follow_symlinks: bool = False,
        *,
        delimiter: str = DEFAULT_DELIMITER,
        encoding: str = DEFAULT_ENCODING,
        header_case: HeaderCase = "exact",
        run_id: str | None = None,
    ) -> IngestResult:
        """Ingest ``paths`` into bronze as one pipeline run.

        Args:
            company: the company slug.
            paths: files, day folders or extract roots (see :func:`discover_sources`).
            dataset: the dataset of every file (default: each file's name).
            dt: the partition date of every file (default: its day folder's name).
            on_error: ``abort`` on the first bad row, or ``quarantine`` bad rows and keep the rest.
            allow_schema_evolution: accept added nullable columns in an undeclared dataset.
            progress: called with ``(label, files done, files in all)`` before each file and the commit.
            follow_symlinks: read symbolic links that lead out of their extract folder.
            delimiter: the field separator of the CSV files: one character such as ``;`` or ``|``,
                or ``tab`` (``\\t``); a comma by default.
            encoding: the character set of the CSV and JSONL files: ``utf-8`` (the default),
                ``utf-16``, ``latin-1``, ``cp1252`` or another of Python's codecs; values are stored
                in bronze as unicode. A ``.gz`` file is decompressed whatever its encoding.
            header_case: ``exact`` (the default): a file's column names must be the schema's;
                ``insensitive``: they match the schema's names in any case (``Customer_ID`` is
                ``customer_id``), and two that match one column are an error.
            run_id: the id of the run (default: a new one), e.g. the scheduler run that starts it.

        Returns:
            What was ingested, skipped (with the reason) and published. Each file's entry (and the
            run's input manifest) records its format, compression and how it was read.

        Raises:
            InvalidArgumentError: ``delimiter``, ``encoding`` or ``header_case`` is not usable
                (checked before anything is read).
            RowValidationError: a row does not fit the schema and ``on_error`` is abort (nothing published).
            SchemaMismatchError: columns differ from the declared or recorded schema, or use a reserved name.
            SchemaConflictError: a concurrent ingest registered the same schema version of a new
                dataset with other columns first (nothing published).
            DataPlaneError: a file is missing, unreadable, refused, or changed during the run.
        """
        validate_slug("company", company)
        options = ReadOptions.parse(delimiter, encoding, header_case)
        recover_runs(self.store, company, command="ingest")  # dead runs failed, a stale catalog refreshed
        found = discover_sources(paths, dataset, dt, follow_symlinks)
        sources = [_fingerprinted(s, options.encoding) for s in found]
        result = IngestResult(run_id=None, company=company)
        todo: list[SourceFile] = []
        seen: dict[tuple[str, str], Path] = {}
        for s in sources:
            holder = self.dal.idempotency_claim_of(_scope(company, s.dataset), _claim_key(s))
            twin = seen.get((s.dataset, _claim_key(s)))
            if holder is not None:
                result.skipped.append(_describe(s, options) | {"reason": f"already ingested by run {holder}"})
            elif twin is not None:
                result.skipped.append(
                    _describe(s, options) | {"reason": f"same content as {twin} in this ingest"}
                )
            else:
                seen[(s.dataset, _claim_key(s))] = s.path
                todo.append(s)
        if not todo:
            return result

        inputs = [_describe(s, options) for s in todo]
        with PipelineRun(self.store, company, "ingest", run_id=run_id) as run:
            run_id = run.start(stage="bronze", inputs={"sources": inputs})
            result.run_id = run_id
            # decoded copies of the files that are not plain UTF-8 (removed when the run ends)
            scratch = run.scratch(self.store.root.company_dir(company) / WORK_DIR / run_id)
            reading = _Reading(options, scratch)
            staged: dict[str, StagedVersion] = {}
            done: dict[str, _Ingested] = {}  # by the staged file's path
            concurrent: list[dict[str, Any]] = []

            def left_out(path: str, holder: str) -> None:
                """A file another run committed meanwhile: not part of this run after all."""
                item = done.pop(path)
                if item.rejects_file is not None:
                    self.store.root.objects.delete([item.rejects_file])
                concurrent.append(
                    _describe(item.source, options) | {"reason": f"ingested concurrently by run {holder}"}
                )

            with duck.connect() as con:
                for n, source in enumerate(todo, start=1):
                    if progress is not None:
                        progress(f"{source.dataset} {source.dt} ({source.path.name})", n - 1, len(todo))
                    version = staged.get(source.dataset)
                    if version is None:
                        version = run.stage(
                            self._stage_version(con, company, source, run_id, allow_schema_evolution, reading)
                        )
                        staged[source.dataset] = version
                    elif declared_schema(source.dataset) is None:
                        # Every file of an undeclared dataset is checked against the schema, not just
                        # the first one of the run (a later file may evolve it: added nullable columns).
                        schema = self._schema_for(
                            con, company, source, allow_schema_evolution, reading, version
                        )
                        version.schema, version.schema_version = schema_to_json(schema), schema.version
                    item = self._ingest_file(con, company, source, version, on_error, reading)
                    if item.rejects_file is not None:
                        run.remove_unless_committed(item.rejects_file)
                    done[item.entry.path] = item
            if progress is not None:
                progress("publishing", len(todo), len(todo))
            for source in todo:
                _check_unchanged(source)
            claims = {
                (_scope(company, i.source.dataset), _claim_key(i.source)): path for path, i in done.items()
            }
            records = run.publish(claims=list(claims), claimed_files=claims, on_claim_taken=left_out)
            result.ingested = [
                _describe(i.source, options)
                | {"rows": i.entry.row_count, "rejected": i.rejected_rows}
                | ({"renamed_columns": dict(i.renamed)} if i.renamed else {})
                for i in done.values()
            ]
            result.skipped.extend(concurrent)
            result.rejected_rows = sum(i.rejected_rows for i in done.values())
            result.rejects_files = [i.rejects_file for i in done.values() if i.rejects_file is not None]
            result.versions = version_summary(records)
            run.finish(
                run_manifest(
                    run_id=run_id,
                    company=company,
                    pipeline="ingest",
                    inputs=inputs,
                    outputs=[v.as_output() for v in staged.values() if v.files],
                    rejected_rows=result.rejected_rows,
                    rejects_files=result.rejects_files,
                    skipped=concurrent,
                )
            )
            return result

    def _stage_version(
        self,
        con: duckdb.DuckDBPyConnection,
        company: str,
        source: SourceFile,
        run_id: str,
        allow_evolution: bool,
        reading: _Reading,
    ) -> StagedVersion:
        schema = self._schema_for(con, company, source, allow_evolution, reading)
        return StagedVersion(
            company=company,
            zone="bronze",
            dataset=source.dataset,
            run_id=run_id,
            schema_version=schema.version,
            schema=schema_to_json(schema),
            key_column=schema.primary_key,
        )

    def _schema_for(
        self,
        con: duckdb.DuckDBPyConnection,
        company: str,
        source: SourceFile,
        allow_evolution: bool,
        reading: _Reading,
        staged: StagedVersion | None = None,
    ) -> DatasetSchema:
        """The schema ``source`` is ingested with: declared, else the one of ``staged`` (the version
        this run is writing) or of the newest version, evolved if allowed, else inferred from it.

        With ``header_case`` insensitive, a column inferred from the file is the recorded column of
        its name in any case (so ``Amount`` in a later file is the recorded ``amount``)."""
        declared = declared_schema(source.dataset)
        if declared is not None:
            return declared
        if staged is not None and staged.schema is not None:
            known: dict[str, Any] | None = staged.schema
        else:
            versions = self.dal.list_dataset_versions(company, source.dataset, "bronze")
            known = versions[-1].schema if versions else None
        options = reading.options
        if (
            known is not None
            and source.fmt == "jsonl"
            and is_blank(source.path, options.encoding, source.compression)
        ):
            return schema_from_json(known)  # no record: nothing to compare, nothing to evolve
        inferred = infer_schema(
            con,
            source.path,
            source.fmt,
            source.dataset,
            delimiter=options.delimiter,
            encoding=options.encoding,
            scratch_dir=reading.scratch,
        )
        reserved = reserved_column_problems(inferred.column_names)
        if reserved:
            raise SchemaMismatchError(
                f"{source.path}: {'; '.join(reserved)}: these names are reserved; rename the column(s) "
                "in the extract"
            )
        if known is None:
            logger.info(
                "dataset %s is not declared: inferred schema version 1 from %s", source.dataset, source.path
            )
            return inferred
        recorded = schema_from_json(known)
        if options.header_case == "insensitive":
            inferred = _spelled_as(inferred, recorded)
        diff = self._type_changes_that_matter(con, source, recorded, schema_diff(recorded, inferred), reading)
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
        con: duckdb.DuckDBPyConnection,
        source: SourceFile,
        recorded: DatasetSchema,
        diff: SchemaDiff,
        reading: _Reading,
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
        read = reading.read(con, source, probe, allow_extra_columns=True)
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
        reading: _Reading,
    ) -> _Ingested:
        schema = schema_from_json(version.schema or {})
        read = reading.read(con, source, schema)
        rejects_file: str | None = None
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
                rejects_file = self._quarantine(
                    company, source, version.run_id, read.rejects, reading.options
                )
            cols = ", ".join(quote_identifier(c) for c in schema.column_names)
            query = (
                f"SELECT {cols}, ?::VARCHAR AS _ingest_run_id, ?::TIMESTAMPTZ AS _ingested_at, "
                f"?::VARCHAR AS _source_file, _source_line FROM ({read.relation_sql}) ORDER BY _source_line"
            )
            entry = self.store.write_file(
                con, version, query, source.dt, params=[version.run_id, datetime.now(UTC), str(source.path)]
            )
        finally:
            read.drop(con)
        return _Ingested(source, entry, read.rejected_rows, rejects_file, read.renamed_columns)

    def _quarantine(
        self, company: str, source: SourceFile, run_id: str, rejects: Sequence[Reject], options: ReadOptions
    ) -> str:
        """Keep the refused rows of ``source``: one JSON line per row, with every problem of the row,
        its raw text and (CSV) the header, so it can be repaired and re-ingested from the lake alone."""
        key = (
            f"{self.store.root.rejects_prefix(company)}dataset={source.dataset}/dt={source.dt.isoformat()}/"
            f"rejects-{run_id}-{source.sha256[7:19]}.jsonl"
        )
        by_line: dict[int, list[Reject]] = {}
        for r in rejects:
            by_line.setdefault(r.line, []).append(r)
        raw = _raw_lines(source, set(by_line), options)
        rows = [
            {
                "line": line,
                "problems": [{"column": r.column, "value": r.value, "reason": r.reason} for r in problems],
                "source_file": str(source.path),
                "raw": raw.get(line),
                "header": raw.get(1),
            }
            for line, problems in sorted(by_line.items())
        ]
        self.store.root.objects.put_bytes(key, jsonl_document(rows, key), if_absent=False)
        return key


def _raw_lines(source: SourceFile, lines: set[int], options: ReadOptions) -> dict[int, str]:
    """The text of the given physical lines of a CSV/JSONL source (and a CSV's header, line 1).

    Kept with each reject so a quarantined row can be repaired and re-ingested from the lake
    alone. A record that spans several lines (a quoted newline) keeps only its first line. The text
    is decoded from the file's encoding (and decompressed): it is unicode, as in bronze.
    """
    if source.fmt == "parquet":
        return {}
    wanted = lines | ({1} if source.fmt == "csv" else set())
    found: dict[int, str] = {}
    with open_text(source.path, options.encoding, source.compression) as fh:
        for number, text in enumerate(fh, start=1):
            if number in wanted:
                found[number] = text.rstrip("\r\n")
                if len(found) == len(wanted):
                    break
    return found


def _scope(company: str, dataset: str) -> str:
    return f"ingest:{company}:{dataset}"


def _claim_key(source: SourceFile) -> str:
    """A file's idempotency key in its dataset's scope: its day and its bytes (migration 0006)."""
    return f"{source.dt.isoformat()}/{source.sha256}"


def _describe(source: SourceFile, options: ReadOptions) -> dict[str, Any]:
    """A file's entry in the run's input manifest: what it is and how it was read.

    ``compression`` and ``header_case`` are recorded for every file, ``encoding`` for CSV and JSONL
    files, ``delimiter`` for CSV files: a rerun or an audit can read the file the same way.
    """
    described: dict[str, Any] = {
        "path": str(source.path),
        "dataset": source.dataset,
        "dt": source.dt.isoformat(),
        "format": source.fmt,
        "compression": source.compression,
        "size_bytes": source.size_bytes,
        "sha256": source.sha256,
    }
    if source.fmt == "csv":
        described["delimiter"] = options.delimiter
    if source.fmt != "parquet":
        described["encoding"] = options.encoding
    described["header_case"] = options.header_case
    if source.symlink is not None:
        described["symlink"] = str(source.symlink)
    return described


def _spelled_as(inferred: DatasetSchema, recorded: DatasetSchema) -> DatasetSchema:
    """``inferred`` with each column named as the recorded column of its name in any case."""
    by_lower = {column.name.lower(): column.name for column in recorded.columns}
    columns = tuple(replace(c, name=by_lower.get(c.name.lower(), c.name)) for c in inferred.columns)
    return replace(inferred, columns=columns)


__all__ = [
    "AlreadyExistsError",
    "BronzeIngest",
    "IngestResult",
    "ReadOptions",
    "SourceFile",
    "discover_sources",
]
