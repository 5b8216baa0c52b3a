"""The one exception hierarchy of the package.

Every error raised on purpose derives from :class:`LakehouseError`, so the CLI can catch one type and
turn it into a one-line message and its exit code (:attr:`LakehouseError.exit_code`). Each class stores the fields it is about and builds
its message in ``__init__``, naming the file, line, field or id at fault and, where there is one, the
next step.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

#: Exit codes of the CLI, by kind of failure (a class's ``exit_code``; the README has the table).
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_LOCK_BUSY = 3
EXIT_DATA_REFUSED = 4


class LakehouseError(Exception):
    """Base class of every error the lakehouse raises on purpose."""

    #: The CLI's exit code for this error: 1 a failure, 2 a usage error, 3 a lock held by another
    #: process, 4 data refused (rows or a schema that do not validate, a build whose dbt tests fail).
    exit_code: ClassVar[int] = EXIT_FAILURE

    def run_error_details(self) -> dict[str, Any]:
        """Fields recorded with the message on a pipeline run this error failed (none by default)."""
        return {}


#: A failure while the data root or the SQLite file has less free space than this is a full disk.
LOW_SPACE_BYTES = 16 * 1024 * 1024


def low_on_space(path: str | os.PathLike[str]) -> bool:
    """Whether the file system holding ``path`` (or its nearest existing parent) is nearly full."""
    here = Path(path)
    while not here.exists() and here != here.parent:
        here = here.parent
    try:
        return shutil.disk_usage(here).free < LOW_SPACE_BYTES
    except OSError:
        return False


class UsageError(LakehouseError):
    """The command line is wrong: flags that contradict each other, a value that names nothing known."""

    exit_code: ClassVar[int] = EXIT_USAGE


class ScheduleError(UsageError):
    """A task's schedule is not one the scheduler can run; names the field and what it expects."""

    def __init__(self, field: str, value: str, expected: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field} {value!r}: expected {expected}")


class TaskConfigError(UsageError):
    """A scheduled task's type or arguments are refused when it is added; names the field."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"{field}: {problem}")


class UnknownNameError(UsageError):
    """A name on the command line (a company, an event type, a pipeline) that is not known; lists the known ones."""

    def __init__(self, kind: str, value: str, known: Sequence[str], hint: str = "") -> None:
        self.kind = kind
        self.value = value
        self.known = list(known)
        listed = ", ".join(self.known) if self.known else "none"
        super().__init__(f"no {kind} {value!r} (known: {listed}){hint}")


class DiskFullError(LakehouseError):
    """A write failed because the file system (or the SQLite database) has no space left."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        where = path or "the device"
        super().__init__(f"no space left on {where}: free some disk space, then run the command again")


# --- settings and config plane -------------------------------------------------------------------


class SettingsError(LakehouseError):
    """An environment setting is missing or malformed."""


class ConfigProblem:
    """One problem found in a config file: where it is and what is wrong."""

    __slots__ = ("file", "location", "message")

    def __init__(self, file: str, location: str, message: str) -> None:
        self.file = file
        self.location = location
        self.message = message

    def __str__(self) -> str:
        where = f"{self.file}: {self.location}" if self.location else self.file
        return f"{where}: {self.message}"

    def __repr__(self) -> str:
        return f"ConfigProblem({self.file!r}, {self.location!r}, {self.message!r})"


class ConfigError(LakehouseError):
    """One or more config files are invalid; ``problems`` lists every one of them."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "invalid configuration"
        more = f" (and {len(self.problems) - 1} more problem(s))" if len(self.problems) > 1 else ""
        super().__init__(first + more)


# --- control plane ---------------------------------------------------------------------------------


class ControlPlaneError(LakehouseError):
    """The control-plane database refused or failed an operation."""


class DatabaseUnavailableError(ControlPlaneError):
    """The control-plane database cannot be reached, or the connection to it was lost mid-command.

    Args:
        url: the database URL, password hidden.
        reason: the driver's one-line reason.
        lost: the connection was lost during the command (rather than refused at its start).
    """

    def __init__(self, url: str, reason: str, lost: bool = False) -> None:
        self.url = url
        self.reason = reason
        self.lost = lost
        if lost:
            super().__init__(
                f"lost the connection to the control-plane database at {url}: {reason}. "
                "Check that the server is running; a run this left marked running is marked failed "
                "by the next command once the database is back."
            )
        else:
            super().__init__(
                f"cannot reach the control-plane database at {url}: {reason}. "
                "Check LAKEHOUSE_DATABASE_URL and that the server is running."
            )


class StatementTimeoutError(ControlPlaneError):
    """The control-plane server cancelled a statement that ran past ``LAKEHOUSE_DB_STATEMENT_TIMEOUT``."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"the control-plane database at {url} cancelled a statement that ran too long ({reason}): "
            "the server is overloaded or another session holds a lock for long. Run the command again; "
            "if such statements are expected, raise LAKEHOUSE_DB_STATEMENT_TIMEOUT (seconds, 0 = no limit)."
        )


class ConnectionPoolExhaustedError(ControlPlaneError):
    """Every connection this process may open to the control plane stayed in use past the wait."""

    def __init__(self, url: str, connections: int, wait_seconds: float) -> None:
        self.url = url
        self.connections = connections
        self.wait_seconds = wait_seconds
        super().__init__(
            f"all {connections} connections this process may open to the control-plane database at {url} "
            f"were busy for {wait_seconds:g}s: raise LAKEHOUSE_DB_POOL_SIZE / LAKEHOUSE_DB_MAX_OVERFLOW "
            "(and the server's max_connections to match), or run fewer threads per process"
        )


class MigrationRequiredError(ControlPlaneError):
    def __init__(self, current: str | None, head: str, url: str | None = None) -> None:
        self.current = current
        self.head = head
        self.url = url
        where = f" at {url}" if url else ""
        state = f"is at revision {current}" if current else "has no tables yet"
        super().__init__(
            f"the control-plane database{where} {state} but the code needs revision {head}; "
            "run `lakehouse db upgrade` (it uses LAKEHOUSE_DATABASE_URL)"
        )


class AlreadyExistsError(ControlPlaneError):
    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} already exists")


class NotFoundError(ControlPlaneError):
    def __init__(self, kind: str, key: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"no {kind} {key!r}")


class InvalidStateError(ControlPlaneError):
    """An entity is not in a state that allows the requested change."""

    def __init__(self, kind: str, key: str, state: str, wanted: str) -> None:
        self.kind = kind
        self.key = key
        self.state = state
        super().__init__(f"{kind} {key!r} is {state}; cannot {wanted}")


class CommitConflictError(ControlPlaneError):
    """Another writer changed the same state first; retry the operation."""


class LockBusyError(ControlPlaneError):
    exit_code: ClassVar[int] = EXIT_LOCK_BUSY

    def __init__(self, name: str, holder: str | None) -> None:
        self.name = name
        self.holder = holder
        who = f", held by {holder}" if holder else ""
        super().__init__(
            f"lock {name!r} is busy{who}; retry when it has finished, or pass --wait SECONDS to wait for it"
        )


# --- data plane ------------------------------------------------------------------------------------


class DataPlaneError(LakehouseError):
    """A data-plane read or write failed."""


class InvalidNameError(DataPlaneError):
    def __init__(self, kind: str, value: str) -> None:
        self.kind = kind
        self.value = value
        super().__init__(
            f"invalid {kind} name {value!r}: use 1-63 characters of a-z, 0-9, '_' or '-', "
            "starting with a letter or digit"
        )


class DataRefusedError(DataPlaneError):
    """Data was refused: it does not validate, so nothing of it was published (exit code 4)."""

    exit_code: ClassVar[int] = EXIT_DATA_REFUSED


class SchemaMismatchError(DataRefusedError):
    """Data does not match the declared or recorded schema of its dataset."""


class SchemaConflictError(SchemaMismatchError):
    """A run's schema for a dataset differs from the one registered under the same schema version.

    A conflict with another run rather than bad data: exit code 1.
    """

    exit_code: ClassVar[int] = EXIT_FAILURE

    def __init__(
        self,
        dataset: str,
        schema_version: str,
        registered_by: str,
        registered: Sequence[tuple[str, str]],
        proposed: Sequence[tuple[str, str]],
    ) -> None:
        self.dataset = dataset
        self.schema_version = schema_version
        self.registered_by = registered_by
        known = dict(registered)
        new = dict(proposed)
        changes = [f"+{n} {t}" for n, t in new.items() if n not in known]
        changes += [f"-{n}" for n in known if n not in new]
        changes += [f"{n} {known[n]}->{t}" for n, t in new.items() if n in known and known[n] != t]
        shown = ", ".join(changes[:8]) + (" ..." if len(changes) > 8 else "") if changes else "column order"
        super().__init__(
            f"schema version {schema_version} of {dataset} was registered by run {registered_by} with other "
            f"columns ({shown}); bump the schema version (dbt: meta.schema_version) or make the data match"
        )


class RowValidationError(DataRefusedError):
    def __init__(self, file: str, line: int | None, column: str | None, reason: str) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.reason = reason
        where = file
        if line is not None:
            where += f", line {line}"
        if column is not None:
            where += f", column {column!r}"
        super().__init__(f"{where}: {reason}")


class DatasetNotFoundError(DataPlaneError):
    def __init__(self, company: str, zone: str, dataset: str, version: str | None = None) -> None:
        self.company = company
        self.zone = zone
        self.dataset = dataset
        self.version = version
        at = f" at version {version!r}" if version else ""
        super().__init__(f"no published dataset {zone}.{dataset}{at} for company {company!r}")


class IntegrityError(DataPlaneError):
    """Stored files differ from what their manifest records."""


class CatalogStaleError(DataPlaneError):
    """What a command committed is published, but the analysts' catalog could not be refreshed."""

    def __init__(self, company: str, path: str, reason: str) -> None:
        self.company = company
        self.path = path
        super().__init__(
            f"committed, but the catalog {path} could not be refreshed ({reason}): DuckDB clients "
            f"reading it see the previous versions until it is; fix the cause, then run "
            f"`lakehouse catalog -c {company}` (the next ingest, build or query refreshes it too)"
        )


class QueryRefusedError(DataPlaneError):
    """An analyst query tried to write, attach, load or reach outside the data root."""


class QueryError(DataPlaneError):
    """An analyst query failed to run."""


class QueryParameterError(QueryError):
    """The parameters given do not fit the query's (unknown, missing, of the wrong kind): a usage error."""

    exit_code: ClassVar[int] = EXIT_USAGE


class InvalidArgumentError(DataPlaneError):
    """A numeric or date argument (e.g. of the sample-data generator) is outside its allowed range:
    a usage error (exit code 2)."""

    exit_code: ClassVar[int] = EXIT_USAGE

    def __init__(self, name: str, value: object, expected: str) -> None:
        self.name = name
        self.value = value
        self.expected = expected
        super().__init__(f"invalid {name} {value!r}: expected {expected}")


# --- transform plane -------------------------------------------------------------------------------


class TransformError(LakehouseError):
    """A transform (dbt build, event detection, extraction) failed."""


class EmptyVersionError(TransformError):
    """A build would replace a non-empty current dataset with an empty version."""

    exit_code: ClassVar[int] = EXIT_DATA_REFUSED

    def __init__(self, dataset: str, as_of: str, current_rows: int, current_as_of: object) -> None:
        self.dataset = dataset
        super().__init__(
            f"{dataset} would be empty as of {as_of} (its current version as of {current_as_of} has "
            f"{current_rows} rows): nothing published; pick an as-of the data covers, or pass --allow-empty"
        )


class BuildFailedError(TransformError):
    """A dbt model or test failed: nothing was published (exit code 4)."""

    exit_code: ClassVar[int] = EXIT_DATA_REFUSED

    def __init__(self, run_id: str, failures: Sequence[str], log: str | None = None) -> None:
        self.run_id = run_id
        self.failures = list(failures)
        self.log = log
        details = f" (dbt log: {log})" if log else ""
        super().__init__(f"build {run_id} failed, nothing published: " + "; ".join(self.failures) + details)

    def run_error_details(self) -> dict[str, Any]:
        return {"failed_nodes": self.failures}


# --- the operations plane (scheduler, review gates, notifications, legacy JSON) -------------------


class OperationsError(LakehouseError):
    """The operations plane could not do what was asked (a scheduler worker, a gate sync, a send)."""


class WorkerRefusedError(OperationsError):
    """A scheduler worker cannot start here (e.g. another worker holds an SQLite control plane)."""

    exit_code: ClassVar[int] = EXIT_LOCK_BUSY


class NotificationError(OperationsError):
    """Notifications could not be delivered (each attempt is recorded as a failed receipt)."""


class NotificationsFailedError(NotificationError):
    """Some notifications sent again (``lakehouse notify retry``) failed again.

    Args:
        failed: how many failed again.
        first: the first one's receipt id, channel and error.
    """

    def __init__(self, failed: int, first: str) -> None:
        self.failed = failed
        self.first = first
        super().__init__(
            f"{failed} notification(s) failed again, e.g. {first}; "
            "see `lakehouse notify list --status failed`, fix the channel, then retry"
        )


class GateFolderError(OperationsError):
    """The folder of review-gate files to sync (or to export to) is missing or not a folder: a usage error."""

    exit_code: ClassVar[int] = EXIT_USAGE

    def __init__(self, folder: str, problem: str) -> None:
        self.folder = folder
        self.problem = problem
        super().__init__(f"gate folder {folder}: {problem}")


class GateFileError(OperationsError):
    """One review-gate file cannot be read or does not match the gate file format (docs/gates.md).

    Args:
        file: the file at fault.
        location: where in it (``checks.ci``, ``line 3, column 1``), or "" for the whole file.
        problem: what is wrong, e.g. "unknown key (not part of the schema)".
    """

    exit_code: ClassVar[int] = EXIT_DATA_REFUSED

    def __init__(self, file: str, location: str, problem: str) -> None:
        self.file = file
        self.location = location
        self.problem = problem
        where = f"{file}: {location}" if location else file
        super().__init__(f"{where}: {problem}")


class GateFilesSkippedError(OperationsError):
    """A gate sync skipped some files (malformed, partly written, a task twice); the others synced (exit 4).

    Args:
        folder: the synced folder.
        synced: how many files synced.
        skipped: ``(file name, problem)`` of each skipped file.
    """

    exit_code: ClassVar[int] = EXIT_DATA_REFUSED

    def __init__(self, folder: str, synced: int, skipped: Sequence[tuple[str, str]]) -> None:
        self.folder = folder
        self.synced = synced
        self.skipped = list(skipped)
        listed = "; ".join(f"{name}: {problem}" for name, problem in self.skipped)
        super().__init__(
            f"skipped {len(self.skipped)} gate file(s) in {folder} ({synced} synced): {listed}; "
            "fix or remove them, then sync again (see docs/gates.md for the format)"
        )


class GatesNotExportedError(OperationsError):
    """An export left out gates the gate file format cannot hold (e.g. a task id that is no file name)."""

    exit_code: ClassVar[int] = EXIT_DATA_REFUSED

    def __init__(self, folder: str, written: int, refused: Sequence[tuple[str, str]]) -> None:
        self.folder = folder
        self.refused = list(refused)
        listed = "; ".join(f"task {task!r}: {problem}" for task, problem in self.refused)
        super().__init__(f"exported {written} gate(s) to {folder} but left out {len(self.refused)}: {listed}")


class LegacyFolderError(OperationsError):
    """A legacy JSON folder (or its ``tasks.json``) is missing or not what it should be: a usage error.

    Args:
        path: the folder or file at fault.
        problem: what is wrong, e.g. "does not exist".
    """

    exit_code: ClassVar[int] = EXIT_USAGE

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class LegacyFileError(OperationsError):
    """A whole legacy JSON file cannot be read (not JSON, wrong top level, unknown version): nothing
    was imported (exit 4).

    Args:
        file: the file at fault.
        location: where in it (``line 3, column 7``, ``version``), or "" for the whole file.
        problem: what is wrong.
    """

    exit_code: ClassVar[int] = EXIT_DATA_REFUSED

    def __init__(self, file: str, location: str, problem: str) -> None:
        self.file = file
        self.location = location
        self.problem = problem
        where = f"{file}, {location}" if location else file
        super().__init__(
            f"{where}: {problem}; nothing imported (the format is described in docs/legacy-json.md)"
        )


class LegacyEntriesSkippedError(OperationsError):
    """A legacy JSON import skipped entries (malformed, conflicting, a run of an unknown task): exit 4.

    Args:
        folder: the imported folder.
        problems: each skipped entry, as "FILE, line N: problem".
        strict: ``--strict`` was given, so nothing at all was imported.
    """

    exit_code: ClassVar[int] = EXIT_DATA_REFUSED

    def __init__(self, folder: str, problems: Sequence[str], strict: bool = False) -> None:
        self.folder = folder
        self.problems = list(problems)
        self.strict = strict
        count = len(self.problems)
        first = self.problems[0] if self.problems else "no details"
        more = f" (and {count - 1} more)" if count > 1 else ""
        if strict:
            super().__init__(
                f"--strict: nothing imported from {folder}: {count} entry(ies) refused, first {first}{more}; "
                "fix them, or import without --strict to skip them"
            )
        else:
            super().__init__(
                f"skipped {count} entry(ies) of {folder}, first {first}{more}; the other entries were "
                "imported: fix these and import again (what is imported already is not added twice)"
            )


# --- recognising a full disk ---------------------------------------------------------------------

#: Texts drivers use for "no space left": the OS (errno 28), pyarrow, DuckDB and SQLite (SQLITE_FULL).
_DISK_FULL_TEXTS = ("no space left on device", "[errno 28]", "database or disk is full")
_QUOTED_PATH = re.compile(r"""(?:file|path|directory)\s+["']([^"']+)["']""", re.IGNORECASE)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what caused it (``__cause__``, ``__context__``, a driver error's ``orig``), each once."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (current.__cause__, current.__context__, getattr(current, "orig", None)):
            if isinstance(linked, BaseException):
                todo.append(linked)


def disk_full_from(exc: BaseException, default_path: str | None = None) -> DiskFullError | None:
    """The :class:`DiskFullError` behind ``exc`` if a full disk caused it (anywhere in its chain), else None.

    Recognises ``OSError(errno.ENOSPC)`` (its file name is the path), and the messages of pyarrow,
    DuckDB ("Could not write file \"...\": No space left on device") and SQLite ("database or disk
    is full") errors, including when they were wrapped (e.g. as the cause of a JSON or integrity error).

    Args:
        exc: the error to look into.
        default_path: the path to name when the error does not say which file it was writing.
    """
    for current in _chain(exc):
        if isinstance(current, DiskFullError):
            return current
        if isinstance(current, OSError) and current.errno == errno.ENOSPC:
            name = current.filename
            if isinstance(name, str | bytes | os.PathLike):
                return DiskFullError(os.fsdecode(name))
            return DiskFullError(default_path)
        text = str(current).lower()
        if any(marker in text for marker in _DISK_FULL_TEXTS):
            quoted = _QUOTED_PATH.search(str(current))
            return DiskFullError(quoted.group(1) if quoted else default_path)
    return None
