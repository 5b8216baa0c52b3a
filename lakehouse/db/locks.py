"""Named exclusive locks that are released the moment their holder dies.

The lock lives with the holder's process, never in a row that must expire:

- PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection of its own, kept open
  while the lock is held. The server drops it when the session ends: the process exits or is killed
  (its socket closes), or its machine stops answering (TCP keepalives of about a minute).
- SQLite: ``flock`` on ``<database>.locks/<name>.lock`` beside the database file; the kernel drops it
  when the process ends. It works across machines where the file system supports it (NFS does).
- in-memory SQLite: a lock of this process (nothing else can reach that database).

Locks do not nest: a second acquisition of a held name fails, in the same process too.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import re
import threading
from pathlib import Path
from typing import NoReturn, Protocol

from sqlalchemy import Connection, Engine, create_engine, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from lakehouse.db.engine import CONNECT_TIMEOUT_SECONDS, control_plane_error, sqlite_path
from lakehouse.errors import ControlPlaneError, DiskFullError, LakehouseError

logger = logging.getLogger(__name__)

#: Server-side keepalives of a PostgreSQL lock session: a holder machine that vanished (no FIN) loses
#: its locks after about idle + interval * count seconds.
_PG_KEEPALIVES = {"tcp_keepalives_idle": "30", "tcp_keepalives_interval": "10", "tcp_keepalives_count": "3"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class NamedLock(Protocol):
    """An exclusive lock on one name; see :func:`named_lock`."""

    name: str

    def try_acquire(self) -> bool:
        """Take the lock if it is free; False at once if another holder has it."""

    def release(self) -> None:
        """Release the lock (a no-op if not held)."""

    def check(self) -> bool:
        """Whether the lock is still held (re-taking it if it was lost and nobody else took it)."""


def lock_key(name: str) -> int:
    """The stable signed 64-bit advisory-lock key of ``name``."""
    digest = hashlib.sha256(f"lakehouse-lock:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def lock_file_name(name: str) -> str:
    """A file name for lock ``name``: its safe characters, then a digest so names never collide."""
    safe = _UNSAFE.sub("_", name).strip("._")[:60] or "lock"
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}.lock"


class PostgresAdvisoryLock:
    """A session advisory lock held on a dedicated connection (see the module docstring)."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.name = name
        self.key = lock_key(name)
        url = engine.url
        connect_args: dict[str, object] = {"application_name": f"lakehouse lock {name}"[:63]}
        if "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        # No pool: closing the connection ends the session, and with it the lock.
        self._engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self._conn is not None:
            return False
        try:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except DBAPIError as exc:
            _reraise(exc, self._engine)
        try:
            for setting, value in _PG_KEEPALIVES.items():
                conn.execute(select(func.set_config(setting, value, False)))
            got = bool(conn.execute(select(func.pg_try_advisory_lock(self.key))).scalar())
        except DBAPIError as exc:
            conn.close()
            _reraise(exc, self._engine)
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(select(func.pg_advisory_unlock(self.key)))
        except DBAPIError as exc:  # the session is gone already, and the lock with it
            logger.debug("could not unlock %s: %s", self.name, exc)
        finally:
            conn.close()
            self._engine.dispose()

    def check(self) -> bool:
        conn = self._conn
        if conn is None:
            return False
        try:
            conn.execute(select(1))
            return True
        except DBAPIError:
            logger.warning("the database session holding lock %s ended; taking the lock again", self.name)
        self._conn = None
        try:
            conn.close()
        except DBAPIError:
            pass
        try:
            return self.try_acquire()
        except ControlPlaneError:
            return False


class FcntlFileLock:
    """``flock`` on a lock file; the kernel releases it when the process ends."""

    def __init__(self, path: Path, name: str) -> None:
        self.name = name
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise _file_error(exc, self.path) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError as exc:
            os.close(fd)
            raise _file_error(exc, self.path) from exc
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the last descriptor releases the flock

    def check(self) -> bool:
        return self._fd is not None


class ProcessLocalLock:
    """A lock of this process, for a database only this process can reach (in-memory SQLite)."""

    _registry: dict[tuple[str, str], threading.Lock] = {}
    _registry_lock = threading.Lock()

    def __init__(self, scope: str, name: str) -> None:
        self.name = name
        with self._registry_lock:
            self._lock = self._registry.setdefault((scope, name), threading.Lock())
        self._held = False

    def try_acquire(self) -> bool:
        if self._held:
            return False
        self._held = self._lock.acquire(blocking=False)
        return self._held

    def release(self) -> None:
        if self._held:
            self._held = False
            self._lock.release()

    def check(self) -> bool:
        return self._held


def named_lock(engine: Engine, name: str) -> NamedLock:
    """The lock ``name`` for the control plane behind ``engine`` (not yet acquired).

    Raises:
        ControlPlaneError: the backend has no lock of this kind.
    """
    backend = engine.url.get_backend_name()
    if backend == "postgresql":
        return PostgresAdvisoryLock(engine, name)
    if backend == "sqlite":
        path = sqlite_path(engine.url)
        if path is None:
            return ProcessLocalLock(engine.url.render_as_string(hide_password=True), name)
        return FcntlFileLock(path.with_name(path.name + ".locks") / lock_file_name(name), name)
    raise ControlPlaneError(f"no lock for control-plane backend {backend!r}")


def _reraise(exc: DBAPIError, engine: Engine) -> NoReturn:
    """Raise ``exc`` as the lakehouse error it stands for (a lost database, a full disk), or as it is."""
    mapped = control_plane_error(exc, engine)
    if mapped is None:
        raise exc
    raise mapped from exc


def _file_error(exc: OSError, path: Path) -> LakehouseError:
    if exc.errno == errno.ENOSPC:
        return DiskFullError(str(path))
    return ControlPlaneError(f"cannot use the lock file {path}: {exc.strerror or exc}")
