"""`lakehouse db ...`: migrations from the command line, on both backends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from lakehouse.cli.main import app
from lakehouse.dal import DataAccessLayer
from lakehouse.db.migrate import alembic_config, head_revision
from lakehouse.db.records import TaskSpec
from lakehouse.settings import get_settings

runner = CliRunner()


@pytest.fixture
def use_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def _current() -> dict[str, object]:
    result = runner.invoke(app, ["db", "current", "--output", "json"])
    assert result.exit_code == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_upgrade_current_downgrade(empty_db_url: str, use_url: pytest.MonkeyPatch) -> None:
    use_url.setenv("LAKEHOUSE_DATABASE_URL", empty_db_url)
    assert _current()["current"] is None
    text = runner.invoke(app, ["db", "current"])
    assert "run `lakehouse db upgrade`" in text.stdout

    up = runner.invoke(app, ["db", "upgrade"])
    assert up.exit_code == 0, up.stderr
    state = _current()
    assert (state["current"], state["head"], state["up_to_date"]) == (head_revision(), head_revision(), True)
    assert up.stdout.startswith(f"control plane upgraded from base (no tables) to {head_revision()} (")
    # a second upgrade says there was nothing to do, not the same line again
    again = runner.invoke(app, ["db", "upgrade"])
    assert again.exit_code == 0, again.stderr
    assert again.stdout.startswith(f"control plane already at {head_revision()}: nothing to do (")

    down = runner.invoke(app, ["db", "downgrade", "base"])
    assert down.exit_code == 0, down.stderr
    assert _current()["current"] is None
    assert down.stdout.startswith(f"control plane downgraded from {head_revision()} to base (no tables) (")


def _down_revision(rev: str) -> str | None:
    down = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(rev).down_revision
    assert down is None or isinstance(down, str)
    return down


def test_downgrade_takes_a_step_back_with_or_without_double_dash(
    empty_db_url: str, use_url: pytest.MonkeyPatch
) -> None:
    use_url.setenv("LAKEHOUSE_DATABASE_URL", empty_db_url)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    one_back = _down_revision(head_revision())
    assert one_back is not None, "needs two revisions"

    plain = runner.invoke(app, ["db", "downgrade", "-1"])
    assert plain.exit_code == 0, plain.output
    assert _current()["current"] == one_back
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0

    dashed = runner.invoke(app, ["db", "downgrade", "--", "-1"])
    assert dashed.exit_code == 0, dashed.output
    assert _current()["current"] == one_back


def test_downgrade_help_shows_the_accepted_forms() -> None:
    result = runner.invoke(app, ["db", "downgrade", "--help"])
    assert result.exit_code == 0
    shown = " ".join(result.stdout.split())
    for form in ("db downgrade -1", "db downgrade -- -1", "db downgrade <revision id>", "base [--drop-data]"):
        assert form in shown, form


def test_downgrade_still_refuses_an_unknown_option(use_url: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["db", "downgrade", "--drop-everything"])
    assert result.exit_code == 2
    assert "no such option '--drop-everything'" in " ".join(result.stderr.split())


def test_downgrade_to_base_with_rows_is_refused_unless_drop_data(
    empty_db_url: str, use_url: pytest.MonkeyPatch
) -> None:
    use_url.setenv("LAKEHOUSE_DATABASE_URL", empty_db_url)
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    dal = DataAccessLayer.from_url(empty_db_url)
    try:
        dal.create_task(TaskSpec("nightly", "build", "acme", "cron", "0 3 * * *"))
    finally:
        dal.close()

    refused = runner.invoke(app, ["db", "downgrade", "base"])
    assert refused.exit_code == 1
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error: refusing to downgrade below revision")
    assert "scheduler_tasks (1 row)" in line and "--drop-data" in line
    assert _current()["current"] == head_revision()

    dropped = runner.invoke(app, ["db", "downgrade", "base", "--drop-data"])
    assert dropped.exit_code == 0, dropped.stderr
    assert "base (no tables)" in dropped.stdout
    assert _current()["current"] is None


def test_bad_revision_and_unreachable_server_are_one_line_errors(
    empty_db_url: str, use_url: pytest.MonkeyPatch
) -> None:
    use_url.setenv("LAKEHOUSE_DATABASE_URL", empty_db_url)
    bad = runner.invoke(app, ["db", "downgrade", "no-such-rev"])
    assert bad.exit_code == 1
    assert bad.stderr.strip().splitlines() == [bad.stderr.strip()]
    assert "no-such-rev" in bad.stderr and "Traceback" not in bad.stderr

    get_settings.cache_clear()
    use_url.setenv("LAKEHOUSE_DATABASE_URL", "postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
    down = runner.invoke(app, ["db", "current"])
    assert down.exit_code == 1
    [line] = down.stderr.strip().splitlines()
    assert line.startswith("error: cannot reach the control-plane database")
    assert "secret" not in line  # the password is never echoed


def test_unsupported_url_is_refused(use_url: pytest.MonkeyPatch) -> None:
    use_url.setenv("LAKEHOUSE_DATABASE_URL", "mysql://root@localhost/x")
    result = runner.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 1
    assert "unsupported control-plane backend 'mysql'" in result.stderr


def test_an_unexpected_error_is_still_one_line(tmp_path: Path, use_url: pytest.MonkeyPatch) -> None:
    a_file = tmp_path / "not-a-folder"
    a_file.write_text("x")
    use_url.setenv("LAKEHOUSE_DATA_ROOT", str(a_file))
    use_url.delenv("LAKEHOUSE_DATABASE_URL", raising=False)
    result = runner.invoke(app, ["datasets", "-c", "acme"])
    assert result.exit_code == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: unexpected NotADirectoryError")
    assert "Traceback" not in result.stdout + result.stderr


def test_a_malformed_url_never_echoes_its_password(use_url: pytest.MonkeyPatch) -> None:
    use_url.setenv("LAKEHOUSE_DATABASE_URL", "postgresql+psycopg//admin:hunter2@db.example/x")
    result = runner.invoke(app, ["db", "current"])
    assert result.exit_code == 1
    assert "hunter2" not in result.stderr and "admin:***@" in result.stderr


def test_version_prints_the_installed_version() -> None:
    from importlib import metadata

    import lakehouse
    from lakehouse.cli.main import app as root

    result = CliRunner().invoke(root, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"lakehouse {metadata.version('datahound-lakehouse')} (datahound-lakehouse)\n"
    assert metadata.version("datahound-lakehouse") == lakehouse.__version__
