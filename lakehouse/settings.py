"""Settings from the environment (pydantic-settings).

``LAKEHOUSE_DATABASE_URL`` — control-plane database; default: an embedded SQLite file at
``<data_root>/_control/lakehouse.db``. A PostgreSQL URL looks like
``postgresql+psycopg://postgres@127.0.0.1:5432/lakehouse``.
``LAKEHOUSE_DATA_ROOT`` — root of the Parquet zones (default ``./data``): a folder, a ``file://`` URI or
``s3://bucket/prefix`` (then ``LAKEHOUSE_DATABASE_URL`` is required, the AWS variables give the access
and ``LAKEHOUSE_STATE_DIR`` is this worker's local folder for scratch files and the catalog).
``LAKEHOUSE_CONFIG_DIR`` — the JSON config plane; ``LAKEHOUSE_DBT_PROJECT_DIR`` — the dbt project;
``LAKEHOUSE_QUERIES_DIR`` — the saved queries. Unset, each defaults to ``./config`` /
``./dbt_project`` / ``./queries`` when that folder exists in the working directory,
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
from lakehouse.errors import SettingsError

#: The folder names looked for in the working directory before the shipped copies are used.
LOCAL_DBT_PROJECT_DIR = Path("dbt_project")
LOCAL_QUERIES_DIR = Path("queries")
LOCAL_CONFIG_DIR = Path("config")


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


def default_config_dir() -> Path:
    """``./config`` if it exists, else the default config shipped with the package."""
    return _local_or_shipped(LOCAL_CONFIG_DIR, "config")


def default_queries_dir() -> Path:
    """``./queries`` if it exists, else the saved queries shipped with the package."""
    return _local_or_shipped(LOCAL_QUERIES_DIR, "queries")


class Settings(BaseSettings):
    """The process settings; every field can be set with a ``LAKEHOUSE_`` environment variable."""

    model_config = SettingsConfigDict(env_prefix="LAKEHOUSE_", frozen=True, extra="ignore")

    # str first: an s3:// URI must stay a string (a Path would make it "s3:/bucket/...")
    data_root: str | Path = Field(
        default="data", description="Root folder, file:// URI or s3://bucket/prefix of the Parquet zones."
    )
    state_dir: Path | None = Field(
        default=None,
        description="With an s3:// data root: this worker's local folder (scratch, catalog); default ~/.cache/lakehouse/<bucket>/<prefix>.",
    )
    config_dir: Path = Field(
        default_factory=default_config_dir,
        description="Folder of the JSON config plane (default ./config if it exists, else the shipped one).",
    )
    database_url: str = Field(default="", description="SQLAlchemy URL of the control-plane database.")
    db_pool_size: int = Field(
        default=5,
        ge=1,
        le=100,
        description="PostgreSQL: connections each process keeps open to the control plane.",
    )
    db_max_overflow: int = Field(
        default=5,
        ge=0,
        le=100,
        description="PostgreSQL: connections a process may open beyond the pool when busy.",
    )
    db_pool_timeout: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="PostgreSQL: seconds a call waits for a free pooled connection.",
    )
    db_statement_timeout: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="PostgreSQL: the longest one control-plane statement may run, in seconds (0: no limit).",
    )
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
            if self.data_root_is_remote:
                raise SettingsError(
                    f"LAKEHOUSE_DATA_ROOT={self.data_root} is on object storage: set LAKEHOUSE_DATABASE_URL "
                    "to the shared PostgreSQL control plane (the embedded SQLite file lives under a local root)"
                )
            db_file = (Path(self.data_root) / "_control" / "lakehouse.db").resolve()
            object.__setattr__(self, "database_url", f"sqlite:///{db_file}")
        return self

    @property
    def data_root_is_remote(self) -> bool:
        """Whether the data root is on object storage (``s3://``)."""
        return str(self.data_root).startswith("s3://")

    def config_dir_or_shipped(self) -> tuple[Path, bool]:
        """The config folder, and whether it is the default config shipped with the package (unset
        ``LAKEHOUSE_CONFIG_DIR`` and no ``./config``): ``demo`` and the ``dbt``/``docs`` sandboxes say so."""
        shipped = "config_dir" not in self.model_fields_set and self.config_dir != LOCAL_CONFIG_DIR
        return self.config_dir, shipped


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the settings of this process (read once from the environment)."""
    return Settings()
