"""Settings from the environment (pydantic-settings).

``LAKEHOUSE_DATABASE_URL`` — control-plane database; default: an embedded SQLite file at
``<data_root>/_control/lakehouse.db``. A PostgreSQL URL looks like
``postgresql+psycopg://postgres@127.0.0.1:5432/lakehouse``.
``LAKEHOUSE_DATA_ROOT`` — root of the Parquet zones (default ``./data``).
``LAKEHOUSE_CONFIG_DIR`` — the JSON config plane (default ``./config``; only ``lakehouse demo`` falls
back to the default config shipped with the package when that folder does not exist).
``LAKEHOUSE_DBT_PROJECT_DIR`` — the dbt project; ``LAKEHOUSE_QUERIES_DIR`` — the saved queries. Unset,
each defaults to ``./dbt_project`` / ``./queries`` when that folder exists in the working directory,
else to the copy shipped with the package (:mod:`lakehouse.resources`: the repository's folder in a
source checkout, ``lakehouse/_bundled/`` in an installed wheel).

Relative defaults are relative to the working directory of the process.

Secrets are never read from files: a config file names the environment variable that holds one.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lakehouse import resources

#: The folder names looked for in the working directory before the shipped copies are used.
LOCAL_DBT_PROJECT_DIR = Path("dbt_project")
LOCAL_QUERIES_DIR = Path("queries")


def _local_or_shipped(local: Path, name: resources.ResourceName) -> Path:
    """``local`` (relative to the working directory) if it is a folder, else the shipped copy of ``name``.

    With neither (a broken install), ``local`` itself, so that the command that needs it names it.
    """
    if local.is_dir():
        return local
    return resources.find_resource(name) or local


def default_dbt_project_dir() -> Path:
    """``./dbt_project`` if it exists, else the dbt project shipped with the package."""
    return _local_or_shipped(LOCAL_DBT_PROJECT_DIR, "dbt_project")


def default_queries_dir() -> Path:
    """``./queries`` if it exists, else the saved queries shipped with the package."""
    return _local_or_shipped(LOCAL_QUERIES_DIR, "queries")


class Settings(BaseSettings):
    """The process settings; every field can be set with a ``LAKEHOUSE_`` environment variable."""

    model_config = SettingsConfigDict(env_prefix="LAKEHOUSE_", frozen=True, extra="ignore")

    data_root: Path = Field(
        default=Path("data"), description="Root folder (or file:// URI) of the Parquet zones."
    )
    config_dir: Path = Field(default=Path("config"), description="Folder of the JSON config plane.")
    database_url: str = Field(default="", description="SQLAlchemy URL of the control-plane database.")
    queries_dir: Path = Field(
        default_factory=default_queries_dir,
        description="Folder of saved analyst queries (default ./queries if it exists, else the shipped ones).",
    )
    dbt_project_dir: Path = Field(
        default_factory=default_dbt_project_dir,
        description="The dbt project that builds silver/gold (default ./dbt_project if it exists, else the shipped one).",
    )

    @model_validator(mode="after")
    def _default_database_url(self) -> Settings:
        if not self.database_url:
            db_file = (self.data_root / "_control" / "lakehouse.db").resolve()
            object.__setattr__(self, "database_url", f"sqlite:///{db_file}")
        return self

    def config_dir_or_shipped(self) -> tuple[Path, bool]:
        """The config folder of what publishes nothing of its own config, and whether it is the
        shipped default config: ``lakehouse demo``, the ``dbt``/``docs`` sandboxes, and the
        ``default_company`` a command falls back to.

        ``config_dir``, unless it was not set (no ``LAKEHOUSE_CONFIG_DIR``) and ``./config`` does not
        exist: then the default config shipped with the package. Other commands use ``config_dir`` only.
        """
        if "config_dir" in self.model_fields_set or self.config_dir.is_dir():
            return self.config_dir, False
        shipped = resources.find_resource("config")
        return (shipped, True) if shipped is not None else (self.config_dir, False)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the settings of this process (read once from the environment)."""
    return Settings()
