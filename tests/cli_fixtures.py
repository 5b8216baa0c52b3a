"""Driving the CLI in tests: the settings of a test's environment, and the shapes of a result.

Its fixtures (``root``, ``src``, ``env``) are registered for every test by ``tests/conftest.py``
(a module may define its own); import the helpers: :func:`cli`, :func:`ok`, :func:`one_line_error`, :func:`as_json`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from lakehouse.cli.main import app
from lakehouse.settings import get_settings
from tests.data_fixtures import REPO

runner = CliRunner()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The data root of the test (created by the first write)."""
    return tmp_path / "data"


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A folder for the test's extracts."""
    return tmp_path / "extract"


@pytest.fixture
def env(db_url: str, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Settings for the CLI: the test's control plane (each backend), data root, a copy of the
    shipped config, and an empty queries folder."""
    monkeypatch.setenv("LAKEHOUSE_DATABASE_URL", db_url)
    monkeypatch.setenv("LAKEHOUSE_DATA_ROOT", str(root))
    monkeypatch.setenv("LAKEHOUSE_QUERIES_DIR", str(tmp_path / "queries"))
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    monkeypatch.setenv("LAKEHOUSE_CONFIG_DIR", str(config))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def cli(*args: str) -> Result:
    return runner.invoke(app, list(args))


def ok(*args: str) -> Result:
    """A command that must succeed."""
    result = cli(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def one_line_error(result: Result, exit_code: int = 1) -> str:
    """The single ``error:`` line of a failed command (exit 1 unless said, no traceback)."""
    assert result.exit_code == exit_code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)
