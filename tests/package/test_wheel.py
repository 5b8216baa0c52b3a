"""The package as a wheel: built, installed into a fresh venv, and run from an empty folder.

The wheel must carry the migrations, the dbt project, the saved queries and the default config
(``lakehouse/_bundled/``), and ``lakehouse demo`` must work from any folder without writing into
site-packages (dbt's target/ and logs/ go to the run's scratch folder).

The fresh venv gets the wheel with ``--no-deps`` and reaches the dependencies of the running
environment through a ``.pth`` line (a plain path: the running environment's own ``.pth`` files, its
editable install of this repository included, are not processed). Set
``LAKEHOUSE_WHEEL_TEST_FULL_INSTALL=1`` to install the wheel with its dependencies from the package
index instead (it checks the wheel's declared dependencies too; about 30 s more with a warm pip cache).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# One worker builds and installs the wheel once for the module (make test runs --dist loadgroup).
pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.xdist_group("wheel")]

REPO = Path(__file__).resolve().parents[2]
FULL_INSTALL = os.environ.get("LAKEHOUSE_WHEEL_TEST_FULL_INSTALL", "").lower() in {"1", "true", "yes"}
TIMEOUT = 900


def _run(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without LAKEHOUSE_*/DBT_* settings or an active venv, plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LAKEHOUSE_", "DBT_")) and k not in {"PYTHONPATH", "VIRTUAL_ENV"}
    }
    env.update(extra)
    return env


def _snapshot(root: Path) -> dict[str, int]:
    """Every file under ``root`` but byte-code caches, with its size."""
    return {
        str(p.relative_to(root)): p.stat().st_size
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


class Installed:
    def __init__(self, venv: Path, wheel: Path) -> None:
        self.venv = venv
        self.wheel = wheel
        self.lakehouse = venv / "bin" / "lakehouse"
        self.python = venv / "bin" / "python"

    @property
    def package_dir(self) -> Path:
        out = _run([str(self.python), "-c", "import lakehouse; print(lakehouse.__file__)"], cwd=self.venv)
        return Path(out.stdout.strip()).parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    base = tmp_path_factory.mktemp("wheel")
    started = time.monotonic()
    dist = base / "dist"
    # Built from the source tree with the build backend of pyproject.toml (fetched from the index).
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(REPO)],
        cwd=base,
        env=_clean_env(),
    )
    (wheel,) = dist.glob("datahound_lakehouse-*.whl")
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base)
    python = venv / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
    if FULL_INSTALL:
        _run([*install, str(wheel)], cwd=base, env=_clean_env())
    else:
        _run([*install, "--no-deps", str(wheel)], cwd=base, env=_clean_env())
        purelib = _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=base
        ).stdout.strip()
        deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
        (Path(purelib) / "_lakehouse_test_deps.pth").write_text("".join(f"{d}\n" for d in sorted(deps)))
    print(f"wheel built and installed in {time.monotonic() - started:.1f} s")
    yield Installed(venv, wheel)


def test_the_wheel_bundles_migrations_dbt_project_queries_and_config(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for name in (
        "lakehouse/_bundled/migrations/env.py",
        "lakehouse/_bundled/migrations/script.py.mako",
        "lakehouse/_bundled/dbt_project/dbt_project.yml",
        "lakehouse/_bundled/dbt_project/profiles.yml",
        "lakehouse/_bundled/queries/revenue_by_month.sql",
        "lakehouse/_bundled/config/global.json",
        "lakehouse/resources.py",
    ):
        assert name in names
    for source in ("migrations/versions", "dbt_project/models", "config/events"):
        shipped = {p.relative_to(REPO).as_posix() for p in (REPO / source).rglob("*") if p.is_file()}
        shipped = {p for p in shipped if "__pycache__" not in p and not p.endswith(".pyc")}
        assert shipped and {f"lakehouse/_bundled/{p}" for p in shipped} <= names
    assert not [n for n in names if "__pycache__" in n or "/target/" in n or "/logs/" in n]
    # Only the package and its metadata: no top-level migrations/ or tests/ in site-packages.
    assert {n.split("/")[0] for n in names} == {"lakehouse", wheel_dist_info(installed.wheel)}


def wheel_dist_info(wheel: Path) -> str:
    name, version = wheel.name.split("-")[:2]
    return f"{name}-{version}.dist-info"


def test_demo_runs_from_an_empty_folder(installed: Installed, tmp_path: Path) -> None:
    package = installed.package_dir
    assert package.is_relative_to(installed.venv), package  # the wheel's copy, not the source tree
    bundled = package / "_bundled"
    before = _snapshot(package)
    work = tmp_path / "empty"
    work.mkdir()
    env = _clean_env(LAKEHOUSE_DATA_ROOT=str(tmp_path / "data"), COLUMNS="160")
    lakehouse = str(installed.lakehouse)

    version = _run([lakehouse, "--version"], cwd=work, env=env)
    assert version.stdout.startswith("lakehouse 0.1.0 (datahound-lakehouse)")
    help_text = _run([lakehouse, "--help"], cwd=work, env=env).stdout
    assert "LAKEHOUSE_DATA_ROOT" in help_text and str(bundled) in help_text

    # Without ./config every command uses the shipped default config, and says which it read.
    validate = _run([lakehouse, "config", "validate"], cwd=work, env=env)
    assert validate.stdout.strip().endswith(f"files valid in {bundled / 'config'}")
    # A config folder named that does not exist is an error naming it and the variable.
    missing = _run(
        [lakehouse, "build", "--company", "acme"],
        cwd=work,
        env={**env, "LAKEHOUSE_CONFIG_DIR": str(work / "mine")},
        check=False,
    )
    assert missing.returncode == 1
    assert str(work / "mine") in missing.stderr and "LAKEHOUSE_CONFIG_DIR" in missing.stderr

    started = time.monotonic()
    demo = _run([lakehouse, "demo", "--days", "7"], cwd=work, env=env)
    print(f"lakehouse demo --days 7: {time.monotonic() - started:.1f} s")
    out = demo.stdout
    assert f"config: {bundled / 'config'} (the default shipped with the package" in out
    assert "datasets published" in out
    assert "revenue by month since" in out
    assert "invoiced_total" in out and "collected_share" in out  # the query's table printed

    # dbt's own tools from the wheel, on the demo's data.
    models = _run([lakehouse, "dbt", "--", "ls", "--resource-type", "model"], cwd=work, env=env).stdout
    assert "lakehouse.gold.customer_360" in models or "customer_360" in models
    docs = _run([lakehouse, "docs"], cwd=work, env=env)
    site = tmp_path / "data" / "acme" / "_dev" / "docs" / "target"
    assert (site / "index.html").is_file() and str(site) in docs.stdout + docs.stderr

    assert list(work.iterdir()) == []  # nothing written into the working directory
    assert (tmp_path / "data" / "_control" / "lakehouse.db").is_file()
    assert not (bundled / "dbt_project" / "target").exists()
    assert not (bundled / "dbt_project" / "logs").exists()
    assert _snapshot(package) == before  # nothing written into site-packages


def test_shell_completion_of_the_installed_command(installed: Installed, tmp_path: Path) -> None:
    env = _clean_env(_LAKEHOUSE_COMPLETE="complete_bash", COMP_WORDS="lakehouse de", COMP_CWORD="1")
    result = _run([str(installed.lakehouse)], cwd=tmp_path, env=env)
    assert "demo" in result.stdout.split()
