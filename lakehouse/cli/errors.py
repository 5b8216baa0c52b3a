"""One line on stderr per failure: the CLI's error messages, logging and tracebacks.

A failed command prints ``error: <message>`` and exits with the error's code (1 a failure, 2 a usage
error, 3 a lock held by another process, 4 data refused: see :attr:`LakehouseError.exit_code`);
under ``--output json`` stdout gets the error as the command's JSON document too,
``{"error": "<message>", "type": "LockBusyError", "exit_code": 3}``. Every log record is one line too
(``LEVEL logger: message: <the error, on one line>``). Tracebacks are shown only with ``--verbose``
or ``--log-level DEBUG`` (``LAKEHOUSE_LOG_LEVEL=DEBUG``). Whatever the error, a full disk reads
"no space left on <path>" and a lost control plane says so, rather than the JSON, DuckDB or
integrity error they caused further up.

Messages are printed literally: the consoles interpret no rich markup (``[bold]``) and no emoji
codes (``:x:``) in values.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from typer.core import TyperGroup

from lakehouse.errors import (
    EXIT_FAILURE,
    EXIT_USAGE,
    ConfigError,
    DatabaseUnavailableError,
    DataPlaneError,
    DiskFullError,
    LakehouseError,
    TransformError,
    disk_full_from,
    low_on_space,
)

P = ParamSpec("P")
R = TypeVar("R")

err_console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False, emoji=False)
logger = logging.getLogger(__name__)

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


class JsonPrinted:
    """Whether the running command has printed its JSON document on stdout (set by ``print_json``):
    stdout then holds that document alone, and an error after it is said on stderr only."""

    done = False


class _Verbosity:
    """Whether tracebacks are shown (set by the root callback, read by :func:`catch_errors`)."""

    tracebacks = False


def configure_logging(level: str, verbose: bool = False) -> None:
    """Send log records to stderr, one line each unless ``verbose`` or ``level`` is DEBUG.

    Replaces the handler a previous call installed (the CLI runs many commands in one test process).

    Raises:
        typer.BadParameter: ``level`` is not a logging level name.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise typer.BadParameter(
            f"{level!r} is not a logging level: use DEBUG, INFO, WARNING or ERROR", param_hint="--log-level"
        )
    _Verbosity.tracebacks = verbose or numeric <= logging.DEBUG
    # A handler that cannot write (dbt's log file on a full disk) must not print "--- Logging error
    # ---" and a traceback before the one-line error: Python's production setting, unless verbose.
    logging.raiseExceptions = _Verbosity.tracebacks
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, StderrHandler):
            root.removeHandler(handler)
    handler = StderrHandler()
    handler.setFormatter(OneLineFormatter(tracebacks=_Verbosity.tracebacks))
    root.addHandler(handler)
    root.setLevel(numeric)


def tracebacks_shown() -> bool:
    return _Verbosity.tracebacks


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler on whatever ``sys.stderr`` is when a record is emitted."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


class OneLineFormatter(logging.Formatter):
    """``LEVEL logger: message``, with the record's exception summed up on the same line.

    With ``tracebacks`` the record is formatted as usual, traceback included.
    """

    def __init__(self, tracebacks: bool = False) -> None:
        super().__init__(LOG_FORMAT)
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if self.tracebacks:
            return super().format(record)
        message = _flat(record.getMessage())
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            message += f": {describe_failure(exc, hint=False)}"
        return f"{record.levelname} {record.name}: {message}"


def describe_failure(exc: BaseException, hint: bool = True) -> str:
    """The one-line message of a failure.

    A full disk anywhere in the exception's chain gives "no space left on <path>", a lost database
    the control plane's message, a :class:`LakehouseError` its own message; anything else is
    "<type>: <message>".

    Args:
        hint: for the command's own error line: call an unexpected error so, and say how to see
            its traceback.
    """
    disk = disk_full_from(exc) or _low_space(exc)
    if disk is not None:
        return _flat(str(disk))
    lost = exc if isinstance(exc, DatabaseUnavailableError) else _lost_database(exc)
    if lost is not None and not hint:  # a log line: the command's error line gives the advice
        state = "lost the connection to" if lost.lost else "cannot reach"
        return _flat(f"{state} the control-plane database ({lost.reason})")
    if isinstance(exc, LakehouseError):
        return _flat(str(exc))
    if lost is not None:
        return _flat(str(lost))
    text = f"{type(exc).__name__}: {_flat(str(exc)) or 'no message'}"
    return f"unexpected {text} (--verbose shows the traceback)" if hint else text


def catch_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Run a command; on failure print one ``error: <message>`` line (see :func:`describe_failure`)
    and exit with the code of :func:`exit_code_of`.

    A command called with ``output`` (or ``fmt``) ``json`` also prints the error as its JSON document
    on stdout, ``{"error": ..., "type": ..., "exit_code": ...}`` (and ``problems`` for a config error),
    unless it printed its result document before failing (a catalog left stale after a commit).
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        JsonPrinted.done = False
        try:
            return func(*args, **kwargs)
        except _passed_through():
            raise  # usage errors and exits: typer reports them
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:
            _print_traceback(exc)
            code = exit_code_of(exc)
            if isinstance(exc, ConfigError):
                for problem in exc.problems:
                    err_console.print(f"error: {_flat(str(problem))}")
            else:
                err_console.print(f"error: {describe_failure(exc)}")
            if _json_requested(kwargs) and not JsonPrinted.done:
                typer.echo(json.dumps(error_document(exc), indent=2, sort_keys=True))
            raise typer.Exit(code) from None

    return wrapper


def _passed_through() -> tuple[type[BaseException], ...]:
    """What :func:`catch_errors` lets through: typer's exits and usage errors, and click's (dbt runs
    on the click package; it can raise one only if something imported it)."""
    click = sys.modules.get("click")
    clicks: tuple[type[BaseException], ...] = (click.exceptions.ClickException,) if click is not None else ()
    return (typer.Exit, typer.Abort, typer.TyperException, *clicks)


def exit_code_of(exc: BaseException) -> int:
    """The exit code of a failure: the error's ``exit_code``; 1 for a full disk, a lost database or
    an unexpected error."""
    if (disk_full_from(exc) or _low_space(exc)) is not None or _lost_database(exc) is not None:
        return EXIT_FAILURE
    code = getattr(exc, "exit_code", EXIT_FAILURE) if isinstance(exc, LakehouseError) else EXIT_FAILURE
    return code if isinstance(code, int) else EXIT_FAILURE


def error_document(exc: BaseException) -> dict[str, Any]:
    """A failure as JSON: its one-line message, its type and exit code (and a config error's problems)."""
    disk = disk_full_from(exc) or _low_space(exc)
    lost = exc if isinstance(exc, DatabaseUnavailableError) else _lost_database(exc)
    kind = type(disk if disk is not None else lost if lost is not None else exc).__name__
    document: dict[str, Any] = {"error": describe_failure(exc), "type": kind, "exit_code": exit_code_of(exc)}
    if isinstance(exc, ConfigError):
        document["problems"] = [_flat(str(p)) for p in exc.problems]
    return document


def _json_requested(kwargs: Mapping[str, Any]) -> bool:
    """Whether the command was asked for JSON output (``--output json``; ``query``'s ``--format json`` too)."""
    for name in ("output", "fmt"):
        value = kwargs.get(name)
        if str(getattr(value, "value", value)) == "json":
            return True
    return False


def _print_traceback(exc: BaseException) -> None:
    if _Verbosity.tracebacks:
        err_console.print("".join(traceback.format_exception(exc)).rstrip())


def _flat(text: str) -> str:
    return " ".join(text.split())


def _lost_database(exc: BaseException) -> DatabaseUnavailableError | None:
    """A driver error outside the DAL that says the control plane is out of reach."""
    from lakehouse.db.engine import lost_connection_reason  # SQLAlchemy: only once something failed

    current: BaseException | None = exc
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        reason = lost_connection_reason(current)
        if reason is not None:
            return DatabaseUnavailableError(_database_url() or "LAKEHOUSE_DATABASE_URL", reason)
        current = current.__cause__ or current.__context__
    return None


def _low_space(exc: BaseException) -> DiskFullError | None:
    """A full disk as the likely cause of an unexpected or wrapped error that does not say so.

    A write cut short by a full disk often surfaces as something else (a truncated JSON file that
    does not parse, a DuckDB file that cannot be read): when the data root or the SQLite file is
    (almost) out of space at the time of the failure, that is what is reported.
    """
    wrapped = isinstance(exc, DataPlaneError | TransformError) and exc.__cause__ is not None
    if isinstance(exc, LakehouseError) and not wrapped:
        return None
    for path in _storage_paths():
        if low_on_space(path):
            return DiskFullError(str(path))
    return None


def _storage_paths() -> list[Path]:
    """The data root and the SQLite file's folder (those that exist), from the settings."""
    try:
        from sqlalchemy.engine import make_url

        from lakehouse.db.engine import sqlite_path
        from lakehouse.settings import get_settings

        settings = get_settings()
        paths = [Path(settings.data_root)]
        database = sqlite_path(make_url(settings.database_url))
    except Exception:  # the settings themselves may be what failed
        return []
    if database is not None:
        paths.append(database.parent)
    return [p for p in paths if p.exists()]


def _database_url() -> str | None:
    try:
        from lakehouse.db.engine import redact_url
        from lakehouse.settings import get_settings

        return redact_url(get_settings().database_url)
    except Exception:  # the settings themselves may be what failed
        return None


class OneLineUsageErrors(TyperGroup):
    """The root command group: a usage error (a bad option value, an unknown option) is one
    ``error: ...`` line on stderr and exit code 2, like every other failure, and a JSON document on
    stdout under ``-o json`` — not click's boxed panel."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, windows_expand_args, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        try:
            result = super().main(argv, prog_name, complete_var, False, windows_expand_args, **extra)
        except typer.Abort:
            err_console.print("error: aborted")
            sys.exit(EXIT_FAILURE)
        except typer.TyperException as exc:  # typer's (vendored click's) usage errors
            if (
                type(exc).__name__ == "NoArgsIsHelpError"
            ):  # `lakehouse db`: the group's help, as typer shows it
                return super().main(argv, prog_name, complete_var, True, windows_expand_args, **extra)
            format_message = getattr(exc, "format_message", None)
            message = _flat(format_message() if callable(format_message) else str(exc))
            code = getattr(exc, "exit_code", EXIT_USAGE)
            where = getattr(getattr(exc, "ctx", None), "command_path", None)
            hint = f" (see `{where} --help`)" if where else ""
            err_console.print(f"error: {message}{hint}", markup=False)
            if _json_in(argv):
                document = {"error": message + hint, "type": "UsageError", "exit_code": code}
                typer.echo(json.dumps(document, indent=2, sort_keys=True))
            sys.exit(code)
        sys.exit(result if isinstance(result, int) else 0)


def _json_in(argv: Sequence[str]) -> bool:
    """Whether the command line asks for JSON output (``-o json``, ``--output json``, ``--output=json``)."""
    for i, arg in enumerate(argv):
        if arg in ("-o", "--output", "-f", "--format") and i + 1 < len(argv) and argv[i + 1] == "json":
            return True
        if arg in ("--output=json", "--format=json", "-ojson"):
            return True
    return False
