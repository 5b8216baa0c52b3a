"""Where the shipped folders are (lakehouse/resources.py) and the settings defaults that use them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse import resources
from lakehouse.cli.main import app
from lakehouse.db import migrate
from lakehouse.settings import Settings

REPO = Path(__file__).resolve().parents[2]

_ENV = (
    "LAKEHOUSE_DATA_ROOT",
    "LAKEHOUSE_CONFIG_DIR",
    "LAKEHOUSE_DATABASE_URL",
    "LAKEHOUSE_DBT_PROJECT_DIR",
    "LAKEHOUSE_QUERIES_DIR",
)


@pytest.fixture
def empty_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory and no LAKEHOUSE_* settings in the environment."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def _fake_bundle(root: Path) -> Path:
    for name in resources.RESOURCE_NAMES:
        (root / name).mkdir(parents=True)
    (root / "migrations" / "env.py").write_text("")
    (root / "dbt_project" / "dbt_project.yml").write_text("name: x\n")
    (root / "config" / "global.json").write_text("{}")
    return root


def test_a_source_checkout_resolves_to_the_repository_folders() -> None:
    assert resources.source_root() == REPO
    assert not resources.bundled_root().exists()  # only a wheel carries lakehouse/_bundled
    assert resources.migrations_dir() == REPO / "migrations"
    assert resources.dbt_project_dir() == REPO / "dbt_project"
    assert resources.queries_dir() == REPO / "queries"
    assert resources.default_config_dir() == REPO / "config"
    assert migrate.migrations_dir() == REPO / "migrations"
    script_location = migrate.alembic_config("sqlite://").get_main_option("script_location")
    assert script_location == str(REPO / "migrations")
    assert not resources.is_bundled(REPO / "dbt_project")


def test_an_installed_bundle_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = _fake_bundle(tmp_path / "lakehouse" / "_bundled")
    monkeypatch.setattr(resources, "bundled_root", lambda: bundle)
    for name in resources.RESOURCE_NAMES:
        assert resources.resource_dir(name) == bundle / name
    assert resources.is_bundled(bundle / "dbt_project" / "models")
    # A folder that lacks its marker file is not taken for the resource.
    (bundle / "dbt_project" / "dbt_project.yml").unlink()
    assert resources.dbt_project_dir() == REPO / "dbt_project"


def test_a_missing_resource_names_every_place_looked_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resources, "bundled_root", lambda: tmp_path / "_bundled")
    monkeypatch.setattr(resources, "source_root", lambda: None)
    assert resources.find_resource("migrations") is None
    with pytest.raises(resources.ResourceNotFoundError, match="migrations/ folder was not found") as info:
        resources.migrations_dir()
    assert str(tmp_path / "_bundled" / "migrations") in str(info.value)


def test_settings_default_to_the_shipped_project_queries_and_config_outside_a_project(
    empty_cwd: Path,
) -> None:
    settings = Settings()
    assert settings.dbt_project_dir == REPO / "dbt_project"
    assert settings.queries_dir == REPO / "queries"
    assert settings.config_dir == REPO / "config"
    assert settings.data_root == "data"
    assert settings.database_url == f"sqlite:///{empty_cwd / 'data' / '_control' / 'lakehouse.db'}"


def test_settings_prefer_the_folders_of_the_working_directory(empty_cwd: Path) -> None:
    (empty_cwd / "dbt_project").mkdir()
    (empty_cwd / "queries").mkdir()
    (empty_cwd / "config").mkdir()
    settings = Settings()
    assert settings.dbt_project_dir == Path("dbt_project")
    assert settings.queries_dir == Path("queries")
    assert settings.config_dir == Path("config")


def test_settings_from_the_environment_win(
    empty_cwd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (empty_cwd / "dbt_project").mkdir()
    monkeypatch.setenv("LAKEHOUSE_DBT_PROJECT_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("LAKEHOUSE_QUERIES_DIR", str(tmp_path / "q"))
    settings = Settings()
    assert settings.dbt_project_dir == tmp_path / "mine"
    assert settings.queries_dir == tmp_path / "q"


def test_config_falls_back_to_the_shipped_one_only_when_unset_and_absent(
    empty_cwd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert Settings().config_dir == REPO / "config"
    assert Settings().config_dir_or_shipped() == (REPO / "config", True)
    (empty_cwd / "config").mkdir()
    assert Settings().config_dir_or_shipped() == (Path("config"), False)
    # An explicit LAKEHOUSE_CONFIG_DIR is used as given, even when it does not exist.
    monkeypatch.setenv("LAKEHOUSE_CONFIG_DIR", str(tmp_path / "absent"))
    assert Settings().config_dir_or_shipped() == (tmp_path / "absent", False)


def test_root_help_shows_the_defaults_and_shell_completion() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for text in (
        "./data (LAKEHOUSE_DATA_ROOT)",
        "./config when it exists, else the default config shipped with the package",
        "sqlite:///<data root>/_control/lakehouse.db (LAKEHOUSE_DATABASE_URL",
        "LAKEHOUSE_DBT_PROJECT_DIR, LAKEHOUSE_QUERIES_DIR",
        "--install-completion",
        "--show-completion",
    ):
        assert text in result.output
