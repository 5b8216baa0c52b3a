"""Atomic writes, checksums and immutable Parquet files."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakehouse.dataplane.atomic import (
    atomic_output,
    atomic_write_bytes,
    atomic_write_text,
    fsync_dir,
    hex_of,
    is_temp_name,
    sha256_file,
)
from lakehouse.dataplane.parquet_io import (
    WrittenFile,
    parquet_row_count,
    parquet_schema,
    read_footer_metadata,
    read_parquet,
    write_parquet,
)
from lakehouse.errors import DataPlaneError

META = {
    "lakehouse.schema_version": "1",
    "lakehouse.dataset": "jobs",
    "lakehouse.run_id": "20261130T054512Z-1a",
}


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if is_temp_name(p.name))


def _sha256sum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- atomic ----------------------------------------------------------------------------------------


def test_atomic_output_publishes_and_leaves_no_temp(tmp_path: Path) -> None:
    final = tmp_path / "sub" / "dir" / "file.txt"
    with atomic_output(final) as tmp:
        assert tmp.parent == final.parent
        assert tmp.name.startswith(".tmp-") and tmp.name.endswith("-file.txt")
        assert is_temp_name(tmp.name)
        tmp.write_text("hello")
        assert not final.exists()
    assert final.read_text() == "hello"
    assert _leftovers(final.parent) == []


def test_atomic_output_removes_temp_on_exception(tmp_path: Path) -> None:
    final = tmp_path / "file.txt"
    with pytest.raises(RuntimeError, match="boom"), atomic_output(final) as tmp:
        tmp.write_text("partial")
        raise RuntimeError("boom")
    assert not final.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_output_keeps_old_file_on_exception(tmp_path: Path) -> None:
    final = tmp_path / "file.txt"
    final.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_output(final) as tmp:
        tmp.write_text("new")
        raise KeyboardInterrupt
    assert final.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_atomic_output_replaces_by_default_and_refuses_when_asked(tmp_path: Path) -> None:
    final = tmp_path / "file.txt"
    atomic_write_text(final, "one")
    atomic_write_text(final, "two")
    assert final.read_text() == "two"
    with pytest.raises(DataPlaneError, match="already exists"):
        atomic_write_text(final, "three", overwrite=False)
    assert final.read_text() == "two"
    assert _leftovers(tmp_path) == []


def test_atomic_output_refuses_a_file_created_meanwhile(tmp_path: Path) -> None:
    final = tmp_path / "file.txt"
    with pytest.raises(DataPlaneError, match="already exists"), atomic_output(final, overwrite=False) as tmp:
        tmp.write_text("mine")
        final.write_text("someone else's")
    assert final.read_text() == "someone else's"
    assert _leftovers(tmp_path) == []


def test_atomic_output_with_nothing_written_fails(tmp_path: Path) -> None:
    with pytest.raises(DataPlaneError, match="nothing was written"), atomic_output(tmp_path / "f"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_bytes_and_checksum(tmp_path: Path) -> None:
    final = tmp_path / "blob.bin"
    data = bytes(range(256)) * 9000  # > 2 chunks of 1 MiB
    atomic_write_bytes(final, data)
    assert final.read_bytes() == data
    assert sha256_file(final) == "sha256:" + hashlib.sha256(data).hexdigest()
    assert hex_of(sha256_file(final)) == hashlib.sha256(data).hexdigest()


def test_atomic_write_text_keeps_newlines_and_utf8(tmp_path: Path) -> None:
    final = tmp_path / "t.txt"
    atomic_write_text(final, "é\nline2\n")
    assert final.read_bytes() == "é\nline2\n".encode()


def test_long_final_names_get_a_valid_temp_name(tmp_path: Path) -> None:
    final = tmp_path / ("x" * 250)
    with atomic_output(final) as tmp:
        assert len(tmp.name) <= 255
        tmp.write_text("ok")
    assert final.read_text() == "ok"


@pytest.mark.parametrize(
    "bad", ["", "sha256:", "md5:" + "0" * 64, "sha256:" + "g" * 64, "sha256:" + "A" * 64]
)
def test_hex_of_refuses_malformed_checksums(bad: str) -> None:
    with pytest.raises(DataPlaneError, match="malformed checksum"):
        hex_of(bad)


def test_sha256_file_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataPlaneError, match="cannot read"):
        sha256_file(tmp_path / "nope")


def test_fsync_dir_and_is_temp_name(tmp_path: Path) -> None:
    fsync_dir(tmp_path)
    assert is_temp_name(".tmp-abc-part.parquet")
    assert not is_temp_name("part-1.parquet")
    assert not is_temp_name("x.tmp-1")


# --- write_parquet ---------------------------------------------------------------------------------


def test_write_parquet_from_query(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "dataset=jobs" / "dt=2026-11-30" / "part-r1-00000.parquet"
    written = write_parquet(
        con,
        "SELECT i AS id, 'job ' || i AS name FROM range(?) t(i)",
        path,
        metadata=META,
        params=[1000],
    )
    assert isinstance(written, WrittenFile)
    assert written.path == path
    assert written.row_count == 1000
    assert written.size_bytes == path.stat().st_size
    assert written.checksum == "sha256:" + _sha256sum(path)
    assert read_footer_metadata(path) == META
    raw = pq.read_metadata(path).metadata
    assert raw[b"lakehouse.dataset"] == b"jobs"
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    assert parquet_row_count(path) == 1000
    assert parquet_schema(path).names == ["id", "name"]
    assert _leftovers(path.parent) == []


def test_write_parquet_from_relation_of_another_connection(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    other = duckdb.connect()
    rel = other.sql("SELECT 42 AS answer, 'x' AS label")
    written = write_parquet(con, rel, tmp_path / "rel.parquet", metadata={"k": "v"})
    other.close()
    assert written.row_count == 1
    assert read_parquet([written.path]).to_pylist() == [{"answer": 42, "label": "x"}]
    assert read_footer_metadata(written.path) == {"k": "v"}


def test_write_parquet_from_arrow_table(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    table = pa.table({"a": [1, 2, 3], "b": ["x", None, "z"]})
    written = write_parquet(con, table, tmp_path / "arrow.parquet")
    assert written.row_count == 3
    assert read_parquet([written.path], con=con).equals(table)
    assert read_footer_metadata(written.path) == {}
    assert [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()] == []


def test_write_parquet_refuses_to_overwrite(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    first = write_parquet(con, "SELECT 1 AS x", path)
    with pytest.raises(DataPlaneError, match="immutable"):
        write_parquet(con, "SELECT 2 AS x", path)
    assert sha256_file(path) == first.checksum
    assert _leftovers(tmp_path) == []


def test_failed_write_leaves_nothing(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    with pytest.raises(DataPlaneError, match="writing"):
        write_parquet(con, "SELECT * FROM no_such_table", path)
    with pytest.raises(DataPlaneError, match="writing"):
        write_parquet(con, "SELECT CAST('x' AS INTEGER) AS broken", path)
    assert list(tmp_path.iterdir()) == []


def test_write_parquet_quotes_paths_and_metadata(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    folder = tmp_path / "it's a dir'; DROP TABLE x; --"
    meta = {"note": "it's 'quoted'", "key'with": "quote"}
    written = write_parquet(con, "SELECT 1 AS x", folder / "p.parquet", metadata=meta)
    assert written.path.exists()
    assert read_footer_metadata(written.path) == meta


def test_write_parquet_refuses_bad_arguments(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    with pytest.raises(DataPlaneError, match="str to str"):
        write_parquet(con, "SELECT 1 AS x", tmp_path / "a.parquet", metadata={"n": 1})  # type: ignore[dict-item]
    with pytest.raises(DataPlaneError, match="params"):
        write_parquet(con, pa.table({"a": [1]}), tmp_path / "b.parquet", params=[1])
    with pytest.raises(DataPlaneError, match="cannot write"):
        write_parquet(con, [1, 2], tmp_path / "c.parquet")
    assert list(tmp_path.iterdir()) == []


# --- reads -----------------------------------------------------------------------------------------


def test_read_parquet_unions_by_name_with_hive_partitions(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    base = tmp_path / "dataset=jobs"
    a = write_parquet(
        con, "SELECT 1 AS id, 'a' AS name", base / "dt=2026-11-29" / "part-r-00000.parquet"
    ).path
    b = write_parquet(
        con, "SELECT 2 AS id, 9.5 AS extra", base / "dt=2026-11-30" / "part-r-00000.parquet"
    ).path
    table = read_parquet([a, str(b)])
    rows = sorted(table.to_pylist(), key=lambda r: r["id"])
    assert [r["id"] for r in rows] == [1, 2]
    assert rows[0]["name"] == "a" and rows[0]["extra"] is None
    assert rows[1]["extra"] == 9.5
    assert str(rows[1]["dt"]) == "2026-11-30"
    assert "dt" not in read_parquet([a], hive_partitioning=False).column_names


def test_read_parquet_takes_glob_characters_literally(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    base = tmp_path / "root[1]" / "dataset=jobs" / "dt=2026-11-30"
    write_parquet(
        con, "SELECT 'wrong' AS v", tmp_path / "root1" / "dataset=jobs" / "dt=2026-11-30" / "p.parquet"
    )
    right = write_parquet(con, "SELECT 'right' AS v", base / "p*.parquet").path
    assert read_parquet([right]).to_pylist() == [{"v": "right", "dataset": "jobs", "dt": date(2026, 11, 30)}]


def test_read_parquet_edge_cases(tmp_path: Path) -> None:
    assert read_parquet([]).num_rows == 0
    with pytest.raises(DataPlaneError, match="reading 1 Parquet"):
        read_parquet([tmp_path / "missing.parquet"])
    with pytest.raises(DataPlaneError, match="sequence"):
        read_parquet(str(tmp_path / "x.parquet"))


def test_footer_helpers_refuse_non_parquet(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.parquet"
    bogus.write_text("not parquet")
    for reader in (read_footer_metadata, parquet_row_count, parquet_schema):
        with pytest.raises(DataPlaneError, match="Parquet"):
            reader(bogus)
