"""One line on stderr per failure: a lost control plane, a full disk, log records with exceptions;
tracebacks only with ``--verbose`` or DEBUG; values printed literally (no rich markup, no emoji)."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.engine.default import DefaultDialect
from typer.testing import CliRunner, Result

import lakehouse.dataplane.store as datasets_mod
from lakehouse.cli.errors import StderrHandler, configure_logging, describe_failure
from lakehouse.cli.main import app
from lakehouse.dal import DataAccessLayer
from lakehouse.errors import DatabaseUnavailableError, DiskFullError, IntegrityError, disk_full_from
from lakehouse.settings import get_settings
from tests.data_fixtures import COMPANY, REPO, write_jobs

runner = CliRunner()

#: Every stderr line of a command is a log record or the ``error:`` line: no traceback, no continuation.
_LINE_STARTS = ("error: ", "DEBUG ", "INFO ", "WARNING ", "ERROR ", "CRITICAL ")


def one_line_per_failure(stderr: str) -> str:
    """The ``error:`` line of ``stderr``, checking that it is the last and only one, with no traceback."""
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr, stderr
    assert lines and all(line.startswith(_LINE_STARTS) for line in lines), stderr
    errors = [line for line in lines if line.startswith("error: ")]
    assert errors == [lines[-1]], stderr
    return lines[-1]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def env(db_url: str, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    variables = {
        "LAKEHOUSE_DATABASE_URL": db_url,
        "LAKEHOUSE_DATA_ROOT": str(root),
        "LAKEHOUSE_CONFIG_DIR": str(config),
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LAKEHOUSE_LOG_LEVEL", raising=False)
    get_settings.cache_clear()
    yield variables
    get_settings.cache_clear()


def cli(*args: str) -> Result:
    return runner.invoke(app, list(args))


# --- a control plane lost in the middle of a run ---------------------------------------------------

_LOSE_THE_DATABASE = """
import sqlite3, sys
import psycopg
from sqlalchemy.engine.default import DefaultDialect
from lakehouse.dataplane.store import DatasetStore

lost = []

def error(dialect):
    if dialect.name == "postgresql":
        return psycopg.OperationalError(
            "server closed the connection unexpectedly\\n\\tThis probably means the server terminated abnormally"
        )
    return sqlite3.OperationalError("unable to open database file")

for name in ("do_execute", "do_execute_no_params", "do_executemany"):
    def broken(self, *args, _original=getattr(DefaultDialect, name), **kwargs):
        if lost:
            raise error(self)
        return _original(self, *args, **kwargs)
    setattr(DefaultDialect, name, broken)

publish = DatasetStore.publish

def publish_then_lose(self, *args, **kwargs):
    lost.append(True)  # the server goes away just before the commit, and stays away
    return publish(self, *args, **kwargs)

DatasetStore.publish = publish_then_lose
from lakehouse.cli.main import app
app(sys.argv[1:], prog_name="lakehouse")
"""


def _lakehouse_child(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    child_env = dict(os.environ, **env)
    child_env.pop("LAKEHOUSE_LOG_LEVEL", None)
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), child_env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_LOSE_THE_DATABASE), *args],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_database_lost_mid_run_is_one_line_and_the_run_is_marked_failed_once_it_is_back(
    env: dict[str, str], tmp_path: Path
) -> None:
    extract = write_jobs(tmp_path / "extract", "2026-09-30", ["J1", "J2"])
    child = _lakehouse_child(env, "ingest", "-c", COMPANY, str(extract))
    assert child.returncode == 1, child.stderr
    line = one_line_per_failure(child.stderr)
    assert line.startswith("error: lost the connection to the control-plane database at ")
    assert "could not mark run" in child.stderr  # said once, on one line

    # The child could not mark its run failed; the next command that looks does.
    result = cli("runs", "-c", COMPANY, "-o", "json")
    assert result.exit_code == 0, result.stderr
    [run] = json.loads(result.stdout)
    assert run["status"] == "failed"
    assert run["error"].startswith("process died: ") and run["error"].endswith("(marked failed by runs)")


def test_tracebacks_are_shown_with_verbose(env: dict[str, str], tmp_path: Path) -> None:
    extract = write_jobs(tmp_path / "extract", "2026-09-30", ["J1"])
    child = _lakehouse_child(env, "--verbose", "ingest", "-c", COMPANY, str(extract))
    assert child.returncode == 1
    assert "Traceback (most recent call last)" in child.stderr
    assert child.stderr.strip().splitlines()[-1].startswith("error: lost the connection to the control-plane")


def test_an_unreachable_database_is_one_line(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEHOUSE_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/lakehouse")
    get_settings.cache_clear()
    result = cli("runs", "-c", COMPANY)
    assert result.exit_code == 1
    assert one_line_per_failure(result.stderr).startswith(
        "error: cannot reach the control-plane database at postgresql+psycopg://postgres@127.0.0.1:1/lakehouse: "
    )


def test_the_dal_maps_lost_connections_and_a_full_database(
    dal: DataAccessLayer, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dal.list_pipeline_runs()  # reached once: a failure from now on is a lost connection
    raised: list[Exception] = []

    def broken(self: DefaultDialect, *args: object, **kwargs: object) -> None:
        raise raised[0]

    monkeypatch.setattr(DefaultDialect, "do_execute", broken)
    if backend == "postgresql":
        lost: Exception = psycopg.errors.AdminShutdown("terminating connection due to administrator command")
        full: Exception = psycopg.errors.DiskFull('could not extend file "base/1/2": No space left on device')
    else:
        lost = sqlite3.OperationalError("unable to open database file")
        full = sqlite3.OperationalError("database or disk is full")
    raised[:] = [lost]
    with pytest.raises(DatabaseUnavailableError, match="lost the connection to the control-plane database"):
        dal.list_pipeline_runs()
    raised[:] = [full]
    with pytest.raises(DiskFullError) as info:
        dal.list_pipeline_runs()
    if backend == "sqlite":
        assert info.value.path == make_url(dal._engine.url).database
    else:
        assert str(info.value).startswith("no space left on the database server at postgresql+psycopg://")
    raised[:] = [sqlite3.OperationalError("database is locked")]  # busy, not lost: left alone
    if backend == "sqlite":
        with pytest.raises(Exception, match="database is locked") as other:
            dal.list_pipeline_runs()
        assert not isinstance(other.value, DatabaseUnavailableError | DiskFullError)


# --- a full disk ----------------------------------------------------------------------------------


def test_a_full_disk_is_reported_as_such(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[Path] = []

    def no_space(con: object, source: object, path: Path, *args: object, **kwargs: object) -> None:
        written.append(path)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(datasets_mod, "write_parquet_to", no_space)
    extract = write_jobs(tmp_path / "extract", "2026-09-30", ["J1"])
    result = cli("ingest", "-c", COMPANY, str(extract))
    assert result.exit_code == 1
    assert one_line_per_failure(result.stderr) == (
        f"error: no space left on {written[0]}: free some disk space, then run the command again"
    )


@pytest.mark.parametrize("said", ["disk I/O error", "unable to open database file"])
def test_sqlite_that_cannot_write_on_a_full_disk_is_a_full_disk(
    said: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite out of space for its journal says "disk I/O error", not "database or disk is full"."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    import lakehouse.errors as errors_mod
    from lakehouse.db.engine import control_plane_error, unavailable_error

    database = tmp_path / "lakehouse.db"
    engine = create_engine(f"sqlite:///{database}")
    exc = OperationalError("UPDATE pipeline_runs ...", {}, sqlite3.OperationalError(said))
    try:
        found = control_plane_error(exc, engine)
        assert not isinstance(found, DiskFullError)  # plenty of space: not a full disk
        assert isinstance(unavailable_error(exc, engine.url), DatabaseUnavailableError)

        usage = shutil.disk_usage(tmp_path)
        monkeypatch.setattr(
            errors_mod.shutil, "disk_usage", lambda path: usage._replace(free=errors_mod.LOW_SPACE_BYTES - 1)
        )
        found = control_plane_error(exc, engine)
        assert isinstance(found, DiskFullError) and found.path == str(database)
        assert str(found).startswith(f"no space left on {database}")
        # Opening the database (the schema check of every command) maps it the same way.
        opened = unavailable_error(exc, f"sqlite:///{database}")
        assert isinstance(opened, DiskFullError) and opened.path == str(database)
    finally:
        engine.dispose()


def test_a_log_handler_that_cannot_write_prints_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """dbt's log file on a full disk: logging's "--- Logging error ---" report stays silent unless verbose."""

    class FullDisk(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:
                raise OSError(errno.ENOSPC, "No space left on device")
            except OSError:
                self.handleError(record)

    logger = logging.getLogger("dbt.test_full_disk")
    handler = FullDisk()
    logger.addHandler(handler)
    try:
        configure_logging("WARNING")
        logger.warning("a dbt event")
        assert "Logging error" not in capsys.readouterr().err
        configure_logging("WARNING", verbose=True)
        logger.warning("a dbt event")
        assert "--- Logging error ---" in capsys.readouterr().err
    finally:
        logger.removeHandler(handler)
        configure_logging("WARNING")


def _caused_by(outer: Exception, cause: BaseException) -> Exception:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise outer from inner
    except Exception as exc:
        return exc


def test_a_full_disk_behind_another_error_is_found() -> None:
    enospc = OSError(errno.ENOSPC, "No space left on device", "/data/acme/manifests/x.json")
    decode = _caused_by(json.JSONDecodeError("Expecting value", "", 0), enospc)
    assert describe_failure(decode) == (
        "no space left on /data/acme/manifests/x.json: free some disk space, then run the command again"
    )
    duck = duckdb.IOException(
        'IO Error: Could not write file "/data/acme/_work/r/build.duckdb": No space left on device'
    )
    damaged = _caused_by(
        IntegrityError("cannot read the published files of bronze.jobs; run `lakehouse verify`"), duck
    )
    found = disk_full_from(damaged)
    assert found is not None and found.path == "/data/acme/_work/r/build.duckdb"
    assert describe_failure(damaged).startswith("no space left on /data/acme/_work/r/build.duckdb")
    assert disk_full_from(ValueError("nothing to do with disks")) is None
    assert (
        describe_failure(ValueError("a\nb")) == "unexpected ValueError: a b (--verbose shows the traceback)"
    )


# --- log records ----------------------------------------------------------------------------------


def _log_an_exception() -> None:
    try:
        try:
            raise OSError(errno.ECONNRESET, "reset")
        except OSError as exc:
            raise DatabaseUnavailableError("sqlite:///x.db", "disk I/O error", lost=True) from exc
    except DatabaseUnavailableError:
        logging.getLogger("lakehouse.dal").exception("could not mark run %s failed", "r1")


def test_log_records_are_one_line_unless_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("WARNING")
    _log_an_exception()
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "ERROR lakehouse.dal: could not mark run r1 failed: lost the connection to the control-plane database "
        "(disk I/O error)"
    ]
    configure_logging("DEBUG")  # DEBUG shows tracebacks, like --verbose
    _log_an_exception()
    assert "Traceback (most recent call last)" in capsys.readouterr().err
    configure_logging("warning", verbose=True)
    _log_an_exception()
    assert "Traceback (most recent call last)" in capsys.readouterr().err
    assert sum(isinstance(h, StderrHandler) for h in logging.getLogger().handlers) == 1


def test_an_unknown_log_level_is_a_usage_error(env: dict[str, str]) -> None:
    result = cli("--log-level", "loud", "runs", "-c", COMPANY)
    assert result.exit_code == 2
    assert "not a logging level" in result.stderr


# --- values are printed literally -----------------------------------------------------------------


@pytest.mark.usefixtures("env")
def test_markup_and_emoji_codes_in_values_are_printed_literally(dal: DataAccessLayer) -> None:
    line = one_line_per_failure(cli("datasets", "-c", "bad:x:[bold]name").stderr)
    assert line.startswith("error: invalid company name 'bad:x:[bold]name'")

    run_id = dal.start_pipeline_run(
        COMPANY, "ingest", input_manifest={"sources": [{"path": "[bold]a:x:.csv"}]}
    )
    dal.finish_pipeline_run(run_id, "failed", error={"type": "T", "message": "boom [bold]red[/bold] :x:"})
    table = cli("runs", "-c", COMPANY)
    assert table.exit_code == 0, table.stderr
    assert "boom [bold]red[/bold] :x:" in table.stdout
    assert "\N{CROSS MARK}" not in table.stdout
    shown = cli("runs", "show", run_id).stdout
    assert "[bold]a:x:.csv" in shown and "boom [bold]red[/bold] :x:" in shown
