"""Strict CSV / JSON / JSONL helpers and source staging."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import duckdb
import pytest

from lakehouse.dataplane.atomic import is_temp_name
from lakehouse.dataplane.csv_io import (
    STAGE_ERROR,
    STAGE_LINE,
    STAGE_RAW,
    count_physical_lines,
    drop_stage,
    not_utf8,
    read_csv,
    read_csv_header,
    stage_csv,
    write_csv,
)
from lakehouse.dataplane.json_io import (
    is_blank,
    read_json,
    read_jsonl,
    stage_jsonl,
    write_json_atomic,
    write_jsonl,
)
from lakehouse.errors import DataPlaneError, SchemaMismatchError


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def _objects(con: duckdb.DuckDBPyConnection) -> list[str]:
    tables = con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT internal").fetchall()
    views = con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    return sorted(str(r[0]) for r in tables + views)


def _staged(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[object, ...]]:
    return con.execute(f'SELECT * FROM "{table}" ORDER BY {STAGE_LINE}').fetchall()


# --- CSV files -------------------------------------------------------------------------------------


def test_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out" / "rows.csv"
    rows: list[dict[str, object]] = [
        {"id": "1", "text": 'comma, "quote"\nand newline', "flag": True, "at": datetime(2026, 11, 30, 5, 45)},
        {"id": "2", "text": None, "flag": False, "at": date(2026, 1, 2)},
        {"id": "3", "amount": Decimal("12.50")},
    ]
    assert write_csv(path, rows, ["id", "text", "flag", "at", "amount"]) == 3
    assert read_csv(path) == [
        {
            "id": "1",
            "text": 'comma, "quote"\nand newline',
            "flag": "true",
            "at": "2026-11-30T05:45:00",
            "amount": "",
        },
        {"id": "2", "text": "", "flag": "false", "at": "2026-01-02", "amount": ""},
        {"id": "3", "text": "", "flag": "", "at": "", "amount": "12.50"},
    ]
    assert [p.name for p in path.parent.iterdir() if is_temp_name(p.name)] == []


def test_write_csv_refuses_unknown_keys_and_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    with pytest.raises(DataPlaneError, match="unknown column"):
        write_csv(path, [{"id": "1"}, {"id": "2", "oops": 1}], ["id"])
    with pytest.raises(DataPlaneError, match="unique"):
        write_csv(path, [], ["a", "a"])
    with pytest.raises(DataPlaneError, match="cannot write"):
        write_csv(path, [{"id": object()}], ["id"])
    assert list(tmp_path.iterdir()) == []


def test_read_csv_is_strict(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,b\n1,2\n\n3\n")
    with pytest.raises(DataPlaneError, match="line 4: expected 2 fields, found 1"):
        read_csv(path)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataPlaneError, match="empty"):
        read_csv(tmp_path / "empty.csv")


def test_read_csv_header(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text('\ufeff id ,"na\nme"\n1,2\n')
    assert read_csv_header(path) == (("id", "na\nme"), 2)
    for text, message in [
        ("", "no header"),
        ("a,,b\n", "empty column name"),
        ("a,b,a\n", "repeated column name"),
        ("id,ID\n", "case-insensitive"),
        ("a,__lh_line\n", "reserved prefix"),
    ]:
        path.write_text(text)
        with pytest.raises(SchemaMismatchError, match=message):
            read_csv_header(path)


def test_count_physical_lines(tmp_path: Path) -> None:
    path = tmp_path / "f"
    for text, expected in [("", 0), ("a", 1), ("a\n", 1), ("a\nb", 2), ("a\r\nb\r\n", 2), ("\n\n", 2)]:
        path.write_text(text, newline="")
        assert count_physical_lines(path) == expected


# --- CSV staging -----------------------------------------------------------------------------------


def test_stage_csv_simple_file(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text('a,b\n1,x\n2,\n3,"y"\n')
    assert stage_csv(con, path, "st") == ("a", "b")
    columns = [r[0] for r in con.execute('DESCRIBE "st"').fetchall()]
    assert columns == [STAGE_LINE, STAGE_ERROR, STAGE_RAW, "a", "b"]
    assert _staged(con, "st") == [
        (2, None, None, "1", "x"),
        (3, None, None, "2", None),
        (4, None, None, "3", "y"),
    ]
    drop_stage(con, "st")
    assert _objects(con) == []


def test_stage_csv_malformed_rows_keep_exact_lines(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("a,b\n1,2\n3\n4,5,6\n7,8\n9,10\n11\n", newline="")
    stage_csv(con, path, "st")
    rows = _staged(con, "st")
    assert [(r[0], r[3], r[4]) for r in rows if r[1] is None] == [
        (2, "1", "2"),
        (5, "7", "8"),
        (6, "9", "10"),
    ]
    bad = [(r[0], r[2]) for r in rows if r[1] is not None]
    assert bad == [(3, "3"), (4, "4,5,6"), (7, "11")]
    assert all(str(r[1]).startswith("malformed CSV row") for r in rows if r[1] is not None)
    drop_stage(con, "st")
    assert _objects(con) == []


def test_stage_csv_quoted_newlines_and_blank_lines(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('a,b\n1,"two\nlines"\n\n2,x\n3\n4,"a ""quoted""\nvalue\nover 3 lines"\n5,y\n', newline="")
    stage_csv(con, path, "st")
    rows = _staged(con, "st")
    assert [(r[0], r[3]) for r in rows] == [(2, "1"), (5, "2"), (6, None), (7, "4"), (10, "5")]
    assert rows[0][4] == "two\nlines"
    assert rows[3][4] == 'a "quoted"\nvalue\nover 3 lines'
    assert rows[2][1] == "malformed CSV row: expected 2 fields, found 1" and rows[2][2] == "3"
    drop_stage(con, "st")
    assert _objects(con) == []


def test_stage_csv_multiline_values_without_blank_lines(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(
        b"id,transcript,note\r\n"
        b'1,"Agent: hi\r\nCaller: my AC is broken",x\r\n'  # lines 2-3
        b"2,short,\r\n"  # line 4
        b'3,"a\nb","c\nd\ne"\r\n'  # lines 5-8
        b"4,end,y\r\n"  # line 9
    )
    with caplog.at_level("INFO", logger="lakehouse.dataplane.csv_io"):
        stage_csv(con, path, "st")
    assert "csv module" not in caplog.text  # derived by DuckDB, not re-parsed
    rows = _staged(con, "st")
    assert [(r[0], r[3]) for r in rows] == [(2, "1"), (4, "2"), (5, "3"), (9, "4")]
    assert rows[0][4] == "Agent: hi\r\nCaller: my AC is broken"
    assert rows[2][4:] == ("a\nb", "c\nd\ne")


def test_stage_csv_crlf_and_bom(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_bytes("\ufeffa,b\r\n1,x\r\n2,y\r\n".encode())
    assert stage_csv(con, path, "st") == ("a", "b")
    assert [(r[0], r[3], r[4]) for r in _staged(con, "st")] == [(2, "1", "x"), (3, "2", "y")]


def test_stage_csv_keeps_insertion_order_setting(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    con.execute("SET preserve_insertion_order = false")
    path = tmp_path / "o.csv"
    path.write_text("a\n" + "".join(f"{i}\n" for i in range(5000)))
    stage_csv(con, path, "st")
    rows = _staged(con, "st")
    assert all(int(str(r[3])) + 2 == r[0] for r in rows)
    assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchone() == (False,)


# --- JSON ------------------------------------------------------------------------------------------


def test_jsonl_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    rows = [
        {"b": 1, "a": "é", "when": datetime(2026, 11, 30, 5, 45), "day": date(2026, 1, 2)},
        {"amount": Decimal("1.50"), "id": UUID(int=1), "nested": {"x": [1, 2]}},
    ]
    assert write_jsonl(path, rows) == 2
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == '{"a":"é","b":1,"day":"2026-01-02","when":"2026-11-30T05:45:00"}'
    assert read_jsonl(path) == [
        {"a": "é", "b": 1, "day": "2026-01-02", "when": "2026-11-30T05:45:00"},
        {"amount": "1.50", "id": "00000000-0000-0000-0000-000000000001", "nested": {"x": [1, 2]}},
    ]


def test_write_jsonl_refuses_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    with pytest.raises(DataPlaneError, match="JSON"):
        write_jsonl(path, [{"x": float("nan")}])
    with pytest.raises(DataPlaneError, match="cannot write a object"):
        write_jsonl(path, [{"x": object()}])
    with pytest.raises(DataPlaneError, match="not a mapping"):
        write_jsonl(path, [[1, 2]])  # type: ignore[list-item]
    assert list(tmp_path.iterdir()) == []


def test_read_jsonl_names_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2,}\n')
    with pytest.raises(DataPlaneError, match=r"bad.jsonl: line 3, column 9: invalid JSON"):
        read_jsonl(path)
    path.write_text('{"a": 1}\n[1]\n')
    with pytest.raises(DataPlaneError, match="line 2, column 1: expected a JSON object"):
        read_jsonl(path)
    path.write_text('{"a": NaN}\n')
    with pytest.raises(DataPlaneError, match="line 1"):
        read_jsonl(path)


def test_json_document_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "doc.json"
    doc = {"z": 1, "a": {"y": [1, 2], "b": None}, "when": date(2026, 11, 30)}
    write_json_atomic(path, doc)
    text = path.read_text()
    assert (
        text
        == json.dumps({"a": {"b": None, "y": [1, 2]}, "when": "2026-11-30", "z": 1}, indent=2, sort_keys=True)
        + "\n"
    )
    assert read_json(path) == {"a": {"b": None, "y": [1, 2]}, "when": "2026-11-30", "z": 1}
    assert [p.name for p in path.parent.iterdir()] == ["doc.json"]


def test_read_json_errors_name_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "a": 1,\n  "b": oops\n}\n')
    with pytest.raises(DataPlaneError, match=r"bad.json: line 3, column 8: invalid JSON"):
        read_json(path)
    with pytest.raises(DataPlaneError, match="cannot read JSON file"):
        read_json(tmp_path / "missing.json")
    with pytest.raises(DataPlaneError, match="JSON"):
        write_json_atomic(tmp_path / "nan.json", {"x": float("inf")})
    assert not (tmp_path / "nan.json").exists()


# --- JSONL staging ---------------------------------------------------------------------------------


def test_stage_jsonl(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_bytes(
        (
            '\ufeff{"id": "a", "n": 1}\r\n'
            "\n"
            "   \n"
            '{"n": 2.50, "id": "b", "extra": {"x": [1]}, "flag": true, "s": "q\\"uote"}\r\n'
            "{not json\n"
            "[1, 2]\n"
            '"text"\n'
            '{"id": null, "n": 3}\n'
        ).encode()
    )
    assert stage_jsonl(con, path, "st") == ("id", "n", "extra", "flag", "s")
    rows = _staged(con, "st")
    assert [r[0] for r in rows] == [1, 4, 5, 6, 7, 8]
    assert rows[0][3:] == ("a", "1", None, None, None)
    assert rows[1][3:] == ("b", "2.5", '{"x":[1]}', "true", 'q"uote')
    assert (
        str(rows[2][1]).startswith("unparseable JSON line: Expecting property name")
        and rows[2][2] == "{not json"
    )
    assert rows[3][1] == "not a JSON object: found an array"
    assert rows[4][1] == "not a JSON object: found a string"
    assert rows[5][3:5] == (None, "3")
    drop_stage(con, "st")
    assert _objects(con) == []


def test_stage_jsonl_empty_and_reserved(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_text("\n")
    assert stage_jsonl(con, path, "st") == ()
    assert _staged(con, "st") == []
    drop_stage(con, "st")
    path.write_text('{"__lh_line": 1}\n')
    with pytest.raises(SchemaMismatchError, match="reserved prefix"):
        stage_jsonl(con, path, "st2")
    path.write_text('{"id": 1}\n{"ID": 2}\n')
    with pytest.raises(SchemaMismatchError, match="differ only by case"):
        stage_jsonl(con, path, "st2")
    assert _objects(con) == []
    with pytest.raises(DataPlaneError, match="does not exist"):
        stage_jsonl(con, tmp_path / "missing.jsonl", "st3")
    with pytest.raises(DataPlaneError, match="does not exist"):
        stage_csv(con, tmp_path / "missing.csv", "st4")
    assert _objects(con) == []


def test_staging_reads_file_names_with_glob_characters_literally(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    (tmp_path / "x1.csv").write_text("a\nwrong\n")
    (tmp_path / "x[1].csv").write_text("a\nright\n")
    stage_csv(con, tmp_path / "x[1].csv", "st")
    assert [r[3] for r in _staged(con, "st")] == ["right"]
    (tmp_path / "y-other.jsonl").write_text('{"a": "wrong"}\n')
    (tmp_path / "y*.jsonl").write_text('{"a": "right"}\n')
    stage_jsonl(con, tmp_path / "y*.jsonl", "st2")
    assert [r[3] for r in _staged(con, "st2")] == ["right"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"a,b\n1,Ren\xe9e\n", "line 2: not UTF-8 text (byte 0xe9 at offset 9)"),
        (b"\xff\xfea\x00,\x00b\x00", "the file is UTF-16 text"),
        (b"a\n" + b"x" * (1 << 20) + b"\n\xc3(\n", "line 3: not UTF-8 text (byte 0xc3 at offset 1,048,579)"),
        (
            b"x" * ((1 << 20) - 1) + "\u00e9".encode() + b"\n\xe9",
            "line 2: not UTF-8 text (byte 0xe9 at offset",
        ),
    ],
    ids=["latin-1", "utf-16", "past-the-first-chunk", "character-cut-by-the-chunk-then-bad-end"],
)
def test_not_utf8_names_the_first_bad_byte_and_its_line(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    error = not_utf8(path)
    assert message in str(error) and "save the extract as UTF-8" in str(error)


def test_a_header_or_jsonl_that_is_not_utf8_is_refused_naming_the_line(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"a,b\n1,Ren\xe9e\n")
    with pytest.raises(DataPlaneError, match=r"line 2: not UTF-8 text \(byte 0xe9 at offset 9\)"):
        read_csv_header(path)
    jsonl = tmp_path / "x.jsonl"
    jsonl.write_bytes(b'{"a": "ok"}\n{"a": "Ren\xe9e"}\n')
    with pytest.raises(DataPlaneError, match="line 2: not UTF-8 text"):
        stage_jsonl(con, jsonl, "st")
    assert _objects(con) == []


def test_is_blank(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    for text, blank in [(b"", True), (b"\n \r\n\t", True), (b"\xef\xbb\xbf\n", True), (b"\n{}", False)]:
        path.write_bytes(text)
        assert is_blank(path) is blank, text
