"""What one process may take of a shared PostgreSQL control plane: a bounded pool (a call that waits
too long for a connection fails naming the settings), a statement timeout (a statement past it is
cancelled by the server and reported as such), both from the ``LAKEHOUSE_DB_*`` settings."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from lakehouse.dal import DataAccessLayer
from lakehouse.db.engine import PoolLimits, make_engine
from lakehouse.errors import ConnectionPoolExhaustedError, StatementTimeoutError
from lakehouse.settings import Settings

pytestmark = pytest.mark.postgres


@pytest.fixture
def settings(pg_migrated_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("LAKEHOUSE_DB_POOL_SIZE", "1")
    monkeypatch.setenv("LAKEHOUSE_DB_MAX_OVERFLOW", "1")
    monkeypatch.setenv("LAKEHOUSE_DB_POOL_TIMEOUT", "0.5")
    monkeypatch.setenv("LAKEHOUSE_DB_STATEMENT_TIMEOUT", "0.25")
    return Settings(database_url=pg_migrated_url)


@pytest.fixture
def limited(settings: Settings) -> Iterator[DataAccessLayer]:
    dal = DataAccessLayer.from_settings(settings)
    yield dal
    dal.close()


def _statement_timeout(dal: DataAccessLayer) -> str:
    with dal._session() as session:
        return str(session.execute(text("SHOW statement_timeout")).scalar_one())


def test_the_settings_bound_the_pool_and_the_statements(limited: DataAccessLayer) -> None:
    pool = limited._engine.pool
    assert (pool.size(), pool._max_overflow, pool.timeout()) == (1, 1, 0.5)  # type: ignore[attr-defined]
    assert _statement_timeout(limited) == "250ms"


def test_the_defaults_are_bounded_too(pg_migrated_url: str) -> None:
    dal = DataAccessLayer.from_settings(Settings(database_url=pg_migrated_url))
    try:
        assert dal._engine.pool.size() == 5  # type: ignore[attr-defined]
        assert _statement_timeout(dal) == "5min"
    finally:
        dal.close()


def test_a_statement_past_the_timeout_is_cancelled_and_named(limited: DataAccessLayer) -> None:
    with pytest.raises(StatementTimeoutError, match="LAKEHOUSE_DB_STATEMENT_TIMEOUT") as caught:
        with limited._session() as session:
            session.execute(text("SELECT pg_sleep(5)"))
    assert "statement timeout" in caught.value.reason
    # The pool is fine afterwards: the next call runs (it would raise).
    limited.list_tasks()


def test_a_call_that_waits_past_the_pool_timeout_fails_naming_the_settings(limited: DataAccessLayer) -> None:
    hold, held = threading.Event(), threading.Barrier(3)

    def holder() -> None:
        with limited._session() as session:
            session.execute(text("SELECT 1"))
            held.wait()
            hold.wait(10)

    threads = [threading.Thread(target=holder) for _ in range(2)]  # size 1 + overflow 1
    for thread in threads:
        thread.start()
    try:
        held.wait()
        with pytest.raises(
            ConnectionPoolExhaustedError, match="all 2 connections .* busy for 0.5s"
        ) as caught:
            limited.list_tasks()
        assert "LAKEHOUSE_DB_POOL_SIZE" in str(caught.value) and "***" not in str(caught.value.url)
    finally:
        hold.set()
        for thread in threads:
            thread.join()
    limited.list_tasks()  # connections back in the pool: the call runs


def test_a_statement_timeout_in_the_url_is_kept(pg_migrated_url: str) -> None:
    separator = "&" if "?" in pg_migrated_url else "?"
    engine = make_engine(f"{pg_migrated_url}{separator}options=-c%20statement_timeout%3D1234", PoolLimits())
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "1234ms"
    finally:
        engine.dispose()


def test_migrations_and_admin_engines_have_no_statement_timeout(pg_migrated_url: str) -> None:
    engine = make_engine(pg_migrated_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "0"
    finally:
        engine.dispose()
