"""Whether a control-plane database is at the newest migration, told without importing Alembic.

Every command opens the control plane through the DAL, which refuses a database that is not at the
newest migration. Asking Alembic costs its import (~0.3 s, most of a short command's start-up). The
migration scripts are one plain chain of ``revision``/``down_revision`` lines, so :func:`head_revision`
reads the head from them, and :func:`require_head` compares it with the ``alembic_version`` row;
whenever that cannot tell (scripts that are not a plain chain, no version table, another version)
Alembic decides, as before (:func:`lakehouse.db.migrate.require_head`). A test keeps the two heads equal.
The module imports neither SQLAlchemy nor Alembic at import time.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse import resources

if TYPE_CHECKING:
    from sqlalchemy import Engine

_REVISION = re.compile(r"^revision(?:\s*:\s*[^=]+)?\s*=\s*['\"]([^'\"]+)['\"]\s*$", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision(?:\s*:\s*[^=]+)?\s*=\s*(.+?)\s*$", re.MULTILINE)
_QUOTED = re.compile(r"^['\"]([^'\"]+)['\"]$")


@lru_cache(maxsize=8)
def _head_of(versions_dir: Path) -> str | None:
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in sorted(versions_dir.glob("*.py")):
        text = script.read_text(encoding="utf-8")
        revision = _REVISION.findall(text)
        down = _DOWN_REVISION.findall(text)
        if len(revision) != 1 or len(down) != 1:
            return None  # not a plain migration script: let Alembic decide
        revisions.add(revision[0])
        if down[0] != "None":
            parent = _QUOTED.match(down[0])
            if parent is None:
                return None  # a merge (a tuple of parents) or something else Alembic would read
            parents.add(parent.group(1))
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and parents <= revisions else None


def head_revision() -> str | None:
    """The newest migration of the shipped migration scripts, read from their ``revision`` and
    ``down_revision`` lines (what :func:`lakehouse.db.migrate.head_revision` asks Alembic for);
    None when they are not one plain chain."""
    folder = resources.find_resource("migrations")
    return None if folder is None else _head_of(folder / "versions")


def require_head(engine: Engine) -> None:
    """Raise MigrationRequiredError unless the database is at the newest revision."""
    # SQLAlchemy only here: `lakehouse query` reads head_revision() without it (query/freshness.py).
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    head = head_revision()
    if head is not None:
        try:
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT version_num FROM alembic_version")).fetchall()
        except DBAPIError:  # no version table, or the server is down: Alembic tells which
            rows = []
        if [r[0] for r in rows] == [head]:
            return
    from lakehouse.db import migrate

    migrate.require_head(engine)
