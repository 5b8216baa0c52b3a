"""dbt's partial parse across the tests of one process: a stable ``tmp_path`` and a carried parse cache.

dbt parses the project in full (3-4 s here) unless the ``partial_parse.msgpack`` of an earlier run
was made with the same vars and profile, and the profile names the build's DuckDB file, whose path
holds the data root (``<data_root>/<company>/_work/dbt-current/build.duckdb``). Each test's data
root was a new ``tmp_path``, so every build of the suite parsed in full.

Here ``tmp_path`` is the same folder for every test of a test process (emptied before each test;
the session's base folder stays unique, so two sessions never share it), and the build fixtures call
:func:`seed_parse_cache` before their first build: it puts back the parse caches earlier tests of
the process left at the same paths. dbt checks a seeded cache as it checks any other (project
files, vars, profile, dbt version) and parses in full when it does not fit, so a seed can make a
build faster, never different. A test that needs a first build to parse in full does not seed.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.dataplane.maintenance import WORK_DIR
from lakehouse.transform.dbt_runner import PARSE_CACHE

#: Where parse caches sit under a data root: a company's builds, and its dbt/docs sandboxes.
_PATTERNS = (f"*/{WORK_DIR}/{PARSE_CACHE}", "*/_dev/*/target/partial_parse.msgpack")
#: The caches the tests of this process left, by absolute path (the same path in every test).
_caches: dict[Path, bytes] = {}
_seeded: set[Path] = set()


@pytest.fixture
def tmp_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An empty folder for the test, at the same path for every test of this process."""
    path = tmp_path_factory.getbasetemp() / "test"
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():  # something of an earlier test still holds a file there: a folder of its own
        path = tmp_path_factory.mktemp("test")
    path.mkdir(parents=True, exist_ok=True)
    yield path
    for root in sorted(_seeded):
        for pattern in _PATTERNS:
            for cache in root.glob(pattern):
                _caches[cache] = cache.read_bytes()
    _seeded.clear()


def seed_parse_cache(data_root: Path) -> None:
    """Put back, under ``data_root``, the dbt parse caches earlier tests of this process left there.

    The caches this test leaves under ``data_root`` are kept for the next tests.
    """
    _seeded.add(data_root)
    for path, content in _caches.items():
        if path.is_relative_to(data_root) and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
