"""SQLAlchemy engine and sessions for the control plane (SQLite or PostgreSQL)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from lakehouse.errors import SettingsError

logger = logging.getLogger(__name__)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite enforces foreign keys only when asked, on every connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``; for SQLite, create the file's folder and set the pragmas.

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
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise SettingsError(
                f"use the psycopg 3 driver: write the URL as postgresql+psycopg://... (got {parsed.drivername})"
            )
        return create_engine(parsed, pool_pre_ping=True)
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


def redact_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return mask_password(url)
