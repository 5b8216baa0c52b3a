"""Whether a company's catalog is current, told cheaply: the start-up path of ``lakehouse query``.

``lakehouse query`` reads ``data/<company>/catalog.duckdb`` only if it shows what the control plane
has committed (:meth:`lakehouse.query.catalog_hook.AnalystCatalog.ensure` refreshes it otherwise).
Opening the control plane through the DAL imports SQLAlchemy's ORM and Alembic, several times what
the query itself costs. On the embedded SQLite control plane, :func:`current_catalog` makes the same
checks with the standard library's ``sqlite3``, read-only:

- the database is at the newest migration (read from the migration scripts, see
  :func:`lakehouse.db.schema_head.head_revision`);
- the company has a pipeline run, and at least one committed dataset version;
- the catalog's fingerprint (``lakehouse.catalog_info.reflects``) is that of the committed versions
  (:func:`lakehouse.dataplane.catalog_fingerprint.versions_fingerprint`, as the store computes it).

It answers with the catalog only when every check passes, and None whenever it cannot tell (another
backend, a URL it does not read, any SQLite error, a stale or missing catalog, an unknown company):
the command then goes the full way through the DAL, which reports the problem or refreshes the
catalog exactly as before. So this never lets a query read a catalog the full path would not read.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from lakehouse.dataplane.catalog_fingerprint import versions_fingerprint
from lakehouse.db.schema_head import head_revision

logger = logging.getLogger(__name__)

# How long a read waits for a writer's lock before giving up on the fast path.
_BUSY_TIMEOUT_S = 1.0


def current_catalog(database_url: str, catalog_path: Path, company: str) -> Path | None:
    """``catalog_path`` if it shows exactly what the control plane has committed for ``company``
    (and the company has data); None when that is not so or cannot be told without the DAL."""
    database = sqlite_file(database_url)
    if database is None or not database.is_file() or not catalog_path.is_file():
        return None
    head = head_revision()
    if head is None:
        return None
    try:
        committed = _committed(database, company, head)
    except sqlite3.Error as exc:
        logger.debug("control plane not read directly (%s): through the DAL", exc)
        return None
    if committed is None:
        return None
    from lakehouse.query.catalog import catalog_reflects

    if catalog_reflects(catalog_path) != versions_fingerprint(committed):
        return None
    return catalog_path


def sqlite_file(database_url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL (the default control plane); None for any other URL
    (another backend or driver, an in-memory database, query parameters)."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix) or "?" in database_url:
        return None
    path = database_url[len(prefix) :]
    if path in ("", ":memory:") or path.startswith("file:"):
        return None
    return Path(path)


def _committed(database: Path, company: str, head: str) -> list[tuple[str, str, str, str | None]] | None:
    """The committed versions of ``company`` (None: the database is not at ``head``, or the company
    has no pipeline run or no committed version)."""
    con = sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_S)
    try:
        con.execute("begin")  # one snapshot for every read
        revisions = [r for (r,) in con.execute("select version_num from alembic_version")]
        if revisions != [head]:
            return None
        if con.execute("select 1 from pipeline_runs where company = ? limit 1", [company]).fetchone() is None:
            return None
        rows = con.execute(
            "select zone, dataset_name, version_tag, checksum from dataset_versions"
            " where company = ? and status = 'committed'",
            [company],
        ).fetchall()
        return [(str(z), str(d), str(t), c) for z, d, t, c in rows] or None
    finally:
        con.close()
