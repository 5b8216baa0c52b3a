"""SQLAlchemy engine and sessions for the control plane (SQLite or PostgreSQL)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from lakehouse.errors import (
    DatabaseUnavailableError,
    DiskFullError,
    LakehouseError,
    SettingsError,
    StatementTimeoutError,
    disk_full_from,
    low_on_space,
)

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 10
#: SQLSTATEs of a server that shuts down or crashed (class 08, connection exceptions, is added to them).
_SHUTDOWN_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
#: What psycopg/libpq and SQLite say when the database cannot be reached or the connection is gone.
_LOST_TEXTS = (
    "server closed the connection",
    "terminating connection",
    "connection refused",
    "could not connect",
    "connection failed",
    "connection is closed",
    "connection is lost",
    "connection not open",
    "connection already closed",
    "no connection to the server",
    "could not receive data from server",
    "could not send data to server",
    "connection timed out",
    "connection reset",
    "consuming input failed",
    "ssl syscall error",
    "the database system is shutting down",
    "the database system is starting up",
    "the database system is in recovery mode",
    "is not currently accepting connections",
    "unable to open database file",
)


#: What SQLite says when it cannot write (its journal, its file), e.g. on a full disk.
_SQLITE_IO_TEXTS = ("disk i/o error", "unable to open database file")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is off (it begins a transaction only before an
    # INSERT/UPDATE/DELETE, so a SAVEPOINT first in a transaction began one, and its RELEASE
    # committed it half-done); SQLAlchemy's "begin" emits the BEGIN instead (_sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # SQLite enforces foreign keys only when asked, on every connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE: the write lock is taken when the transaction starts (waiting up to busy_timeout),
    # so a transaction that reads and then writes never fails on another writer's commit
    # in between (SQLITE_BUSY_SNAPSHOT, which no timeout retries).
    conn.exec_driver_sql("BEGIN IMMEDIATE")


@dataclass(frozen=True)
class PoolLimits:
    """What one process may take of a shared PostgreSQL server (``LAKEHOUSE_DB_*`` settings).

    Attributes:
        size: connections kept open in the pool.
        overflow: connections opened beyond ``size`` at busy moments (closed when returned).
        wait_seconds: how long a call waits for a free connection before it fails.
        statement_timeout_seconds: the longest one statement may run (0: no limit).
    """

    size: int = 5
    overflow: int = 5
    wait_seconds: float = 30.0
    statement_timeout_seconds: float = 300.0

    @property
    def connections(self) -> int:
        """The most connections the pool opens at once."""
        return self.size + self.overflow


def _with_statement_timeout(options: str, seconds: float) -> str:
    """libpq ``options`` that also set ``statement_timeout`` (unless they set it already)."""
    if seconds <= 0 or "statement_timeout" in options:
        return options
    return f"{options} -c statement_timeout={round(seconds * 1000)}".strip()


def make_engine(url: str, limits: PoolLimits | None = None) -> Engine:
    """Create an engine for ``url``; for SQLite, create the file's folder and set the pragmas.

    On PostgreSQL, ``limits`` bound the pool and the statements of a command or worker; without them
    (migrations, ``lakehouse db``) the pool is SQLAlchemy's default and a statement may run as long
    as it needs (a data migration may take a while).

    Raises:
        SettingsError: the URL cannot be parsed or names an unsupported backend.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        shown = mask_password(url)
        raise SettingsError(
            f"LAKEHOUSE_DATABASE_URL {shown!r} is not a database URL "
            "(expected e.g. sqlite:///path/lakehouse.db or postgresql+psycopg://user@host:5432/db)"
        ) from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise SettingsError(
                f"use the psycopg 3 driver: write the URL as postgresql+psycopg://... (got {parsed.drivername})"
            )
        # A server that does not answer fails the command after this long instead of hanging it.
        connect_args: dict[str, Any] = (
            {} if "connect_timeout" in parsed.query else {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
        )
        if limits is None:
            return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
        given = parsed.query.get("options", "")
        options = _with_statement_timeout(
            given if isinstance(given, str) else " ".join(given), limits.statement_timeout_seconds
        )
        if options:
            connect_args["options"] = options
        return create_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=limits.size,
            max_overflow=limits.overflow,
            pool_timeout=limits.wait_seconds,
            connect_args=connect_args,
        )
    raise SettingsError(f"unsupported control-plane backend {backend!r}: use sqlite or postgresql+psycopg")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session in one transaction: commit on success, roll back on error."""
    with factory() as session, session.begin():
        yield session


_USERINFO = re.compile(r"(//[^:/@]*):[^@]*@")


def mask_password(text: str) -> str:
    """``text`` with the password of any ``//user:password@`` part replaced by ``***``."""
    return _USERINFO.sub(r"\1:***@", text)


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database (or another backend)."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if (
        database in ("", ":memory:")
        or database.startswith("file::memory:")
        or url.query.get("mode") == "memory"
    ):
        return None
    return Path(database)


def lost_connection_reason(exc: BaseException) -> str | None:
    """The driver's one-line reason when ``exc`` says the database is unreachable or the connection is lost.

    Recognised: SQLAlchemy's invalidated connections, ``OperationalError``/``InterfaceError`` (wrapped by
    SQLAlchemy or raised by psycopg itself) with SQLSTATE class 08 or a server shutdown (57P01-57P03),
    or with a message such as "server closed the connection unexpectedly", "terminating connection",
    "connection refused". Others (a busy SQLite database, a constraint violation) give None.
    """
    orig: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    if not (isinstance(exc, OperationalError | InterfaceError) or _is_driver_connection_error(orig)):
        return None
    reason = _first_line(orig)
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return reason
    sqlstate = str(getattr(orig, "sqlstate", None) or "")
    if sqlstate.startswith("08") or sqlstate in _SHUTDOWN_SQLSTATES:
        return reason
    text = str(orig).lower()
    return reason if any(marker in text for marker in _LOST_TEXTS) else None


def control_plane_error(exc: BaseException, engine: Engine, lost: bool = False) -> LakehouseError | None:
    """The lakehouse error a driver error stands for: a full disk, or a database out of reach; else None.

    Args:
        exc: the error a control-plane call raised.
        engine: the engine it ran on (its URL names the database in the message).
        lost: the database was reached before in this process, so this is a lost connection.
    """
    return _mapped(exc, engine.url, lost)


def unavailable_error(exc: BaseException, url: URL | str) -> LakehouseError:
    """What to raise for a driver error met while opening or migrating the database at ``url``: a
    full disk if that is the cause, else :class:`DatabaseUnavailableError` with the driver's reason."""
    parsed = make_url(url) if isinstance(url, str) else url
    mapped = _mapped(exc, parsed, lost=False)
    if mapped is not None:
        return mapped
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return DatabaseUnavailableError(
        redact_url(parsed.render_as_string(hide_password=False)), _first_line(orig)
    )


def _mapped(exc: BaseException, engine_url: URL, lost: bool) -> LakehouseError | None:
    if not isinstance(exc, DBAPIError) and not _is_driver_connection_error(exc):
        return None
    url = redact_url(engine_url.render_as_string(hide_password=False))
    path = sqlite_path(engine_url)
    if disk_full_from(exc) is not None:
        return DiskFullError(str(path) if path else f"the database server at {url}")
    if _statement_timed_out(exc):
        return StatementTimeoutError(
            url, _first_line(exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc)
        )
    reason = lost_connection_reason(exc)
    if path is not None and _sqlite_io_failure(exc) and low_on_space(path):
        # SQLite that cannot write its journal on a full disk says "disk I/O error" or "unable to
        # open database file", not "database or disk is full".
        return DiskFullError(str(path))
    if reason is None:
        return None
    return DatabaseUnavailableError(url, reason, lost)


def _statement_timed_out(exc: BaseException) -> bool:
    """PostgreSQL cancelled the statement for ``statement_timeout`` (SQLSTATE 57014 with that reason;
    the same state for a cancel by an operator is left as it is)."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return str(getattr(orig, "sqlstate", "") or "") == "57014" and "statement timeout" in str(orig)


def _sqlite_io_failure(exc: BaseException) -> bool:
    text = str(exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc).lower()
    return any(marker in text for marker in _SQLITE_IO_TEXTS)


def _is_driver_connection_error(exc: BaseException) -> bool:
    """A psycopg (or sqlite3) OperationalError/InterfaceError not wrapped by SQLAlchemy."""
    module = type(exc).__module__.split(".")[0]
    names = {t.__name__ for t in type(exc).__mro__}
    return module in ("psycopg", "sqlite3") and bool(names & {"OperationalError", "InterfaceError"})


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__


def redact_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return mask_password(url)
