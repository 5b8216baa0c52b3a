"""Fixtures of the reliability suite: generated extracts, reference digests, lakehouses cloned from a
built template on each backend and storage, a throwaway PostgreSQL server, a tmpfs, and each test's tally.

A case that takes ``template``/``lakehouse`` runs on the variants ``sqlite`` and ``postgres`` (a local
data root); a case marked ``also_on_object_storage`` also on ``postgres-s3``: the data root in a bucket of the
tests' S3 server (:mod:`tests.s3_server`), PostgreSQL as the control plane, its own state dir.

Trials, the seed and the printed counts: :mod:`tests.reliability.plugin`.
The short run kills on SQLite and on S3 (with PostgreSQL) only, loses PostgreSQL during a build only,
and leaves out the cases marked ``long_only`` (gc during a build, builds of two companies, a full disk
during a build, a worker riding out a PostgreSQL restart).
"""

from __future__ import annotations

import random
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from lakehouse.dataplane.s3 import S3Access
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
    copy_s3_root,
    remove_bucket,
)
from tests.reliability.plugin import long_run, register_tally, seed_of, trials_setting
from tests.reliability.system import CapabilityMissing, ThrowawayPostgres, Tmpfs, in_ci
from tests.s3_server import TEST_KEY_ID, TEST_SECRET

#: (control backend, storage) of each variant a case runs on, by the name it has in test ids.
VARIANTS: dict[str, tuple[str, str]] = {
    "sqlite": ("sqlite", "local"),
    "postgres": ("postgres", "local"),
    "postgres-s3": ("postgres", "s3"),
}
#: The prefix of an S3 lakehouse's data root in its bucket.
S3_PREFIX = "lake"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "also_on_object_storage(short_run=False): a reliability case that also runs on an S3 data root with "
        "PostgreSQL (variant postgres-s3): in the long run, and in the short run with short_run=True",
    )


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
    scratch = Lakehouse(home / "scratch", home / "scratch" / "data", f"sqlite:///{home / 'scratch.db'}")
    return Extract.generate(scratch, home / company, company, days, SCALE, seed)


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
    """One template per variant, built on first use and cloned by every test."""

    def __init__(self, home: Path, extracts: dict[str, Extract]) -> None:
        self.home = home
        self.extracts = extracts
        self._built: dict[tuple[str, str], Template] = {}
        self._pg_server: str | None = None
        self._pg_templates: list[str] = []

    def get(
        self,
        backend: str,
        pg_server_url: str | None,
        storage: str = "local",
        aws_env: dict[str, str] | None = None,
    ) -> Template:
        """The template of ``backend`` on ``storage`` (``s3`` needs the AWS variables ``aws_env``)."""
        if (backend, storage) not in self._built:
            home = self.home / (backend if storage == "local" else f"{backend}-{storage}")
            if backend == "sqlite":
                assert storage == "local", "an s3:// data root needs the PostgreSQL control plane"
                lh = Lakehouse(home, home / "data", f"sqlite:///{home / 'control.db'}")
                self._built[(backend, storage)] = build_template(lh, backend, self.extracts)
            else:
                assert pg_server_url is not None
                self._pg_server = pg_server_url
                name = f"lakehouse_rel_tpl_{uuid.uuid4().hex[:10]}"
                url = _pg_create(pg_server_url, name)
                self._pg_templates.append(name)
                if storage == "s3":
                    assert aws_env is not None
                    bucket = self._new_bucket(aws_env)
                    env = aws_env | {"LAKEHOUSE_STATE_DIR": str(home / "state")}
                    lh = Lakehouse(home, f"s3://{bucket}/{S3_PREFIX}", url, extra_env=env)
                else:
                    lh = Lakehouse(home, home / "data", url)
                # The S3 variant runs the cases about acme alone (kill -9, gc): no beta to ingest.
                companies = (COMPANY,) if storage == "s3" else (COMPANY, OTHER_COMPANY)
                template = build_template(lh, backend, self.extracts, companies)
                template.pg_database = name
                self._built[(backend, storage)] = template
        return self._built[(backend, storage)]

    @staticmethod
    def _new_bucket(aws_env: dict[str, str]) -> str:
        bucket = f"lakehouse-rel-{uuid.uuid4().hex[:12]}"
        S3Access.from_env(aws_env).boto3_client().create_bucket(Bucket=bucket)
        return bucket

    def clone(self, template: Template, home: Path, data_root: Path | None = None) -> Lakehouse:
        """A copy of ``template`` under ``home`` (a local data root at ``data_root`` if given; an S3
        template's copy is in a bucket of its own, with its state dir under ``home``)."""
        started, source = time.monotonic(), template.lakehouse
        if template.storage == "s3":
            assert data_root is None, "an S3 template is copied to a bucket, not a folder"
            bucket = self._new_bucket(source.extra_env)
            target = f"s3://{bucket}/{S3_PREFIX}"
            copied = copy_s3_root(source.s3_access(), str(source.data_root), target)
            what = f"{copied} objects copied in {time.monotonic() - started:.2f}s"
            # The state dir's dbt partial-parse file (a local root's copy has it too); the catalogs
            # are rebuilt below.
            state = home / "state"
            assert source.state_dir is not None
            shutil.copytree(source.state_dir, state, ignore=shutil.ignore_patterns("_scratch", "*.duckdb*"))
            env = source.extra_env | {"LAKEHOUSE_STATE_DIR": str(state)}
            lh = Lakehouse(home, target, self._pg_clone(template), extra_env=env)
        else:
            data_root = data_root or home / "data"
            shutil.copytree(Path(source.data_root), data_root, dirs_exist_ok=True)
            if template.backend == "sqlite":
                db = data_root / "_control" / "lakehouse.db"
                db.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(str(make_url(source.db_url).database), db)
                url = f"sqlite:///{db}"
            else:
                url = self._pg_clone(template)
            lh = Lakehouse(home, data_root, url)
            what = "a folder"
        # The catalogs name the template's files by absolute path or s3:// URL: point them at the copies.
        refresh = time.monotonic()
        with lh.store() as store:
            for company in template.companies:
                store.refresh_catalog(company)
        lh.note(
            f"{time.monotonic() - started:7.2f}s (in this process) the copy of the {template.variant} template "
            f"({what}; catalogs refreshed in {time.monotonic() - refresh:.2f}s)"
        )
        return lh

    def _pg_clone(self, template: Template) -> str:
        """A new database made from the template's (``CREATE DATABASE ... TEMPLATE``)."""
        assert self._pg_server is not None and template.pg_database is not None
        return _pg_create(self._pg_server, f"lakehouse_rel_{uuid.uuid4().hex[:12]}", template.pg_database)

    def drop(self, lh: Lakehouse) -> None:
        if lh.db_url.startswith("postgresql") and self._pg_server is not None:
            _pg_drop(self._pg_server, str(make_url(lh.db_url).database))
        if lh.on_s3:  # the server keeps every object in memory: free the copy's
            bucket = str(lh.data_root).removeprefix("s3://").split("/", 1)[0]
            remove_bucket(lh.s3_access(), bucket)

    def close(self) -> None:
        for name in self._pg_templates:
            assert self._pg_server is not None
            _pg_drop(self._pg_server, name)
        # The templates' buckets go with the S3 server of the session (it may be stopped already).


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


def _variants(metafunc: pytest.Metafunc) -> tuple[str, ...]:
    """The variants of a case: sqlite and postgres in the long run, those the module names in
    ``SHORT_RUN_BACKENDS`` (default SQLite only) in the short one, to keep ``make test`` short; and
    postgres-s3 for a case marked ``also_on_object_storage`` (in the short run only with ``short_run=True``)."""
    names: tuple[str, ...] = ("sqlite", "postgres")
    if not long_run():
        names = tuple(getattr(metafunc.module, "SHORT_RUN_BACKENDS", ("sqlite",)))
    on_s3 = metafunc.definition.get_closest_marker("also_on_object_storage")
    if on_s3 is not None and (long_run() or on_s3.kwargs.get("short_run", False)):
        names += ("postgres-s3",)
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Give ``control_backend`` (and ``storage``, where a fixture takes it) their variants (:func:`_variants`)."""
    if "control_backend" not in metafunc.fixturenames:
        return
    params = []
    for name in _variants(metafunc):
        backend, storage = VARIANTS[name]
        marks = [pytest.mark.postgres] if backend == "postgres" else []
        marks += [pytest.mark.s3] if storage == "s3" else []
        values = (backend, storage) if "storage" in metafunc.fixturenames else (backend,)
        params.append(pytest.param(*values, marks=marks, id=name))
    argnames = ["control_backend", "storage"] if "storage" in metafunc.fixturenames else ["control_backend"]
    metafunc.parametrize(argnames, params, scope="function")


@pytest.fixture(scope="session")
def s3_aws_env(s3_endpoint: str) -> dict[str, str]:
    """The AWS variables of the suite's S3 server, for the S3 templates and their copies (given to
    the commands through ``Lakehouse.extra_env``: this process's environment is left alone)."""
    return {
        "AWS_ACCESS_KEY_ID": TEST_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }


@pytest.fixture
def storage() -> str:
    """Where the data root is (``local`` or ``s3``); parametrized with ``control_backend``."""
    return "local"


@pytest.fixture
def template(
    control_backend: str, storage: str, templates: Templates, request: pytest.FixtureRequest
) -> Template:
    server = request.getfixturevalue("pg_server_url") if control_backend == "postgres" else None
    aws_env = request.getfixturevalue("s3_aws_env") if storage == "s3" else None
    return templates.get(control_backend, server, storage, aws_env)


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
