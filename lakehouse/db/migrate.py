"""Run Alembic migrations programmatically (the CLI's ``lakehouse db ...`` and the tests use this)."""

from __future__ import annotations

import io
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from lakehouse.db.engine import make_engine, redact_url
from lakehouse.errors import ControlPlaneError, DatabaseUnavailableError, MigrationRequiredError

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config for ``url`` that uses the repository's ``migrations/`` folder."""
    cfg = Config(stdout=io.StringIO())
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["url"] = url
    return cfg


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:  # pragma: no cover - the repository always ships migrations
        raise ControlPlaneError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def _run(url: str, action: str, revision: str) -> None:
    cfg = alembic_config(url)
    try:
        if action == "upgrade":
            command.upgrade(cfg, revision)
        else:
            command.downgrade(cfg, revision)
    except OperationalError as exc:
        raise DatabaseUnavailableError(redact_url(url), str(exc.orig).strip().splitlines()[0]) from exc
    except Exception as exc:
        if type(exc).__name__ in {"CommandError", "ResolutionError"}:
            raise ControlPlaneError(f"cannot {action} to {revision!r}: {exc}") from exc
        raise


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the control-plane schema at ``url`` to ``revision``."""
    _run(url, "upgrade", revision)


def downgrade(url: str, revision: str) -> None:
    """Downgrade the control-plane schema at ``url`` to ``revision`` (``base`` removes every table)."""
    _run(url, "downgrade", revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise DatabaseUnavailableError(
            redact_url(engine.url.render_as_string(hide_password=True)), str(exc.orig).strip().splitlines()[0]
        ) from exc


def require_head(engine: Engine) -> None:
    """Raise MigrationRequiredError unless the database is at the newest revision."""
    current = current_revision(engine)
    head = head_revision()
    if current != head:
        raise MigrationRequiredError(current, head, engine.url.render_as_string(hide_password=True))


def upgrade_url_to_head(url: str) -> None:
    """Upgrade ``url`` to head (convenience for the demo and tests)."""
    upgrade(url, "head")


__all__ = [
    "alembic_config",
    "current_revision",
    "downgrade",
    "head_revision",
    "make_engine",
    "require_head",
    "upgrade",
    "upgrade_url_to_head",
]
