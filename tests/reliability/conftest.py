"""Fixtures of the reliability suite: generated extracts, reference digests, lakehouses cloned from a
built template on each backend, a throwaway PostgreSQL server, a tmpfs, and each test's tally.

Trials, the seed and the printed counts: :mod:`tests.reliability.plugin`.
The short run kills on SQLite only, loses PostgreSQL during a build only, and leaves out the cases
marked ``long_only`` (gc during a build, builds of two companies, a full disk during a build).
"""

from __future__ import annotations

import random
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from lakehouse.runtime import open_store
from tests.reliability.checks import Tally
from tests.reliability.harness import (
    BASE_DAYS,
    CHUNK_DAYS,
    COMPANY,
    OTHER_COMPANY,
    SCALE,
    Extract,
    Lakehouse,
    Snapshot,
    Template,
    build_template,
)
from tests.reliability.plugin import long_run, register_tally, seed_of, trials_setting
from tests.reliability.system import CapabilityMissing, ThrowawayPostgres, Tmpfs, in_ci


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Tally:
    counts = Tally(request.node.nodeid)
    register_tally(request.config, counts)
    return counts


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    # The same draws with or without xdist (which appends "@<group>" to the node id).
    nodeid = request.node.nodeid.split("@", 1)[0]
    return random.Random(f"{seed_of(request.config)}/{nodeid}")


@pytest.fixture(scope="session")
def trials() -> int:
    return trials_setting()


# --- generated extracts and the bronze reference --------------------------------------------------


def _generate(home: Path, company: str, days: int, seed: int) -> Extract:
    out = home / company
    scratch = Lakehouse(home / "scratch", home / "scratch" / "data", f"sqlite:///{home / 'scratch.db'}")
    scratch.ok(
        "generate",
        "--company",
        company,
        "--out",
        str(out),
        "--days",
        str(days),
        "--scale",
        SCALE,
        "--seed",
        str(seed),
    )
    names = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name[:1].isdigit())
    assert len(names) == days, names
    return Extract(out, company, names)


@pytest.fixture(scope="session")
def extracts(tmp_path_factory: pytest.TempPathFactory, trials: int) -> dict[str, Extract]:
    """acme with enough days for every trial (the first BASE_DAYS are in every template); beta."""
    home = tmp_path_factory.mktemp("extracts")
    acme_days = BASE_DAYS + CHUNK_DAYS * (trials + 1) + 6
    return {
        COMPANY: _generate(home, COMPANY, acme_days, seed=7),
        OTHER_COMPANY: _generate(home, OTHER_COMPANY, BASE_DAYS, seed=11),
    }


@pytest.fixture(scope="session")
def bronze_reference(tmp_path_factory: pytest.TempPathFactory, extracts: dict[str, Extract]) -> Snapshot:
    """Per-day content digests of acme's bronze after one uninterrupted ingest of every day."""
    home = tmp_path_factory.mktemp("bronze-reference")
    lh = Lakehouse(home, home / "data", f"sqlite:///{home / 'control.db'}")
    lh.ok("db", "upgrade")
    extract = extracts[COMPANY]
    lh.ok("ingest", "--company", COMPANY, *[str(extract.folder(d)) for d in extract.days])
    return lh.snapshot(("bronze",), content_only=True, by_dt=True)


# --- backends and templates -----------------------------------------------------------------------


def _admin_engine(server_url: str) -> Engine:
    # The maintenance database, not the session's test database (dropped before this suite's
    # session fixtures are torn down).
    return create_engine(make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def _pg_create(server_url: str, name: str, template: str | None = None) -> str:
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as conn:
            suffix = f' TEMPLATE "{template}"' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
    finally:
        engine.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _pg_drop(server_url: str, name: str) -> None:
    engine = _admin_engine(server_url)
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


class Templates:
    """One template per backend, built on first use and cloned by every test."""

    def __init__(self, home: Path, extracts: dict[str, Extract]) -> None:
        self.home = home
        self.extracts = extracts
        self._built: dict[str, Template] = {}
        self._pg_server: str | None = None
        self._pg_templates: list[str] = []

    def get(self, backend: str, pg_server_url: str | None) -> Template:
        if backend not in self._built:
            home = self.home / backend
            if backend == "sqlite":
                lh = Lakehouse(home, home / "data", f"sqlite:///{home / 'control.db'}")
                self._built[backend] = build_template(lh, backend, self.extracts)
            else:
                assert pg_server_url is not None
                self._pg_server = pg_server_url
                name = f"lakehouse_rel_tpl_{uuid.uuid4().hex[:10]}"
                url = _pg_create(pg_server_url, name)
                self._pg_templates.append(name)
                template = build_template(Lakehouse(home, home / "data", url), backend, self.extracts)
                template.pg_database = name
                self._built[backend] = template
        return self._built[backend]

    def clone(self, template: Template, home: Path, data_root: Path | None = None) -> Lakehouse:
        """A copy of ``template`` under ``home`` (its data root at ``data_root`` if given)."""
        data_root = data_root or home / "data"
        shutil.copytree(template.lakehouse.data_root, data_root, dirs_exist_ok=True)
        if template.backend == "sqlite":
            db = data_root / "_control" / "lakehouse.db"
            db.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(str(make_url(template.lakehouse.db_url).database), db)
            url = f"sqlite:///{db}"
        else:
            assert self._pg_server is not None and template.pg_database is not None
            url = _pg_create(self._pg_server, f"lakehouse_rel_{uuid.uuid4().hex[:12]}", template.pg_database)
        lh = Lakehouse(home, data_root, url)
        # The catalogs name the template's files by absolute path: point them at the copies.
        with open_store(lh.settings) as store:
            for company in (COMPANY, OTHER_COMPANY):
                store.refresh_catalog(company)
        return lh

    def drop(self, lh: Lakehouse) -> None:
        if lh.db_url.startswith("postgresql") and self._pg_server is not None:
            _pg_drop(self._pg_server, str(make_url(lh.db_url).database))

    def close(self) -> None:
        for name in self._pg_templates:
            assert self._pg_server is not None
            _pg_drop(self._pg_server, name)


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory, extracts: dict[str, Extract]) -> Iterator[Templates]:
    factory = Templates(tmp_path_factory.mktemp("templates"), extracts)
    yield factory
    factory.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The short run (``make test``) leaves out the cases marked ``long_only`` (they run in the long one)."""
    if long_run():
        return
    deselected = [item for item in items if item.get_closest_marker("long_only") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item.get_closest_marker("long_only") is None]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give ``control_backend`` its backends: both in the long run; in the short run, those the
    module names in ``SHORT_RUN_BACKENDS`` (default SQLite only), to keep ``make test`` short."""
    if "control_backend" not in metafunc.fixturenames:
        return
    names: tuple[str, ...] = ("sqlite", "postgres")
    if not long_run():
        names = getattr(metafunc.module, "SHORT_RUN_BACKENDS", ("sqlite",))
    metafunc.parametrize(
        "control_backend",
        [pytest.param(n, marks=pytest.mark.postgres) if n == "postgres" else n for n in names],
        scope="function",
    )


@pytest.fixture
def template(control_backend: str, templates: Templates, request: pytest.FixtureRequest) -> Template:
    server = request.getfixturevalue("pg_server_url") if control_backend == "postgres" else None
    return templates.get(control_backend, server)


@pytest.fixture
def lakehouse(template: Template, templates: Templates, tmp_path: Path) -> Iterator[Lakehouse]:
    """A fresh copy of the template: BASE_DAYS ingested, acme built once."""
    lh = templates.clone(template, tmp_path / "lakehouse")
    yield lh
    templates.drop(lh)


# --- machines to break ----------------------------------------------------------------------------


@pytest.fixture
def throwaway_pg() -> Iterator[ThrowawayPostgres]:
    """A PostgreSQL server of the test's own, to kill and restart (fails under CI=true if impossible)."""
    try:
        server = ThrowawayPostgres()
    except CapabilityMissing as exc:
        if in_ci():
            pytest.fail(f"{exc} (CI=true: the PostgreSQL-loss cases must not skip)")
        pytest.skip(str(exc))
    try:
        try:
            server.start()
        except CapabilityMissing as exc:
            if in_ci():
                pytest.fail(f"{exc} (CI=true: the PostgreSQL-loss cases must not skip)")
            pytest.skip(str(exc))
        yield server
    finally:
        server.close()


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Tmpfs]:
    """A 40 MB tmpfs (skips, with the reason, where the sandbox forbids mount, CI or not)."""
    try:
        disk = Tmpfs(tmp_path / "disk")
    except CapabilityMissing as exc:
        pytest.skip(str(exc))
    try:
        yield disk
    finally:
        disk.close()
