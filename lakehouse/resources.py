"""Where the files that ship with the package are: migrations, the dbt project, saved queries, default config.

They live at the top of the repository (``migrations/``, ``dbt_project/``, ``queries/``, ``config/``);
a wheel carries copies of them as package data under ``lakehouse/_bundled/`` (pyproject.toml maps them
there, as Dagster ships its Alembic folder). :func:`resource_dir` answers with the bundled copy in an
installed wheel and with the repository's folder in a source checkout (``pip install -e .``).

These folders are read-only inputs: nothing is written into them. dbt writes its ``target/`` and
``logs/`` into each run's scratch folder (``--target-path``/``--log-path``), never into the project.
"""

from __future__ import annotations

from importlib import resources as importlib_resources
from pathlib import Path
from typing import Literal

from lakehouse.errors import LakehouseError

ResourceName = Literal["migrations", "dbt_project", "queries", "config"]

#: Every resource, by the name of its folder (at the top of the repository and under ``_bundled/``).
RESOURCE_NAMES: tuple[ResourceName, ...] = ("migrations", "dbt_project", "queries", "config")

#: The folder of the package that holds the copies in a wheel.
BUNDLE_DIR = "_bundled"

#: A file each folder holds, so that an unrelated folder of the same name is never taken for it.
_MARKERS: dict[ResourceName, str | None] = {
    "migrations": "env.py",
    "dbt_project": "dbt_project.yml",
    "queries": None,
    "config": "global.json",
}


class ResourceNotFoundError(LakehouseError):
    """A folder that ships with the package is neither bundled nor in a source checkout."""

    def __init__(self, name: str, looked_in: list[Path]) -> None:
        self.name = name
        self.looked_in = looked_in
        places = " or ".join(str(p) for p in looked_in)
        super().__init__(
            f"the package's {name}/ folder was not found (looked in {places}); reinstall the package"
        )


def bundled_root() -> Path:
    """``lakehouse/_bundled`` of the imported package (it exists only in an installed wheel)."""
    return Path(str(importlib_resources.files("lakehouse"))) / BUNDLE_DIR


def source_root() -> Path | None:
    """The repository root when the package is imported from a source checkout, else None."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() else None


def candidates(name: ResourceName) -> list[Path]:
    """The places :func:`resource_dir` looks for ``name``, in order: the bundled copy, the checkout."""
    places = [bundled_root() / name]
    root = source_root()
    if root is not None:
        places.append(root / name)
    return places


def find_resource(name: ResourceName) -> Path | None:
    """The folder ``name`` ships in (see :func:`resource_dir`), or None when there is none."""
    marker = _MARKERS[name]
    for place in candidates(name):
        if place.is_dir() and (marker is None or (place / marker).is_file()):
            return place
    return None


def resource_dir(name: ResourceName) -> Path:
    """The folder that ships as ``name``: the bundled copy in a wheel, the repository's in a checkout.

    Raises:
        ResourceNotFoundError: neither exists (a broken install); the message names both places.
    """
    found = find_resource(name)
    if found is None:
        raise ResourceNotFoundError(name, candidates(name))
    return found


def migrations_dir() -> Path:
    """The Alembic migrations folder (``env.py``, ``versions/``)."""
    return resource_dir("migrations")


def dbt_project_dir() -> Path:
    """The shipped dbt project that builds silver and gold."""
    return resource_dir("dbt_project")


def queries_dir() -> Path:
    """The shipped saved analyst queries (``<name>.sql``)."""
    return resource_dir("queries")


def default_config_dir() -> Path:
    """The shipped default config plane (``global.json``, ``events/``, ``extraction/``)."""
    return resource_dir("config")


def is_bundled(path: Path) -> bool:
    """Whether ``path`` lies inside the package's bundled copies (an installed wheel's package data)."""
    return path.resolve().is_relative_to(bundled_root().resolve())


__all__ = [
    "BUNDLE_DIR",
    "RESOURCE_NAMES",
    "ResourceName",
    "ResourceNotFoundError",
    "bundled_root",
    "candidates",
    "dbt_project_dir",
    "default_config_dir",
    "find_resource",
    "is_bundled",
    "migrations_dir",
    "queries_dir",
    "resource_dir",
    "source_root",
]
