"""Run Alembic migrations programmatically (the CLI's ``lakehouse db ...`` and the tests use this).

Migrations lose nothing: a downgrade followed by the upgrade gives back the same rows and values. A
downgrade that drops a column either lets the upgrade derive it again from what remains, or keeps its
values in a stash table (:func:`stash_columns`) that the upgrade restores and drops
(:func:`restore_columns`); a value that can be neither is refused with :class:`DowngradeRefusedError`.
Downgrading to base drops every table, so it is refused while any table holds rows unless the caller
passes ``drop_data`` (``lakehouse db downgrade base --drop-data``; plain Alembic: ``-x drop_data=true``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import TableClause

from lakehouse import resources
from lakehouse.db.engine import make_engine, unavailable_error
from lakehouse.errors import ControlPlaneError, MigrationRequiredError

VERSION_TABLE = "alembic_version"
#: Stash tables are named ``<prefix><revision>_<table>``; the first revision's downgrade drops them all.
STASH_PREFIX = "migration_stash_"


class DowngradeRefusedError(ControlPlaneError, CommandError):
    """A downgrade would lose data the older schema cannot hold; nothing was changed.

    It is also an Alembic ``CommandError``, so plain ``alembic downgrade`` reports it on one line too.
    """

    def __init__(self, revision: str, lost: str, next_step: str) -> None:
        self.revision = revision
        self.lost = lost
        self.next_step = next_step
        super().__init__(f"refusing to downgrade below revision {revision}: {lost}; {next_step}")


def migrations_dir() -> Path:
    """The migrations folder: the repository's ``migrations/``, or its copy inside an installed wheel."""
    return resources.migrations_dir()


def alembic_config(url: str) -> Config:
    """An Alembic config for ``url`` that uses the package's migrations (:func:`migrations_dir`).

    The repository's ``alembic.ini`` is only for the plain ``alembic`` command in a source checkout
    (``alembic -c alembic.ini revision --autogenerate``); nothing here reads it.
    """
    cfg = Config(stdout=io.StringIO())
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes["url"] = url
    return cfg


def head_revision() -> str:
    """The newest revision the code knows."""
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    if head is None:  # pragma: no cover - the repository always ships migrations
        raise ControlPlaneError(f"no migrations found in {migrations_dir()}")
    return head


def _run(url: str, action: str, revision: str, drop_data: bool = False) -> None:
    cfg = alembic_config(url)
    cfg.attributes["drop_data"] = drop_data
    try:
        if action == "upgrade":
            command.upgrade(cfg, revision)
        else:
            command.downgrade(cfg, revision)
    except OperationalError as exc:
        raise unavailable_error(exc, url) from exc
    except Exception as exc:
        if type(exc).__name__ in {"CommandError", "ResolutionError"}:
            raise ControlPlaneError(f"cannot {action} to {revision!r}: {exc}") from exc
        raise


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the control-plane schema at ``url`` to ``revision``."""
    _run(url, "upgrade", revision)


def downgrade(url: str, revision: str, drop_data: bool = False) -> None:
    """Downgrade the control-plane schema at ``url`` to ``revision``.

    Args:
        url: the control-plane database.
        revision: a revision id, a relative step such as ``-1``, or ``base`` (removes every table).
        drop_data: allow a downgrade to base to drop tables that hold rows.

    Raises:
        DowngradeRefusedError: the downgrade would lose data (before anything is changed).
        ControlPlaneError: ``revision`` is unknown or not below the current one.
    """
    if not drop_data:
        _refuse_base_with_data(url, revision)
    _run(url, "downgrade", revision, drop_data)


def _refuse_base_with_data(url: str, revision: str) -> None:
    """Refuse a downgrade that reaches base while a table holds rows, before any step runs.

    The first revision's downgrade refuses too, but on SQLite the steps above it would have been
    committed by then; checking first keeps a refused downgrade from changing anything.
    """
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            steps = _downgrade_steps(conn, revision)
            first = next((s.revision for s in steps if s.down_revision is None), None)
            if first is not None:
                refuse_dropping_data(conn, first)
    except OperationalError as exc:
        raise unavailable_error(exc, url) from exc
    finally:
        engine.dispose()


def _downgrade_steps(conn: Connection, revision: str) -> list[Script]:
    """The scripts whose downgrade a downgrade to ``revision`` runs (empty if it cannot be resolved)."""
    heads = MigrationContext.configure(conn).get_current_heads()
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    try:
        return list(script.iterate_revisions(heads, revision, select_for_downgrade=True))
    except Exception:  # an unknown target is reported by Alembic itself, in _run
        return []


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise unavailable_error(exc, engine.url) from exc


def require_head(engine: Engine) -> None:
    """Raise MigrationRequiredError unless the database is at the newest revision."""
    current = current_revision(engine)
    head = head_revision()
    if current != head:
        raise MigrationRequiredError(current, head, engine.url.render_as_string(hide_password=True))


def upgrade_url_to_head(url: str) -> None:
    """Upgrade ``url`` to head (convenience for the demo and tests)."""
    upgrade(url, "head")


# --- helpers for migration scripts (they run inside an Alembic migration context) ---------------


def tables_with_rows(conn: Connection) -> dict[str, int]:
    """The row count of every table that holds rows (the Alembic version table aside), by name."""
    counts: dict[str, int] = {}
    for name in sorted(sa.inspect(conn).get_table_names()):
        if name == VERSION_TABLE:
            continue
        count = conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()
        if count:
            counts[name] = int(count)
    return counts


def refuse_dropping_data(conn: Connection, first_revision: str) -> None:
    """Raise DowngradeRefusedError if a downgrade below ``first_revision`` (to base) would drop rows."""
    counts = tables_with_rows(conn)
    if counts:
        listed = ", ".join(
            f"{name} ({count} row{'' if count == 1 else 's'})" for name, count in counts.items()
        )
        raise DowngradeRefusedError(
            first_revision,
            f"downgrading to base drops every table, and {len(counts)} of them hold rows: {listed}",
            "pass --drop-data to drop them anyway (plain alembic: -x drop_data=true), "
            f"or downgrade no further than {first_revision}",
        )


def drop_data_allowed() -> bool:
    """Whether the running downgrade may drop tables that hold rows (``--drop-data``, ``-x drop_data=true``)."""
    if context.config.attributes.get("drop_data"):
        return True
    flag = str(context.get_x_argument(as_dictionary=True).get("drop_data", ""))
    return flag.lower() in {"1", "true", "yes"}


def stash_table_name(revision: str, table: str) -> str:
    """The stash table of the values ``revision``'s downgrade drops from ``table``."""
    return f"{STASH_PREFIX}{revision}_{table}"


def stash_columns(
    revision: str,
    table: TableClause,
    key: Sequence[str],
    columns: Sequence[str],
    where: ColumnElement[bool] | None = None,
) -> None:
    """Keep the values of ``columns`` of ``table`` (by primary ``key``) before a downgrade drops them.

    Call it in ``downgrade()`` before the columns are dropped; ``upgrade()`` calls
    :func:`restore_columns` with the same arguments. The copy is made by the database
    (``INSERT ... SELECT``), so every value, JSON ``null`` included, comes back exactly. A stash left
    by an earlier downgrade is replaced.

    Args:
        revision: the migration's revision id (it names the stash table).
        table: ``sa.table(name, sa.column(name, type), ...)`` naming at least ``key`` and ``columns``;
            the column types are those of the stash table.
        key: the primary-key columns.
        columns: the columns to keep.
        where: keep only these rows (those the upgrade cannot derive); default every row.
    """
    name = stash_table_name(revision, table.name)
    if sa.inspect(op.get_bind()).has_table(name):
        op.drop_table(name)
    stash = op.create_table(
        name,
        *(sa.Column(k, table.c[k].type, primary_key=True) for k in key),
        *(sa.Column(c, table.c[c].type, nullable=True) for c in columns),
    )
    names = [*key, *columns]
    query = sa.select(*(table.c[n] for n in names))
    if where is not None:
        query = query.where(where)
    op.execute(sa.insert(stash).from_select(names, query))


def restore_columns(revision: str, table: TableClause, key: Sequence[str], columns: Sequence[str]) -> None:
    """Put back the values :func:`stash_columns` kept for ``table``, then drop the stash table.

    Call it in ``upgrade()`` once the columns exist again and every row has been filled in (or its
    values derived): stashed rows get their stashed values back, rows written since the downgrade keep
    the filled-in ones. Without a stash table (the downgrade never ran) it does nothing.
    """
    name = stash_table_name(revision, table.name)
    if not sa.inspect(op.get_bind()).has_table(name):
        return
    stash = sa.table(name, *(sa.column(n) for n in (*key, *columns))).alias("stash")
    match = sa.and_(*(stash.c[k] == table.c[k] for k in key))
    values = {c: sa.select(stash.c[c]).where(match).scalar_subquery() for c in columns}
    op.execute(sa.update(table).where(sa.exists().where(match)).values(values))
    op.drop_table(name)


def stash_rows(revision: str, table: TableClause, key: Sequence[str]) -> None:
    """Keep every row of ``table`` before a downgrade drops the whole table (see :func:`restore_rows`).

    ``table`` names every column of the table, with its type.
    """
    stash_columns(revision, table, key, [c.name for c in table.c if c.name not in key])


def restore_rows(revision: str, table: TableClause) -> bool:
    """Insert back the rows :func:`stash_rows` kept into the table the upgrade created, drop the stash.

    Returns:
        True if rows were restored; False without a stash table (derive the rows instead).
    """
    name = stash_table_name(revision, table.name)
    if not sa.inspect(op.get_bind()).has_table(name):
        return False
    names = [c.name for c in table.c]
    stash = sa.table(name, *(sa.column(n) for n in names))
    op.execute(sa.insert(table).from_select(names, sa.select(*(stash.c[n] for n in names))))
    op.drop_table(name)
    return True


def drop_stash_tables() -> None:
    """Drop every stash table (the first revision's downgrade, which removes all tables, calls it)."""
    for name in sa.inspect(op.get_bind()).get_table_names():
        if name.startswith(STASH_PREFIX):
            op.drop_table(name)


__all__ = [
    "DowngradeRefusedError",
    "alembic_config",
    "current_revision",
    "downgrade",
    "drop_data_allowed",
    "drop_stash_tables",
    "head_revision",
    "make_engine",
    "migrations_dir",
    "refuse_dropping_data",
    "require_head",
    "restore_columns",
    "restore_rows",
    "stash_columns",
    "stash_rows",
    "tables_with_rows",
    "upgrade",
    "upgrade_url_to_head",
]
