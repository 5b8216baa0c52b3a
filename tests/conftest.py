"""Shared fixtures: one control-plane backend fixture runs every test on SQLite and on PostgreSQL.

PostgreSQL comes from ``LAKEHOUSE_TEST_PG_URL`` (any database on the server to test against) or the
local server at 127.0.0.1:5432 (user postgres). A fresh database is created for the test session and
dropped after it. Without a server the PostgreSQL tests skip, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from lakehouse.dal import DataAccessLayer
from lakehouse.db.migrate import upgrade
from lakehouse.db.models import Base

#: The reliability suite's trials, seed and counts (a plugin of the whole session: see its docstring).
pytest_plugins = [
    "tests.reliability.plugin",
    "tests.data_fixtures",
    "tests.cli_fixtures",
    "tests.http_receiver",
    "tests.s3_server",
    "tests.parse_cache",
]

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _server_url() -> str:
    return os.environ.get("LAKEHOUSE_TEST_PG_URL") or DEFAULT_PG_URL


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped afterwards)."""
    admin_url = make_url(_server_url())
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:
        admin.dispose()
        message = f"PostgreSQL is not reachable at {admin_url.render_as_string(hide_password=True)}: {exc}"
        if _in_ci():
            pytest.fail(message + " (CI=true: PostgreSQL tests must not skip)")
        pytest.skip(message)
    name = f"lakehouse_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_migrated_url(pg_server_url: str) -> str:
    upgrade(pg_server_url, "head")
    return pg_server_url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; each test gets a copy."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}", "head")
    return path


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} CASCADE"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A control-plane URL migrated to head with empty tables, on each backend."""
    if request.param == "sqlite":
        target = tmp_path / "control.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("pg_migrated_url")
    _truncate_all(url)
    return url


@pytest.fixture
def backend(db_url: str) -> str:
    return "postgresql" if db_url.startswith("postgresql") else "sqlite"


@pytest.fixture
def dal(db_url: str) -> Iterator[DataAccessLayer]:
    layer = DataAccessLayer.from_url(db_url)
    yield layer
    layer.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no tables at all) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server: str = request.getfixturevalue("pg_server_url")
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"lakehouse_mig_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
