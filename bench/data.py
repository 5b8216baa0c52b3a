"""Generated data sets shared by the figures, and the settings of a benchmark run.

Extracts are generated with the project's own generator (``lakehouse generate``: deterministic for
a company, days, scale and seed) and cached under ``bench/.cache/`` (git-ignored), so a second run
does not generate them again. A *bronze root* is a data root and SQLite control plane with the
first ``days`` of those extracts ingested (one ingest run), made fresh in the run's work folder.
Every data set has ``days + 1`` generated days: the last one is the "one more day" of the
incremental figure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench._report import log

REPO = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache"
COMPANY = "bench"
SEED = 42
BIN = Path(sys.executable).parent


@dataclass
class Settings:
    """What a run measures: the sizes, the repetitions, and where it writes."""

    scales: list[float]
    days: int
    repeat: int
    work: Path
    #: Repetitions of the build figures (each side of them takes seconds to minutes).
    build_repeat: int = 2
    quick: bool = False
    full: bool = False
    pg_url: str | None = None
    index_ingests: int = 200
    events_n: int = 1_000_000
    row_by_row_n: int = 5_000

    def describe(self) -> dict[str, object]:
        return {
            "scales": self.scales,
            "days": self.days,
            "repeat": self.repeat,
            "build_repeat": self.build_repeat,
            "quick": self.quick,
            "full": self.full,
            "postgresql": bool(self.pg_url),
            "index_ingests": self.index_ingests,
            "events_n": self.events_n,
            "row_by_row_n": self.row_by_row_n,
        }


@dataclass
class Extracts:
    """Generated daily extracts: ``days`` day folders plus one more (``extra_day``)."""

    scale: float
    days: int
    folder: Path
    day_folders: list[Path] = field(default_factory=list)

    @property
    def base_days(self) -> list[Path]:
        return self.day_folders[:-1]

    @property
    def extra_day(self) -> Path:
        return self.day_folders[-1]

    @property
    def size_bytes(self) -> int:
        """Bytes of the ``days`` base day folders (what a full ingest or build reads)."""
        return sum(f.stat().st_size for d in self.base_days for f in d.iterdir() if f.is_file())

    def files(self, days: list[Path] | None = None) -> list[Path]:
        return sorted(f for d in (days or self.base_days) for f in d.iterdir() if f.is_file())


def extracts(scale: float, days: int) -> Extracts:
    """The cached extracts of ``days + 1`` days at ``scale`` (generated on first use)."""
    from lakehouse.sample.generator import generate

    folder = CACHE / f"{COMPANY}-{days + 1}d-x{scale:g}-seed{SEED}"
    done = folder / ".complete"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        log(f"generating {days + 1} days at scale {scale:g} into {folder}")
        generate(COMPANY, folder / "days", days=days + 1, scale=scale, seed=SEED, truth_dir=folder / "truth")
        done.write_text("ok\n")
    day_folders = sorted(p for p in (folder / "days").iterdir() if p.is_dir())
    return Extracts(scale, days, folder, day_folders)


@dataclass
class Root:
    """A data root with its SQLite control plane: what the CLI runs on (see :meth:`env`)."""

    path: Path

    @property
    def data(self) -> Path:
        return self.path / "data"

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path / 'control.db'}"

    @property
    def catalog(self) -> Path:
        return self.data / COMPANY / "catalog.duckdb"

    def env(self) -> dict[str, str]:
        """The environment of a ``lakehouse`` command on this root."""
        return {
            **os.environ,
            "LAKEHOUSE_DATA_ROOT": str(self.data),
            "LAKEHOUSE_DATABASE_URL": self.url,
            "LAKEHOUSE_CONFIG_DIR": str(REPO / "config"),
            "LAKEHOUSE_DBT_PROJECT_DIR": str(REPO / "dbt_project"),
            "LAKEHOUSE_QUERIES_DIR": str(REPO / "queries"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }

    def copy(self, to: Path) -> Root:
        shutil.rmtree(to, ignore_errors=True)
        shutil.copytree(self.path, to)
        return Root(to)


def new_root(path: Path) -> Root:
    """An empty root with the control plane migrated."""
    from lakehouse.db.migrate import upgrade

    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    root = Root(path)
    upgrade(root.url, "head")
    return root


def ingest(root: Root, paths: list[Path]) -> int:
    """Ingest ``paths`` into the root's bronze (in this process); the rows ingested."""
    from lakehouse.dal import DataAccessLayer
    from lakehouse.dataplane.ingest import BronzeIngest
    from lakehouse.dataplane.zones import DataRoot
    from lakehouse.runtime import dataset_store

    dal = DataAccessLayer.from_url(root.url)
    try:
        store = dataset_store(dal, DataRoot.from_uri(str(root.data)))
        return BronzeIngest(store).run(COMPANY, paths).rows
    finally:
        dal.close()


_BRONZE: dict[tuple[float, int], Root] = {}
#: Rows ingested into each bronze root.
BRONZE_ROWS: dict[tuple[float, int], int] = {}


def bronze_root(settings: Settings, data: Extracts) -> Root:
    """A root with the base days of ``data`` ingested (made once per run and data set)."""
    key = (data.scale, data.days)
    if key not in _BRONZE:
        root = new_root(settings.work / f"bronze-x{data.scale:g}-{data.days}d")
        log(f"ingesting {data.days} days at scale {data.scale:g} (set-up)")
        BRONZE_ROWS[key] = ingest(root, data.base_days)
        _BRONZE[key] = root
    return _BRONZE[key]


#: Roots with a build done (bench_build leaves its own here for the query figures).
BUILT: dict[tuple[float, int], Root] = {}


def built_root(settings: Settings, data: Extracts) -> Root:
    """A copy of the bronze root with one ``lakehouse build`` done (silver, gold and the catalog)."""
    key = (data.scale, data.days)
    if key not in BUILT:
        root = bronze_root(settings, data).copy(settings.work / f"built-x{data.scale:g}-{data.days}d")
        log(f"building at scale {data.scale:g} (set-up)")
        lakehouse(root, "build", "-c", COMPANY)
        BUILT[key] = root
    return BUILT[key]


def lakehouse(root: Root, *args: str) -> Completed:
    """Run the ``lakehouse`` command on ``root`` (raises with its stderr if it fails)."""
    return run([str(BIN / "lakehouse"), *args], root.env())


class Completed(subprocess.CompletedProcess[str]):
    """A finished command and its peak resident memory (``ru_maxrss`` of ``wait4``), in bytes."""

    peak_rss: int = 0


def run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> Completed:
    """Run ``cmd`` to the end (raises with its stderr if it fails), measuring its peak memory.

    ``os.wait4`` gives the resource usage of this one child (and the children it waited for), so
    each command's peak RSS is its own, unlike ``getrusage(RUSAGE_CHILDREN)``'s running maximum.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        done = Completed(
            cmd, proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace")
        )
    done.peak_rss = usage.ru_maxrss * 1024  # kilobytes on Linux
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd[:4])} ... failed ({done.returncode}):\n{done.stderr[-3000:]}\n{done.stdout[-2000:]}"
        )
    return done
