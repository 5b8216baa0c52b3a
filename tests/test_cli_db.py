"""`lakehouse db ...`: migrations from the command line, on both backends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse.cli.main import app
from lakehouse.db.migrate import head_revision
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

    down = runner.invoke(app, ["db", "downgrade", "base"])
    assert down.exit_code == 0, down.stderr
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
