"""Time and memory limits of one analyst query, and DuckDB errors turned into one-line messages.

DuckDB 1.5 has no statement timeout: :class:`Deadline` runs a timer thread that calls
``con.interrupt()`` once the time is up, and the interrupt that follows is reported as
"query stopped after N s". The memory limit (and thread count) are DuckDB settings, applied by
:func:`apply_limits` before the sandbox locks the configuration. Defaults and documentation are in
:class:`~lakehouse.config.models.QueryConfig` (``query`` in ``config/global.json``).

DuckDB's internal errors carry a C++ stack trace of several kilobytes; :func:`query_error` keeps
their first line. Errors raised while a result streams come out of pyarrow as ``OSError`` with
DuckDB's message; they are classified by the message's prefix (``INTERRUPT Error``, ...). An
interrupt that the deadline did not cause is DuckDB stopping a query's other threads after one of them
failed: a streamed result sometimes reports that stop instead of the failure, and the message says so.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType

import duckdb

from lakehouse.config.models import QueryConfig
from lakehouse.errors import DataPlaneError, QueryError, QueryRefusedError

logger = logging.getLogger(__name__)

TIMEOUT_SOURCE = "query.timeout_seconds / --timeout"
MEMORY_SOURCE = "query.memory_limit / --memory-limit"
_STACK_TRACE_MARK = "Stack Trace:"
_INTERNAL_PREFIXES = ("INTERNAL Error", "FATAL Error")


class Deadline:
    """Interrupt the query running on ``con`` once ``seconds`` have passed (0 or less: never).

    Use it as a context manager around everything that runs or reads the query; leaving the block
    stops the timer, and an interrupt can no longer reach the connection afterwards.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._con = con
        self._lock = threading.Lock()
        self._finished = False
        self._timer: threading.Timer | None = None
        if seconds > 0:
            self._timer = threading.Timer(seconds, self._expire)
            self._timer.daemon = True

    def __enter__(self) -> Deadline:
        if self._timer is not None:
            self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            self._finished = True
        if self._timer is not None:
            self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.expired = True
            logger.info("query still running after %s s: interrupting it", _seconds(self.seconds))
            self._con.interrupt()


def apply_limits(con: duckdb.DuckDBPyConnection, limits: QueryConfig) -> None:
    """Set the memory limit and thread count of ``con`` (before its configuration is locked).

    Raises:
        QueryError: DuckDB refuses a value.
    """
    try:
        con.execute("set memory_limit = $limit", {"limit": limits.memory_limit.strip()})
        if limits.threads is not None:
            con.execute("set threads = $threads", {"threads": limits.threads})
    except duckdb.Error as exc:
        raise QueryError(f"invalid query limits ({MEMORY_SOURCE}): {first_line(exc)}") from exc


def query_error(exc: BaseException, deadline: Deadline, limits: QueryConfig) -> DataPlaneError:
    """Return the one-line error to raise for a DuckDB error of a running query.

    Args:
        exc: a ``duckdb.Error``, or the ``OSError``/``ArrowException`` pyarrow raises for a DuckDB
            error while a result streams.
        deadline: the query's deadline (was it the timer that interrupted the query?).
        limits: the query's limits, named in the message when one was hit.
    """
    message = error_message(exc)
    if isinstance(exc, duckdb.InterruptException) or message.startswith("INTERRUPT"):
        if deadline.expired:
            return QueryError(f"query stopped after {_seconds(deadline.seconds)} s ({TIMEOUT_SOURCE})")
        # Nobody interrupted the query: one of DuckDB's threads failed and DuckDB stopped the others,
        # and now and then (under load) a stream reports that stop instead of the thread's error.
        return QueryError(
            "query failed: DuckDB stopped it after an error in one of its threads but reported only "
            f"the stop (a DuckDB {duckdb.__version__} race): run the query again to see the error"
        )
    if isinstance(exc, duckdb.PermissionException) or message.startswith("Permission Error"):
        return QueryRefusedError(f"the query tried to reach outside this company's data folders: {message}")
    if isinstance(exc, duckdb.OutOfMemoryException) or message.startswith("Out of Memory Error"):
        return QueryError(
            f"query failed: {message}; it may use at most {limits.memory_limit} ({MEMORY_SOURCE})"
        )
    if isinstance(exc, duckdb.InternalException | duckdb.FatalException) or message.startswith(
        _INTERNAL_PREFIXES
    ):
        return QueryError(
            f"query failed: {message} (a DuckDB {duckdb.__version__} bug, not an error in the query; "
            "writing the query another way may avoid it)"
        )
    return QueryError(f"query failed: {message}")


def error_message(exc: BaseException) -> str:
    """Return DuckDB's message on one line: the first line of an internal error, never a stack trace."""
    text = str(exc)
    if isinstance(exc, duckdb.InternalException | duckdb.FatalException) or text.startswith(
        _INTERNAL_PREFIXES
    ):
        return first_line(exc)
    text = text.split(_STACK_TRACE_MARK, 1)[0]
    return " ".join(text.split())


def first_line(exc: BaseException) -> str:
    """Return the first non-blank line of the message of ``exc``."""
    return next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)


def _seconds(value: float) -> str:
    return f"{value:g}"
