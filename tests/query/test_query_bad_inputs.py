"""The bad-query corpus (``tests/data/bad/query/<case>/``): SQL that writes, reaches files outside the
company or is malformed, run through ``lakehouse query``. Each case is refused with one clear line
and exit 1, and nothing is written anywhere.

A case folder holds ``query.sql`` (``{DATA}`` stands for the data root) and ``expect.txt``, a
substring of the expected error line.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.dal import DataAccessLayer
from lakehouse.settings import get_settings
from tests.cli_fixtures import cli, one_line_error
from tests.data_fixtures import COMPANY, files_under, make_store, publish_table

CORPUS = Path(__file__).parents[1] / "data" / "bad" / "query"
CASES = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
OUTSIDE = [
    Path("/tmp/lakehouse-bad-query-copy.csv"),
    Path("/tmp/lakehouse-bad-query.duckdb"),
    Path("/tmp/lakehouse-bad-query-export"),
]


def test_the_corpus_is_there() -> None:
    assert len(CASES) >= 15


@pytest.mark.usefixtures("env")
@pytest.mark.parametrize("case", CASES)
def test_a_bad_query_is_refused_on_one_line_and_writes_nothing(case: str, root: Path) -> None:  # noqa: F811
    dal = DataAccessLayer.from_settings(get_settings())
    try:
        publish_table(make_store(dal, root), "gold", "kpis", pa.table({"k": [1, 2, 3]}))
    finally:
        dal.close()
    for path in OUTSIDE:
        assert not path.exists(), f"{path} is left from an earlier run: remove it"
    before = files_under(root)
    sql = (CORPUS / case / "query.sql").read_text().replace("{DATA}", str(root))
    expected = (CORPUS / case / "expect.txt").read_text().strip()

    line = one_line_error(cli("query", "-c", COMPANY, sql))
    assert expected.lower() in line.lower(), line
    assert files_under(root) == before  # nothing written into the lake
    assert not any(p.exists() for p in OUTSIDE)
    assert "/etc/passwd" not in line or "root:" not in line  # nothing of the file leaked
