"""The reliability suite's harness: the real ``lakehouse`` CLI in subprocesses, crashes, digests.

Every command a test drives runs as a user would run it: ``lakehouse ...`` in a fresh process with
``LAKEHOUSE_DATA_ROOT``, ``LAKEHOUSE_DATABASE_URL``, ``LAKEHOUSE_CONFIG_DIR`` and
``LAKEHOUSE_DBT_PROJECT_DIR`` pointing at a test's own folders and database. A crash is a SIGKILL of
the command's whole process group. Reads that only check the outcome (digests, version lists) run in
the test process, on the same data root and control plane: they change nothing.

A lakehouse's data root is a local folder or an ``s3://bucket/prefix`` (then the control plane is
PostgreSQL, the AWS variables of the environment reach every command, and ``LAKEHOUSE_STATE_DIR``, the
worker's local folder holding the catalog and the scratch files, is one of the lakehouse's own).

Every build runs with ``--full-refresh``: the trials rebuild the same bronze input, which a plain build
would (rightly) skip as unchanged, and the suite is about what a real build does when it is killed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane import duck
from lakehouse.dataplane.s3 import S3Access, enable_s3, split_s3_uri
from lakehouse.dataplane.schemas import RAW_SCHEMAS
from lakehouse.dataplane.store import DatasetStore, current_of
from lakehouse.dataplane.zones import CATALOG_FILE_NAME, DataRoot
from lakehouse.db.records import DatasetVersionRecord, PipelineRunRecord
from lakehouse.runtime import dataset_store, open_store
from lakehouse.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPANY = "acme"
OTHER_COMPANY = "beta"
#: Columns that name the ingest run rather than the data: content digests leave them out, so two
#: ingests of the same files (in one run or in several) digest the same.
RUN_COLUMNS = ("_ingest_run_id", "_ingested_at")
RAW_DATASETS = tuple(sorted(RAW_SCHEMAS))
#: Days every lakehouse starts with (ingested and built in the template).
BASE_DAYS = 10
#: Days one crash-trial ingest takes in.
CHUNK_DAYS = 2
SCALE = "0.5"
#: The longest any single command may take before the harness calls it hung.
COMMAND_TIMEOUT = 600.0

#: ``"zone.dataset"`` -> (row count, sum of the row hashes).
Digests = dict[str, tuple[int, int]]


def cli_argv(args: Sequence[str]) -> list[str]:
    """The argv that runs ``lakehouse ARGS`` with this interpreter's installation."""
    script = Path(sys.executable).with_name("lakehouse")
    if script.is_file():
        return [str(script), *args]
    return [sys.executable, "-m", "lakehouse.cli.main", *args]


def _tail(text: str, lines: int = 6, width: int = 600) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    joined = " | ".join(kept)
    return joined if len(joined) <= width else "..." + joined[-width:]


@dataclass(frozen=True)
class CliResult:
    """How one ``lakehouse`` command ended."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    #: Killed by the harness (a crash it injected, or a command that hung past its timeout).
    killed: bool = False
    #: Wall-clock start and end (``time.time()``), to order commands against recorded run times.
    started_at: float = 0.0
    ended_at: float = 0.0

    @property
    def command(self) -> str:
        return "lakehouse " + " ".join(self.args)

    def json(self) -> Any:
        return json.loads(self.stdout)

    def describe(self) -> str:
        return (
            f"`{self.command}` exited {self.returncode} after {self.seconds:.1f}s; "
            f"stderr: {_tail(self.stderr) or '(empty)'}; stdout: {_tail(self.stdout) or '(empty)'}"
        )

    def error_problem(self) -> str | None:
        """What is wrong with how this command failed, or None for one clear line and exit code 1, 3 or 4.

        A clear failure prints exactly one ``error: ...`` line on stderr, as its last line, and no
        traceback; log warnings before it are allowed.
        """
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if line.startswith("error:")]
        if self.returncode not in (1, 3, 4):  # failure, lock busy, data refused
            return f"exit code {self.returncode}, not 1, 3 or 4"
        if "Traceback (most recent call last)" in self.stderr:
            return f"a traceback on stderr: {_tail(self.stderr)}"
        if len(errors) != 1:
            return f"{len(errors)} 'error:' line(s) on stderr, not one: {_tail(self.stderr)}"
        if lines[-1] != errors[0]:
            return f"output after the error line: {_tail(self.stderr)}"
        return None


class Running:
    """A ``lakehouse`` command started in its own process group (so one signal reaches all of it)."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], cwd: Path, log_dir: Path) -> None:
        self.args = tuple(args)
        log_dir.mkdir(parents=True, exist_ok=True)
        stamp = f"{time.time_ns()}"
        self._out_path = log_dir / f"{stamp}.out"
        self._err_path = log_dir / f"{stamp}.err"
        self.started = time.monotonic()
        self.started_at = time.time()
        with open(self._out_path, "wb") as out, open(self._err_path, "wb") as err:
            self.proc = subprocess.Popen(
                cli_argv(self.args),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        self.ended: float | None = None
        self.killed = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> bool:
        """SIGKILL the whole process group; True if the command was still running (a crash)."""
        alive = self.proc.poll() is None
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self.ended = self.ended or time.monotonic()
        self.killed = self.killed or alive
        return alive

    def kill_after(self, delay: float) -> bool:
        """Let the command run ``delay`` seconds, then SIGKILL it; True if it was still running."""
        try:
            self.proc.wait(timeout=max(delay, 0.0))
        except subprocess.TimeoutExpired:
            pass
        else:
            self.ended = time.monotonic()
        return self.kill()

    def wait(self, timeout: float = COMMAND_TIMEOUT) -> CliResult:
        """Wait for the command to end (killing it after ``timeout``) and return how it ended."""
        try:
            self.proc.wait(timeout=timeout)
            self.ended = self.ended or time.monotonic()
        except subprocess.TimeoutExpired:
            self.kill()
        return self.result()

    def stderr_so_far(self) -> str:
        """What the command has written to stderr up to now (it may still be running)."""
        return self._err_path.read_text(errors="replace")

    def result(self) -> CliResult:
        assert self.proc.returncode is not None, "the command is still running"
        ended = self.ended or time.monotonic()
        return CliResult(
            self.args,
            self.proc.returncode,
            self._out_path.read_text(errors="replace"),
            self._err_path.read_text(errors="replace"),
            ended - self.started,
            self.killed,
            self.started_at,
            self.started_at + (ended - self.started),
        )


@dataclass(frozen=True)
class Snapshot:
    """Digests of what a company's readers see: through the catalog (analysts, ``lakehouse query``)
    and through the control plane's current versions (``lakehouse.read_dataset``, services)."""

    catalog: Digests
    store: Digests

    def diff(self, other: Snapshot) -> list[str]:
        """Where ``self`` differs from ``other`` (empty when identical)."""
        problems = []
        for where, mine, theirs in (
            ("catalog", self.catalog, other.catalog),
            ("read_dataset", self.store, other.store),
        ):
            for name in sorted(set(mine) | set(theirs)):
                if mine.get(name) != theirs.get(name):
                    problems.append(f"{where} {name}: {_show(mine.get(name))} != {_show(theirs.get(name))}")
        return problems


def _show(digest: tuple[int, int] | None) -> str:
    return "missing" if digest is None else f"{digest[0]} rows/{digest[1] % 10**8:08d}"


def add_digests(parts: Iterable[Mapping[str, tuple[int, int]]]) -> Digests:
    """Sum digests dataset by dataset (row hashes add up, so a union of rows digests as a sum)."""
    total: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for part in parts:
        for name, (rows, hashes) in part.items():
            total[name][0] += rows
            total[name][1] += hashes
    return {name: (rows, hashes) for name, (rows, hashes) in sorted(total.items())}


def _relation_sql(relation: str, content_only: bool) -> str:
    if not content_only:
        return f"{relation} t"
    names = ", ".join(f"'{c}'" for c in RUN_COLUMNS)
    return f"(select columns(lambda c: c not in ({names})) from {relation}) t"


def digest_sql(relation: str, content_only: bool, by_dt: bool = False) -> str:
    """``count(*)`` and ``sum(hash(t))`` over a relation (by ``dt`` if asked)."""
    source = _relation_sql(relation, content_only)
    if by_dt:
        return (
            f"select t.dt::varchar, count(*), coalesce(sum(hash(t)), 0)::varchar from {source} "
            "group by 1 order by 1"
        )
    return f"select count(*), coalesce(sum(hash(t)), 0)::varchar from {source}"


def _digest_relation(
    con: duckdb.DuckDBPyConnection, relation: str, name: str, content_only: bool, by_dt: bool
) -> Digests:
    if by_dt:
        rows = con.execute(digest_sql(relation, content_only, by_dt=True)).fetchall()
        return {f"{name}@{dt}": (int(n), int(h)) for dt, n, h in rows}
    row = con.execute(digest_sql(relation, content_only)).fetchone()
    assert row is not None
    return {name: (int(row[0]), int(row[1]))}


@dataclass
class Lakehouse:
    """One data root (a folder, or ``s3://bucket/prefix``) and control plane, driven through the CLI."""

    home: Path
    data_root: Path | str
    db_url: str
    #: Extra environment of every command (e.g. a dbt project copy, the AWS variables of a bucket).
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def on_s3(self) -> bool:
        """Whether the data root is in a bucket (``s3://``)."""
        return str(self.data_root).startswith("s3://")

    @property
    def state_dir(self) -> Path | None:
        """With an ``s3://`` root, every command's local folder (catalog, scratch): the
        ``LAKEHOUSE_STATE_DIR`` of ``extra_env``, else ``home/state``. None on a local root."""
        if not self.on_s3:
            return None
        given = self.extra_env.get("LAKEHOUSE_STATE_DIR")
        return Path(given) if given else self.home / "state"

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEHOUSE_", "DBT_"))}
        env.update(
            {
                "LAKEHOUSE_DATA_ROOT": str(self.data_root),
                "LAKEHOUSE_DATABASE_URL": self.db_url,
                "LAKEHOUSE_CONFIG_DIR": str(REPO / "config"),
                "LAKEHOUSE_DBT_PROJECT_DIR": str(REPO / "dbt_project"),
                "LAKEHOUSE_QUERIES_DIR": str(REPO / "queries"),
                "LAKEHOUSE_LOG_LEVEL": "WARNING",
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "NO_COLOR": "1",
                "COLUMNS": "200",
            }
        )
        state = self.state_dir
        if state is not None:
            env["LAKEHOUSE_STATE_DIR"] = str(state)
        env.update(self.extra_env)
        return env

    @property
    def settings(self) -> Settings:
        return Settings(
            data_root=str(self.data_root) if self.on_s3 else self.data_root,
            state_dir=self.state_dir,
            database_url=self.db_url,
            config_dir=REPO / "config",
            dbt_project_dir=REPO / "dbt_project",
            queries_dir=REPO / "queries",
        )

    def s3_access(self) -> S3Access:
        """The bucket's access, from the AWS variables the commands get (:attr:`env`)."""
        return S3Access.from_env(self.env)

    @contextmanager
    def store(self) -> Iterator[DatasetStore]:
        """The dataset store the commands open (``lakehouse.runtime.open_store``), in this process.

        On S3 the access comes from :attr:`env` (not only this process's environment), and DuckDB's
        process-wide S3 access is put back as it was afterwards.
        """
        if not self.on_s3:
            with open_store(self.settings) as opened:
                yield opened
            return
        settings, access, previous = self.settings, self.s3_access(), duck.s3_access()
        root = DataRoot.on_s3(str(self.data_root), self.state_dir, access)
        duck.use_s3(access)
        dal = DataAccessLayer.from_settings(settings)
        try:
            yield dataset_store(dal, root)
        finally:
            dal.close()
            duck.use_s3(previous)

    # --- commands ------------------------------------------------------------------------------

    def start(self, *args: str) -> Running:
        """Start ``lakehouse ARGS`` in the background."""
        self.home.mkdir(parents=True, exist_ok=True)
        return Running(args, self.env, self.home, self.home / "logs")

    def run(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> CliResult:
        """Run ``lakehouse ARGS`` to the end."""
        result = self.start(*args).wait(timeout)
        self.log(result)
        return result

    def log(self, result: CliResult) -> None:
        """Append how a command ended to ``home/commands.log`` (kept with the test's tmp_path)."""
        self.note(f"{result.seconds:7.2f}s rc={result.returncode:<3} {result.command[:300]}")

    def note(self, line: str) -> None:
        """Append a line to ``home/commands.log`` (commands, and the reads of this process)."""
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.home / "commands.log", "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def ok(self, *args: str, timeout: float = COMMAND_TIMEOUT) -> CliResult:
        """Run ``lakehouse ARGS``; it must succeed."""
        result = self.run(*args, timeout=timeout)
        assert result.returncode == 0, result.describe()
        return result

    def runs(self, company: str = COMPANY) -> CliResult:
        """``lakehouse runs`` (the recovery pass: it marks runs whose process died failed)."""
        return self.run("runs", "--company", company, "--limit", "1000", "--output", "json")

    # --- reads of the outcome (in this process) -------------------------------------------------

    def catalog_path(self, company: str = COMPANY) -> Path:
        """The company's catalog: under the data root, or under the state dir of an S3 root."""
        state = self.state_dir
        return (state if state is not None else Path(self.data_root)) / company / CATALOG_FILE_NAME

    def local_leftovers(self, company: str = COMPANY) -> list[str]:
        """What commands left in this worker's local folders: run folders (and links to them) in
        ``<company>/_work/`` (the data root's, or the state dir's on S3), and on S3 the upload
        folders in ``<state_dir>/_scratch/``. Empty once gc ran with nothing running."""
        state = self.state_dir
        base = state if state is not None else Path(self.data_root)
        work = base / company / "_work"
        found = [p for p in work.iterdir() if p.is_dir() or p.is_symlink()] if work.is_dir() else []
        scratch = state / "_scratch" if state is not None else None
        if scratch is not None and scratch.is_dir():
            found.extend(scratch.iterdir())
        return sorted(str(p.relative_to(base)) for p in found)

    def versions(self, company: str = COMPANY) -> list[DatasetVersionRecord]:
        """Every committed dataset version of ``company``, from the control plane."""
        with self.store() as store:
            return store.dal.list_dataset_versions(company)

    def runs_in_process(self, company: str = COMPANY) -> list[PipelineRunRecord]:
        """The company's runs, newest first, read without the CLI (so without its recovery pass)."""
        with self.store() as store:
            return store.dal.list_pipeline_runs(company, None, 1000)

    def run_record(self, run_id: str) -> PipelineRunRecord:
        with self.store() as store:
            return store.dal.get_pipeline_run(run_id)

    def current(self, company: str = COMPANY) -> dict[str, DatasetVersionRecord]:
        """``"zone.dataset"`` -> the current silver/gold version."""
        by_name: dict[str, list[DatasetVersionRecord]] = defaultdict(list)
        for v in self.versions(company):
            if v.zone != "bronze":
                by_name[f"{v.zone}.{v.dataset_name}"].append(v)
        return {name: current_of(group) for name, group in sorted(by_name.items())}

    def snapshot(
        self,
        zones: Collection[str] = ("silver", "gold"),
        company: str = COMPANY,
        content_only: bool = False,
        by_dt: bool = False,
    ) -> Snapshot:
        """Digest every dataset of ``zones`` as the catalog and as the control plane show it."""
        started = time.monotonic()
        catalog = self._catalog_digests(zones, company, content_only, by_dt)
        middle = time.monotonic()
        store = self._store_digests(zones, company, content_only, by_dt)
        self.note(
            f"{time.monotonic() - started:7.2f}s (in this process) digests of {company} "
            f"{'/'.join(zones)}: catalog {middle - started:.2f}s, read_dataset {time.monotonic() - middle:.2f}s"
        )
        return Snapshot(catalog, store)

    def _catalog_digests(
        self, zones: Collection[str], company: str, content_only: bool, by_dt: bool
    ) -> Digests:
        path = self.catalog_path(company)
        if not path.exists():
            return {}
        con = duckdb.connect(str(path), read_only=True)
        try:
            if self.on_s3:  # the views read s3:// URLs: httpfs and a temporary secret
                enable_s3(con, self.s3_access())
            names = ", ".join(f"'{z}'" for z in zones)
            views = con.execute(
                "select schema_name, view_name from duckdb_views() "
                f"where not internal and schema_name in ({names}) order by 1, 2"
            ).fetchall()
            digests: Digests = {}
            for schema, view in views:
                digests.update(
                    _digest_relation(con, f'"{schema}"."{view}"', f"{schema}.{view}", content_only, by_dt)
                )
            return digests
        finally:
            con.close()

    def _store_digests(
        self, zones: Collection[str], company: str, content_only: bool, by_dt: bool
    ) -> Digests:
        digests: Digests = {}
        with self.store() as store, duckdb.connect() as con:
            names = sorted(
                {
                    (v.zone, v.dataset_name)
                    for v in store.dal.list_dataset_versions(company)
                    if v.zone in zones
                }
            )
            for zone, name in names:
                table = store.read_dataset(company, zone, name)
                con.register("dataset_table", table)
                try:
                    digests.update(
                        _digest_relation(con, "dataset_table", f"{zone}.{name}", content_only, by_dt)
                    )
                finally:
                    con.unregister("dataset_table")
        return digests

    def query_digests(
        self, names: Iterable[str], company: str = COMPANY, content_only: bool = False
    ) -> Digests:
        """Digest datasets with one ``lakehouse query`` (the analysts' read path, end to end)."""
        parts = [
            f"select '{name}' as name, count(*) as n, coalesce(sum(hash(t)), 0)::varchar as h "
            f"from {_relation_sql(name, content_only)}"
            for name in names
        ]
        result = self.ok("query", "--company", company, "--format", "json", " union all ".join(parts))
        return {row["name"]: (int(row["n"]), int(row["h"])) for row in result.json()}


def by_day(digests: Mapping[str, tuple[int, int]], keys: Iterable[tuple[str, str]]) -> Digests:
    """Sum the per-day digests (``"zone.dataset@YYYY-MM-DD"``) of ``(zone.dataset, day)`` keys."""
    parts = []
    for name, day in keys:
        digest = digests.get(f"{name}@{day}")
        if digest is not None:
            parts.append({name: digest})
    return add_digests(parts)


def sum_by_day(snapshot: Snapshot, keys: Collection[tuple[str, str]]) -> Snapshot:
    """The snapshot a lakehouse holding exactly the ``(zone.dataset, day)`` partitions should show."""
    return Snapshot(by_day(snapshot.catalog, keys), by_day(snapshot.store, keys))


def runs_left_running(result: CliResult) -> list[str] | None:
    """Run ids that ``lakehouse runs --output json`` lists as running (None if it did not list)."""
    if result.returncode != 0:
        return None
    return [f"{r['pipeline']} {r['run_id']}" for r in result.json() if r["status"] == "running"]


def partial_runs(versions: Sequence[DatasetVersionRecord], allowed: Collection[frozenset[str]]) -> list[str]:
    """Runs whose committed versions are not one of the ``allowed`` sets of ``"zone.dataset"``."""
    by_run: dict[str, set[str]] = defaultdict(set)
    for v in versions:
        by_run[v.produced_by_run_id].add(f"{v.zone}.{v.dataset_name}")
    return [
        f"run {run_id} published only {sorted(names)}"
        for run_id, names in sorted(by_run.items())
        if frozenset(names) not in allowed
    ]


@dataclass(frozen=True)
class Extract:
    """Daily extracts of one company (``root/YYYY-MM-DD/<dataset>.csv|jsonl``)."""

    root: Path
    company: str
    days: list[str]

    @classmethod
    def generate(cls, lh: Lakehouse, out: Path, company: str, days: int, scale: str, seed: int) -> Extract:
        """``lakehouse generate`` of ``days`` daily folders of ``company`` into ``out``, run by ``lh``."""
        lh.ok(
            "generate",
            "--company",
            company,
            "--out",
            str(out),
            "--days",
            str(days),
            "--scale",
            scale,
            "--seed",
            str(seed),
        )
        names = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name[:1].isdigit())
        assert len(names) == days, names
        return cls(out, company, names)

    def folder(self, day: str) -> Path:
        return self.root / day

    def folders(self) -> list[Path]:
        return [self.root / day for day in self.days]

    def file(self, day: str, dataset: str) -> Path:
        [path] = [p for p in self.folder(day).iterdir() if p.stem == dataset]
        return path

    @staticmethod
    def keys(day: str, datasets: tuple[str, ...] = RAW_DATASETS) -> set[tuple[str, str]]:
        """The bronze partitions a day's files land in: ``("bronze.<dataset>", day)``."""
        return {(f"bronze.{d}", day) for d in datasets}


@dataclass
class Template:
    """A lakehouse with BASE_DAYS of acme (and beta, unless left out) ingested and acme built once,
    uninterrupted."""

    backend: str
    lakehouse: Lakehouse
    #: How long the uninterrupted build took (crash points are drawn over it).
    build_seconds: float
    #: Digests of acme's silver/gold after that build (the reference every crash is compared with).
    reference: Snapshot
    #: Content digests of acme's bronze.
    bronze: Snapshot
    #: The ``zone.dataset`` sets a build run, an extraction run and an ingest run publish.
    build_set: frozenset[str]
    extraction_set: frozenset[str]
    ingest_set: frozenset[str]
    build_run_id: str
    #: The as-of date of that build.
    as_of: str
    pg_database: str | None = None
    #: Where the data root is: ``local`` (a folder) or ``s3`` (a bucket of the test server).
    storage: str = "local"
    #: The companies ingested (acme always; beta for the cases about two companies).
    companies: tuple[str, ...] = (COMPANY, OTHER_COMPANY)

    @property
    def variant(self) -> str:
        """The backend and the storage, for labels: ``sqlite``, ``postgres``, ``postgres on s3``."""
        return self.backend if self.storage == "local" else f"{self.backend} on {self.storage}"

    @property
    def allowed_sets(self) -> set[frozenset[str]]:
        return {self.build_set, self.extraction_set, self.ingest_set}


def build_template(
    lh: Lakehouse,
    backend: str,
    extracts: Mapping[str, Extract],
    companies: Sequence[str] = (COMPANY, OTHER_COMPANY),
) -> Template:
    """Migrate, ingest BASE_DAYS of ``companies``, build acme; record durations and digests."""
    lh.ok("db", "upgrade")
    for company in companies:
        extract = extracts[company]
        lh.ok("ingest", "--company", company, *[str(extract.folder(d)) for d in extract.days[:BASE_DAYS]])
    build = lh.ok("build", "--company", COMPANY, "--full-refresh", "--output", "json")
    out = build.json()
    versions = lh.versions(COMPANY)
    by_run: dict[str, set[str]] = {}
    for v in versions:
        by_run.setdefault(v.produced_by_run_id, set()).add(f"{v.zone}.{v.dataset_name}")
    extraction_id = (out.get("extraction") or {}).get("run_id")
    ingest_sets = {
        frozenset(names) for names in by_run.values() if all(n.startswith("bronze.") for n in names)
    }
    assert len(ingest_sets) == 1, ingest_sets
    return Template(
        backend=backend,
        lakehouse=lh,
        build_seconds=build.seconds,
        reference=lh.snapshot(),
        bronze=lh.snapshot(("bronze",), content_only=True),
        build_set=frozenset(by_run[out["run_id"]]),
        extraction_set=frozenset(by_run.get(extraction_id, set())) if extraction_id else frozenset(),
        ingest_set=next(iter(ingest_sets)),
        build_run_id=out["run_id"],
        as_of=str(out["as_of"]),
        storage="s3" if lh.on_s3 else "local",
        companies=tuple(companies),
    )


# --- buckets of the test S3 server ------------------------------------------------------------------


def copy_s3_root(access: S3Access, source: str, target: str) -> int:
    """Copy every object under the ``s3://`` root ``source`` to the same keys under ``target``,
    server-side (the control plane stores root-relative keys, so the copy is a whole data root).
    Returns how many objects were copied."""
    client = access.boto3_client()
    (src_bucket, src_prefix), (dst_bucket, dst_prefix) = split_s3_uri(source), split_s3_uri(target)
    strip = len(src_prefix) + 1 if src_prefix else 0
    keys = [
        str(item["Key"])
        for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=src_bucket, Prefix=f"{src_prefix}/" if src_prefix else ""
        )
        for item in page.get("Contents", [])
    ]

    def copy(key: str) -> None:
        relative = key[strip:]
        client.copy_object(
            Bucket=dst_bucket,
            Key=f"{dst_prefix}/{relative}" if dst_prefix else relative,
            CopySource={"Bucket": src_bucket, "Key": key},
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(copy, keys))
    return len(keys)


def remove_bucket(access: S3Access, bucket: str) -> None:
    """Delete a bucket of the test server and every object in it."""
    client = access.boto3_client()
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        objects = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if objects:
            client.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    client.delete_bucket(Bucket=bucket)
