"""Dialect-specific ``INSERT ... ON CONFLICT`` (PostgreSQL and SQLite both support it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CursorResult, Result, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lakehouse.errors import ControlPlaneError


def dialect_insert(session: Session, table: Table) -> Any:
    """An ``insert(table)`` of the session's dialect, which has ``on_conflict_do_*``."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise ControlPlaneError(f"unsupported dialect {name!r}")  # pragma: no cover


def rowcount(result: Result[Any]) -> int:
    """Rows matched by an INSERT/UPDATE/DELETE result."""
    if not isinstance(result, CursorResult):  # pragma: no cover - DML always returns a cursor result
        raise ControlPlaneError("statement returned no row count")
    return int(result.rowcount)
