"""The one quoting module (lakehouse.dataplane.sql): hostile identifiers, literals and paths round-trip
through DuckDB unchanged, or are refused; no other module holds a copy."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

import lakehouse
import lakehouse.dataplane.parquet_io as parquet_io
from lakehouse.dataplane.sql import quote_identifier, quote_literal, quote_reader_path, reader_path
from lakehouse.errors import DataPlaneError

HOSTILE = [
    "plain",
    'x" AS a, version() AS "b',
    "x' || version() || '",
    "'; DROP TABLE t; --",
    '""',
    "''",
    "a\nb",
    "a\r\nb\tc",
    "back\\slash\\",
    "/* comment */ --",
    "$$dollar$$",
    "sp ace",
    "CASE",
    "ünïcödé — ß",
    "日本語の列",
    "emoji 🦆",
    "rtl \u202e override",
    "zero\u200bwidth",
    "combining e\u0301",
    "x" * 3000,
]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


@pytest.mark.parametrize("value", HOSTILE)
def test_a_literal_reads_back_as_the_same_text(con: duckdb.DuckDBPyConnection, value: str) -> None:
    assert con.execute(f"SELECT {quote_literal(value)}").fetchall() == [(value,)]
    # One literal is one expression: nothing after it is parsed as SQL.
    [statement] = con.extract_statements(f"SELECT {quote_literal(value)} AS v")
    assert con.execute(statement.query).description[0][0] == "v"


@pytest.mark.parametrize("name", HOSTILE)
def test_an_identifier_names_exactly_one_column(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"CREATE TABLE t ({quote_identifier(name)} INTEGER)")
    con.execute(f"INSERT INTO t ({quote_identifier(name)}) VALUES (7)")
    assert [row[0] for row in con.execute("DESCRIBE t").fetchall()] == [name]
    rel = con.execute(f"SELECT {quote_identifier(name)} FROM t")
    assert [d[0] for d in rel.description] == [name]
    assert rel.fetchall() == [(7,)]


@pytest.mark.parametrize("quote", [quote_identifier, quote_literal])
@pytest.mark.parametrize("bad", ["a\x00b", "\x00", 'x"\x00"'])
def test_nul_is_refused_not_truncated(quote: object, bad: str) -> None:
    with pytest.raises(DataPlaneError, match="NUL character"):
        quote(bad)  # type: ignore[operator]


def test_empty_identifiers_and_non_text_are_refused() -> None:
    with pytest.raises(DataPlaneError, match="empty SQL identifier"):
        quote_identifier("")
    assert quote_literal("") == "''"
    with pytest.raises(DataPlaneError, match="must be text"):
        quote_identifier(1)  # type: ignore[arg-type]
    with pytest.raises(DataPlaneError, match="must be text"):
        quote_literal(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name",
    ["plain.csv", "it's.csv", 'dq".csv', "star*.csv", "q?.csv", "set[1].csv", "brace{a,b}.csv", "nl\nx.csv",
     "ünï 🦆.csv", "back\\slash.csv"],
)  # fmt: skip
def test_a_reader_path_reads_that_one_file(con: duckdb.DuckDBPyConnection, tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    target.write_text("v\nmine\n", encoding="utf-8")
    # Decoys that a glob reading of the name would pick up instead (or as well).
    for decoy in ("plain1.csv", "starX.csv", "q1.csv", "set1.csv", "bracea.csv", "braceb.csv"):
        if decoy != name:
            (tmp_path / decoy).write_text("v\ndecoy\n", encoding="utf-8")
    assert con.execute(f"SELECT v FROM read_csv({quote_reader_path(target)})").fetchall() == [("mine",)]
    assert con.execute("SELECT v FROM read_csv(?)", [reader_path(target)]).fetchall() == [("mine",)]


def test_quoting_is_defined_once_in_the_package() -> None:
    """No module but lakehouse.dataplane.sql defines or aliases a quoting helper (one copy)."""
    package = Path(lakehouse.__file__).parent
    pattern = re.compile(
        r"^\s*(def (quote_|sql_identifier|sql_string|duckdb_path)\w*|(sql_identifier|sql_string|duckdb_path)\s*=)",
        re.M,
    )
    offenders = [
        str(py.relative_to(package))
        for py in package.rglob("*.py")
        if py.name != "sql.py" and pattern.search(py.read_text(encoding="utf-8"))
    ]
    assert offenders == []
    assert not hasattr(parquet_io, "sql_identifier")
