"""Settings from the environment (pydantic-settings).

``LAKEHOUSE_DATABASE_URL`` — control-plane database; default: an embedded SQLite file at
``<data_root>/_control/lakehouse.db``. A PostgreSQL URL looks like
``postgresql+psycopg://postgres@127.0.0.1:5432/lakehouse``.
``LAKEHOUSE_DATA_ROOT`` — root of the Parquet zones (default ``./data``).
``LAKEHOUSE_CONFIG_DIR`` — the JSON config plane (default ``./config``).

Secrets are never read from files: a config file names the environment variable that holds one.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """The process settings; every field can be set with a ``LAKEHOUSE_`` environment variable."""

    model_config = SettingsConfigDict(env_prefix="LAKEHOUSE_", frozen=True, extra="ignore")

    data_root: Path = Field(
        default=Path("data"), description="Root folder (or file:// URI) of the Parquet zones."
    )
    config_dir: Path = Field(default=Path("config"), description="Folder of the JSON config plane.")
    database_url: str = Field(default="", description="SQLAlchemy URL of the control-plane database.")
    queries_dir: Path = Field(default=Path("queries"), description="Folder of saved analyst queries.")
    dbt_project_dir: Path = Field(
        default=Path("dbt_project"), description="The dbt project that builds silver/gold."
    )

    @model_validator(mode="after")
    def _default_database_url(self) -> Settings:
        if not self.database_url:
            db_file = (self.data_root / "_control" / "lakehouse.db").resolve()
            object.__setattr__(self, "database_url", f"sqlite:///{db_file}")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the settings of this process (read once from the environment)."""
    return Settings()
