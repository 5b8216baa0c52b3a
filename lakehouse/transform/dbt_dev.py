"""A dbt sandbox of one company: dbt's own commands, and its docs site, on a scratch DuckDB file.

``lakehouse dbt --company C -- ARGS`` runs ``dbt ARGS`` the way a build runs dbt: the project of
``LAKEHOUSE_DBT_PROJECT_DIR`` with its profile, ``LAKEHOUSE_DBT_DB_PATH`` naming the database, and the
vars of a build (:func:`lakehouse.transform.build.dbt_vars`: company, as_of and the event rules of
``config/events/*.json``). The database is a scratch file prepared like a build's
(:func:`~lakehouse.transform.staging_db.prepare_staging_db`) over the company's current views: bronze,
and the published silver and gold versions, so that a selected model builds on what is published.

Everything lands under the data root, never in the dbt project (which may be installed read-only)::

    <data_root>/<company>/_dev/dbt/dev.duckdb      the scratch database, kept between commands
    <data_root>/<company>/_dev/dbt/target/         dbt's target-path (compiled SQL, artifacts)
    <data_root>/<company>/_dev/dbt/logs/dbt.log    dbt's log-path
    <data_root>/<company>/_dev/dbt/sandbox.json    what the database was prepared from
    <data_root>/<company>/_dev/docs/               the same for ``lakehouse docs`` (index.html in target/)

It is a sandbox: nothing is published and no pipeline run is recorded (a run row stands for work on
the zones, and gc/recovery would treat a dead one as a failed build). The database is kept between
commands, so a model built by ``dbt build -s x`` can then be tested or shown; it is prepared again,
from scratch, when the published versions or the as-of changed since (a note says so), or when asked
(``fresh``). One command at a time uses a sandbox folder (a file lock), as DuckDB allows one writer.
"""

from __future__ import annotations

import fcntl
import functools
import json
import logging
import os
import shlex
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lakehouse.config import LakehouseConfig
from lakehouse.dataplane.atomic import atomic_write_text
from lakehouse.dataplane.store import DatasetStore
from lakehouse.errors import DataPlaneError, LockBusyError, TransformError, UsageError
from lakehouse.names import validate_slug
from lakehouse.transform.build import choose_as_of, dbt_vars, source_reach
from lakehouse.transform.dbt_runner import dbt_env, exit_code, release_dbt_resources, temporary_environ
from lakehouse.transform.staging_db import prepare_staging_db

logger = logging.getLogger(__name__)

#: ``<data_root>/<company>/_dev/``: the company's dbt sandboxes (never touched by gc or recovery).
DEV_DIR = "_dev"
DB_FILE = "dev.duckdb"
STATE_FILE = "sandbox.json"
#: Flags the sandbox sets itself: the project, the profile and where dbt writes.
SANDBOX_FLAGS = ("--project-dir", "--profiles-dir", "--target-path", "--log-path")
#: Environment variables of the sandbox's folders (dbt also reads each as ``DBT_ENGINE_<name>``).
_FOLDER_VARS = ("PROJECT_DIR", "PROFILES_DIR", "TARGET_PATH", "LOG_PATH")
#: Tests run only when every model they read is selected, as in ``lakehouse build --select``: a
#: relationships test from an unselected model would read a table the sandbox may not have.
#: ``--indirect-selection eager`` on the command line overrides it.
INDIRECT_SELECTION = "cautious"


class SandboxBusyError(LockBusyError):
    """Another command uses the sandbox folder (exit code 3, as a held lock)."""

    def __init__(self, folder: Path, company: str, holder: str) -> None:
        self.name = str(folder)
        self.holder = holder
        super(LockBusyError, self).__init__(
            f"the dbt sandbox {folder} of {company!r} is in use ({holder}): retry when that command has ended"
        )


@dataclass(frozen=True)
class DbtSandbox:
    """A prepared sandbox: where dbt reads and writes, and the vars it gets."""

    company: str
    project_dir: Path
    folder: Path
    as_of: date
    variables: dict[str, Any]
    #: Whether this command (re)created the database.
    prepared: bool
    notes: list[str] = field(default_factory=list)

    @property
    def db_path(self) -> Path:
        return self.folder / DB_FILE

    @property
    def target_dir(self) -> Path:
        return self.folder / "target"

    @property
    def log_dir(self) -> Path:
        return self.folder / "logs"

    def env(self) -> dict[str, str]:
        """The environment of dbt in the sandbox (both spellings of dbt's folder variables, so that a
        ``DBT_ENGINE_TARGET_PATH`` of the caller's shell cannot send artifacts elsewhere)."""
        env = dbt_env(self.db_path)
        for name, value in {**self._folders(), "INDIRECT_SELECTION": INDIRECT_SELECTION}.items():
            env[f"DBT_{name}"] = value
            env[f"DBT_ENGINE_{name}"] = value
        return env

    def shell_env(self) -> str:
        """``export`` lines to run plain ``dbt`` on this sandbox (``eval "$(lakehouse dbt ... --print-env)"``)."""
        exports = {"LAKEHOUSE_DBT_DB_PATH": str(self.db_path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        exports.update({f"DBT_{name}": value for name, value in self._folders().items()})
        exports["DBT_INDIRECT_SELECTION"] = INDIRECT_SELECTION
        exports["LAKEHOUSE_DBT_VARS"] = json.dumps(self.variables, sort_keys=True)
        lines = [f"# dbt sandbox of {self.company} as of {self.as_of} (nothing is published)"]
        lines += [f"export {name}={shlex.quote(value)}" for name, value in exports.items()]
        lines.append('# then, from any folder: dbt build --vars "$LAKEHOUSE_DBT_VARS"')
        return "\n".join(lines)

    def _folders(self) -> dict[str, str]:
        folders = (self.project_dir, self.project_dir, self.target_dir, self.log_dir)
        return {name: str(path) for name, path in zip(_FOLDER_VARS, folders, strict=True)}


@dataclass(frozen=True)
class DbtCommandResult:
    """How a dbt command in the sandbox ended: dbt's exit code, and a usage error dbt did not print."""

    exit_code: int
    usage_error: str | None = None


@dataclass(frozen=True)
class DocsSite:
    """The docs site dbt generated (``index.html`` with ``manifest.json`` and ``catalog.json`` beside it)."""

    target_dir: Path
    log: Path
    notes: list[str] = field(default_factory=list)

    @property
    def index(self) -> Path:
        return self.target_dir / "index.html"

    @property
    def static_index(self) -> Path:
        """One self-contained page (manifest and catalog inlined): opens from the file system."""
        return self.target_dir / "static_index.html"

    @property
    def manifest(self) -> Path:
        return self.target_dir / "manifest.json"

    @property
    def catalog(self) -> Path:
        return self.target_dir / "catalog.json"


def sandbox_dir(store: DatasetStore, company: str, kind: str = "dbt") -> Path:
    """``<data_root>/<company>/_dev/<kind>``: the folder of a sandbox (``dbt`` or ``docs``)."""
    return store.root.company_dir(company) / DEV_DIR / validate_slug("sandbox", kind)


@contextmanager
def dbt_sandbox(
    store: DatasetStore,
    config: LakehouseConfig,
    project_dir: Path,
    company: str,
    *,
    as_of: date | None = None,
    fresh: bool = False,
    kind: str = "dbt",
    published: bool = True,
) -> Iterator[DbtSandbox]:
    """Prepare (or reuse) the company's sandbox and hold it for the block.

    Args:
        project_dir: the dbt project (``settings.dbt_project_dir``).
        as_of: the as-of date of the vars and views (default: a build's default as-of, the newest
            day every source has reached; today when nothing is ingested).
        fresh: prepare the database again even if nothing changed.
        kind: the sandbox folder under ``_dev/``.
        published: give the published silver/gold versions as views (else bronze only, as a full
            build starts).

    Raises:
        DataPlaneError: no dbt project there, or an as-of no source has reached.
        SandboxBusyError: another command uses the sandbox.
    """
    validate_slug("company", company)
    project = project_dir.resolve()
    if not (project / "dbt_project.yml").is_file():
        raise DataPlaneError(f"no dbt project at {project} (set LAKEHOUSE_DBT_PROJECT_DIR)")
    folder = sandbox_dir(store, company, kind)
    folder.mkdir(parents=True, exist_ok=True)
    with sandbox_lock(folder, company):
        chosen, notes = _sandbox_as_of(store, company, as_of)
        seen = store.catalog_fingerprint(company)  # before the views: a publish meanwhile re-prepares
        views = store.current_views(company, as_of=chosen)
        if not published:
            views = {"bronze": views.get("bronze", {})}
        state = {"as_of": chosen.isoformat(), "published": seen, "zones": sorted(views)}
        prepared = _prepare(folder, views, state, fresh, notes)
        yield DbtSandbox(
            company=company,
            project_dir=project,
            folder=folder,
            as_of=chosen,
            variables=dbt_vars(config, company, chosen),
            prepared=prepared,
            notes=notes,
        )


def check_dbt_args(args: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
    """Split ``args`` into their ``--vars`` (merged in order) and the rest, refusing sandbox flags.

    Raises:
        UsageError: ``args`` set one of :data:`SANDBOX_FLAGS`, or a ``--vars`` that is no mapping.
    """
    user_vars, rest = _split_vars(list(args))
    for arg in rest:
        flag = arg.split("=", 1)[0]
        if flag in SANDBOX_FLAGS:
            raise UsageError(
                f"{flag} is set by the sandbox (the project of LAKEHOUSE_DBT_PROJECT_DIR, artifacts under "
                f"<data_root>/<company>/{DEV_DIR}/): drop it, or run plain dbt with the environment of "
                "`lakehouse dbt --print-env`"
            )
    return user_vars, rest


def run_dbt_command(sandbox: DbtSandbox, args: Sequence[str]) -> DbtCommandResult:
    """Run ``dbt <args>`` in this process on the sandbox; dbt prints its own output.

    A ``--vars`` among ``args`` is merged over the sandbox's vars (its keys win).

    Raises:
        UsageError: see :func:`check_dbt_args`.
    """
    user_vars, rest = check_dbt_args(args)
    if _names_a_command(rest):
        rest += ["--vars", json.dumps({**sandbox.variables, **user_vars})]
    result = _invoke(sandbox, rest)
    usage = None
    if result.exception is not None and type(result.exception).__name__ in {
        "DbtUsageException",
        "DbtInternalException",
    }:
        usage = " ".join(str(result.exception).split())
    return DbtCommandResult(exit_code(result), usage)


def generate_docs(store: DatasetStore, config: LakehouseConfig, project_dir: Path, company: str) -> DocsSite:
    """Generate dbt's docs site (lineage graph, models, columns) for the current project.

    In the ``docs`` sandbox, on the company's bronze views: ``dbt run --empty`` first creates every
    model with no rows (so the catalog lists each model's columns and types without reading any
    data), then ``dbt docs generate --static``.

    Raises:
        TransformError: dbt could not parse the project or generate the docs (the log is named).
    """
    with dbt_sandbox(
        store, config, project_dir, company, fresh=True, kind="docs", published=False
    ) as sandbox:
        quiet = ["--log-level", "none", "--log-level-file", "info", "--no-use-colors"]
        log = sandbox.log_dir / "dbt.log"
        variables = ["--vars", json.dumps(sandbox.variables)]
        built = _invoke(sandbox, ["run", "--empty", *quiet, *variables])
        notes = list(sandbox.notes)
        if built.exception is not None:
            raise TransformError(
                f"dbt could not build the project empty: {_flat(built.exception)} (dbt log: {log})"
            )
        failed = sorted(
            r.node.unique_id
            for r in getattr(built.result, "results", [])
            if str(r.status) in {"error", "fail"}
        )
        if failed:
            notes.append(
                f"dbt could not build {', '.join(failed)} (see {log}): their columns are missing from the catalog"
            )
        docs = _invoke(sandbox, ["docs", "generate", "--static", *quiet, *variables])
        if not docs.success:
            reason = _flat(docs.exception) if docs.exception is not None else "see the log"
            raise TransformError(f"dbt docs generate failed: {reason} (dbt log: {log})")
        return DocsSite(sandbox.target_dir, log, notes)


def docs_server(folder: Path, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """An HTTP server of ``folder`` on ``host:port`` (bound, not yet serving; port 0 picks one).

    Raises:
        TransformError: the address is in use or cannot be bound.
    """
    handler = functools.partial(_QuietHandler, directory=str(folder))
    try:
        return ThreadingHTTPServer((host, port), handler)
    except OSError as exc:
        raise TransformError(f"cannot serve the docs on {host}:{port}: {exc.strerror or exc}") from exc


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves files; each request goes to the debug log instead of stderr."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        logger.debug("docs server: " + format, *args)


# --- helpers ---------------------------------------------------------------------------------------


def _invoke(sandbox: DbtSandbox, args: list[str]) -> Any:
    """``dbtRunner().invoke(args)`` in the sandbox's environment; returns the ``dbtRunnerResult``."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import reset_metadata_vars

    with temporary_environ(sandbox.env()):
        reset_metadata_vars()  # dbt caches DBT_ENV_CUSTOM_ENV_* once per process (a build's run id)
        try:
            return dbtRunner().invoke(args)
        finally:
            release_dbt_resources()


def _split_vars(args: list[str]) -> tuple[dict[str, Any], list[str]]:
    """The ``--vars`` of ``args`` (merged in order) and the other arguments."""
    from dbt.config.utils import parse_cli_vars

    found: dict[str, Any] = {}
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--vars" or arg.startswith("--vars="):
            if arg == "--vars":
                if i + 1 >= len(args):
                    raise UsageError("--vars needs a value: a YAML mapping such as '{as_of: 2024-06-30}'")
                text, i = args[i + 1], i + 2
            else:
                text, i = arg.split("=", 1)[1], i + 1
            try:
                parsed = parse_cli_vars(text)
            except Exception as exc:
                raise UsageError(f"--vars {text!r} is not a YAML mapping: {_flat(exc)}") from None
            found.update(parsed)
            continue
        rest.append(arg)
        i += 1
    return found, rest


def _names_a_command(args: Sequence[str]) -> bool:
    """Whether ``args`` name a dbt command (``--vars`` is an option of the commands, not of ``dbt``)."""
    from dbt.cli.main import cli

    return any(arg in cli.commands for arg in args if not arg.startswith("-"))


def _sandbox_as_of(store: DatasetStore, company: str, as_of: date | None) -> tuple[date, list[str]]:
    reach = source_reach(store, company)
    if not reach.present:
        chosen = as_of or datetime.now(UTC).date()
        return chosen, [f"company {company!r} has no bronze data yet: its bronze views are empty"]
    chosen = choose_as_of(reach, company, as_of, allow_partial=True)
    note = reach.lag_note(chosen)
    return chosen, [note] if note and (as_of is None or reach.behind(chosen)) else []


def _prepare(
    folder: Path,
    views: dict[str, dict[str, list[str]]],
    state: dict[str, Any],
    fresh: bool,
    notes: list[str],
) -> bool:
    """(Re)create the sandbox database unless it was prepared from the same ``state``."""
    db = folder / DB_FILE
    state_path = folder / STATE_FILE
    try:
        before = json.loads(state_path.read_text())
    except (OSError, ValueError):
        before = None
    if not fresh and db.exists() and before == state:
        return False
    if db.exists() and before is not None and not fresh:
        notes.append(
            f"the published data or the as-of changed since {db} was prepared: prepared it again "
            "(tables built there before are gone)"
        )
    state_path.unlink(missing_ok=True)  # a crash before the new state is written prepares it again
    for path in (db, db.with_name(db.name + ".wal")):
        path.unlink(missing_ok=True)
    prepare_staging_db(db, views)
    atomic_write_text(state_path, json.dumps(state, indent=2, sort_keys=True) + "\n")
    return True


@contextmanager
def sandbox_lock(folder: Path, company: str) -> Iterator[None]:
    """One command at a time in a sandbox folder (released when the holder ends, kill -9 included)."""
    with (folder / ".lock").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise SandboxBusyError(folder, company, holder) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _flat(value: object) -> str:
    return " ".join(str(value).split())
