"""The one exception hierarchy of the package.

Every error raised on purpose derives from :class:`LakehouseError`, so the CLI can catch one type and
turn it into a one-line message and exit code 1. Each class stores the fields it is about and builds
its message in ``__init__``, naming the file, line, field or id at fault and, where there is one, the
next step.
"""

from __future__ import annotations

from collections.abc import Sequence


class LakehouseError(Exception):
    """Base class of every error the lakehouse raises on purpose."""


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
    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        super().__init__(
            f"cannot reach the control-plane database at {url}: {reason}. "
            "Check LAKEHOUSE_DATABASE_URL and that the server is running."
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
    def __init__(self, name: str, holder: str | None) -> None:
        self.name = name
        self.holder = holder
        who = f" held by {holder}" if holder else ""
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


class SchemaMismatchError(DataPlaneError):
    """Data does not match the declared or recorded schema of its dataset."""


class RowValidationError(DataPlaneError):
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


class QueryRefusedError(DataPlaneError):
    """An analyst query tried to write, attach, load or reach outside the data root."""


class QueryError(DataPlaneError):
    """An analyst query failed to run."""


class InvalidArgumentError(DataPlaneError):
    """A numeric or date argument (e.g. of the sample-data generator) is outside its allowed range."""

    def __init__(self, name: str, value: object, expected: str) -> None:
        self.name = name
        self.value = value
        self.expected = expected
        super().__init__(f"invalid {name} {value!r}: expected {expected}")


# --- transform plane -------------------------------------------------------------------------------


class TransformError(LakehouseError):
    """A transform (dbt build, event detection, extraction) failed."""


class BuildFailedError(TransformError):
    def __init__(self, run_id: str, failures: Sequence[str], log: str | None = None) -> None:
        self.run_id = run_id
        self.failures = list(failures)
        self.log = log
        details = f" (dbt log: {log})" if log else ""
        super().__init__(f"build {run_id} failed, nothing published: " + "; ".join(self.failures) + details)
