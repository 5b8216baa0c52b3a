"""Ingest formats users have: another field separator, another character set, gzip-compressed extracts
and header names in another case, end to end through `lakehouse ingest` and BronzeIngest, with the
rows read back from bronze, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner, Result

from lakehouse.cli.main import app
from lakehouse.dataplane.ingest import BronzeIngest, ReadOptions
from lakehouse.dataplane.schemas import RAW_SCHEMAS
from lakehouse.dataplane.store import DatasetStore
from lakehouse.errors import (
    DataPlaneError,
    DataRefusedError,
    InvalidArgumentError,
    LakehouseError,
    RowValidationError,
    SchemaMismatchError,
)
from lakehouse.sample.generator import generate
from lakehouse.settings import get_settings
from tests.data_fixtures import COMPANY, JOBS_HEADER, REPO, data_files, files_under, job_row

runner = CliRunner()
DAY = "2026-09-30"
CUSTOMERS_HEADER: tuple[str, ...] = RAW_SCHEMAS["customers"].column_names
LINEAGE = ("_ingest_run_id", "_ingested_at", "_source_file")


# --- fixtures and helpers --------------------------------------------------------------------------


@pytest.fixture
def env(
    db_url: str, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: DatasetStore
) -> Iterator[DatasetStore]:
    """The CLI's settings on this test's control plane and data root; yields a store over both."""
    monkeypatch.setenv("LAKEHOUSE_DATABASE_URL", db_url)
    monkeypatch.setenv("LAKEHOUSE_DATA_ROOT", str(root))
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    monkeypatch.setenv("LAKEHOUSE_CONFIG_DIR", str(config))
    get_settings.cache_clear()
    yield store
    get_settings.cache_clear()


def ok(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def one_line_error(*args: str, error: type[LakehouseError] = DataRefusedError) -> str:
    """The one error line of a command that fails with ``error`` (and that error's exit code)."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == error.exit_code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


def usage_error(*args: str) -> str:
    """The message of a usage error (exit code 2), its box and line breaks taken out."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return " ".join(result.stderr.replace("│", " ").replace("╭", " ").replace("╰", " ").split())


def customer(customer_id: str, **overrides: str) -> list[str]:
    """One valid row of ``customers`` in schema column order."""
    values = {
        "customer_id": customer_id,
        "name": "Ann Lee",
        "customer_type": "residential",
        "email": "",
        "phone": "",
        "street": "",
        "city": "Austin",
        "state": "TX",
        "zip": "",
        "created_at": "2026-09-01 08:00:00",
        "updated_at": "2026-09-01 08:00:00",
        "do_not_service": "false",
    }
    assert not set(overrides) - set(values)
    values.update(overrides)
    return [values[c] for c in CUSTOMERS_HEADER]


def write_delimited(
    path: Path,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> Path:
    """A CSV extract with ``delimiter`` between fields, in ``encoding``; folders are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def gzipped(path: Path, target: Path | None = None) -> Path:
    """``path`` gzip-compressed to ``target`` (default ``<path>.gz``)."""
    out = target or path.with_name(path.name + ".gz")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
    return out


def bronze(store: DatasetStore, dataset: str, company: str = COMPANY) -> list[dict[str, Any]]:
    """The rows of a bronze dataset without the lineage that differs between runs, in file order."""
    table: pa.Table = store.read_dataset(company, "bronze", dataset)
    rows = [{k: v for k, v in row.items() if k not in LINEAGE} for row in table.to_pylist()]
    return sorted(rows, key=lambda r: (str(r["dt"]), r["_source_line"]))


def sources_of(store: DatasetStore, run_id: str) -> list[dict[str, Any]]:
    """The input manifest entries of a run, as recorded on the control plane."""
    manifest = store.dal.get_pipeline_run(run_id).input_manifest
    assert manifest is not None
    return list(manifest["sources"])


def nothing_published(store: DatasetStore, root: Path) -> None:
    assert store.dal.list_dataset_versions(COMPANY) == []
    assert data_files(root) == []
    assert [f for f in files_under(root) if "/_rejects/" in f or "/_work/" in f] == []


# --- delimiter -------------------------------------------------------------------------------------


def test_a_semicolon_csv_ingests_with_delimiter(env: DatasetStore, src: Path, root: Path) -> None:
    rows = [customer("C1", name="Smith, John"), customer("C2", city="Saint-Étienne")]
    path = write_delimited(src / DAY / "customers.csv", CUSTOMERS_HEADER, rows, delimiter=";")

    # Read as commas, the header is one column: the error names the file and the likely separator.
    line = one_line_error("ingest", str(path), "-c", COMPANY, error=SchemaMismatchError)
    assert str(path) in line and "missing required column(s) customer_id" in line
    assert "--delimiter ';'" in line
    nothing_published(env, root)

    summary = json.loads(ok("ingest", str(path), "-c", COMPANY, "--delimiter", ";", "-o", "json").stdout)
    got = bronze(env, "customers")
    assert [(r["customer_id"], r["name"], r["city"], r["_source_line"]) for r in got] == [
        ("C1", "Smith, John", "Austin", 2),
        ("C2", "Ann Lee", "Saint-Étienne", 3),
    ]
    [source] = sources_of(env, summary["run_id"])
    assert (source["delimiter"], source["encoding"], source["compression"]) == (";", "utf-8", "none")
    assert source["header_case"] == "exact"


def test_a_malformed_row_of_a_semicolon_csv_is_named_by_line(
    env: DatasetStore, src: Path, root: Path
) -> None:
    rows = [customer("C1"), customer("C2")[:-1], customer("C3")]  # line 3 lacks a field
    path = write_delimited(src / DAY / "customers.csv", CUSTOMERS_HEADER, rows, delimiter=";")
    line = one_line_error("ingest", str(path), "-c", COMPANY, "--delimiter", ";", error=RowValidationError)
    assert f"{path}, line 3: malformed CSV row" in line
    nothing_published(env, root)

    text = ok("ingest", str(path), "-c", COMPANY, "--delimiter", ";", "--on-error", "quarantine").stdout
    assert "1 row(s) quarantined" in text
    assert [r["customer_id"] for r in bronze(env, "customers")] == ["C1", "C3"]


@pytest.mark.parametrize("flag", ["tab", "\\t", "\t"])
def test_a_tab_separated_csv_ingests(env: DatasetStore, src: Path, flag: str) -> None:
    rows = [customer("C1", name="Lee; Ann, PhD"), customer("C2", street="1 Main St | Apt 2")]
    path = write_delimited(src / DAY / "customers.csv", CUSTOMERS_HEADER, rows, delimiter="\t")
    summary = json.loads(ok("ingest", str(path), "-c", COMPANY, "--delimiter", flag, "-o", "json").stdout)
    got = bronze(env, "customers")
    assert [(r["name"], r["street"]) for r in got] == [
        ("Lee; Ann, PhD", None),
        ("Ann Lee", "1 Main St | Apt 2"),
    ]
    assert sources_of(env, summary["run_id"])[0]["delimiter"] == "\t"


def test_a_pipe_separated_undeclared_dataset_is_inferred_with_its_delimiter(
    ingest: BronzeIngest, store: DatasetStore, src: Path
) -> None:
    path = write_delimited(
        src / DAY / "widgets.csv", ["id", "qty", "label"], [["1", "5", "a,b"], ["2", "7", "c"]], delimiter="|"
    )
    result = ingest.run(COMPANY, [path], delimiter="|")
    assert result.rows == 2
    got = bronze(store, "widgets")
    assert [(r["id"], r["qty"], r["label"]) for r in got] == [(1, 5, "a,b"), (2, 7, "c")]


# --- encoding --------------------------------------------------------------------------------------


def test_a_latin1_csv_round_trips_to_unicode_in_bronze(env: DatasetStore, src: Path, root: Path) -> None:
    rows = [customer("C1", name="René Müller", city="Zürich"), customer("C2", name="Françoise Dupré")]
    path = write_delimited(src / DAY / "customers.csv", CUSTOMERS_HEADER, rows, encoding="latin-1")

    line = one_line_error("ingest", str(path), "-c", COMPANY)
    assert f"{path}: line 2: not UTF-8 text (byte 0xe9" in line and "--encoding latin-1" in line
    nothing_published(env, root)

    summary = json.loads(ok("ingest", str(path), "-c", COMPANY, "--encoding", "latin-1", "-o", "json").stdout)
    got = bronze(env, "customers")
    assert [(r["name"], r["city"]) for r in got] == [("René Müller", "Zürich"), ("Françoise Dupré", "Austin")]
    assert got[0]["name"] == "Ren\u00e9 M\u00fcller"  # one code point each, not mojibake
    [source] = sources_of(env, summary["run_id"])
    assert source["encoding"] == "iso8859-1"  # the canonical name of latin-1


@pytest.mark.parametrize(
    ("encoding", "name"),
    [("cp1252", "Zoë’s café — €5"), ("utf-16", "Łódź Ωmega 東京"), ("iso-8859-15", "Œuvre €")],
)
def test_other_encodings_are_transcoded(
    ingest: BronzeIngest, store: DatasetStore, src: Path, encoding: str, name: str
) -> None:
    path = write_delimited(
        src / DAY / "customers.csv", CUSTOMERS_HEADER, [customer("C1", name=name)], encoding=encoding
    )
    result = ingest.run(COMPANY, [path], encoding=encoding)
    assert result.rows == 1
    assert [r["name"] for r in bronze(store, "customers")] == [name]


def test_bytes_that_are_not_the_encoding_are_named_by_line(
    ingest: BronzeIngest, store: DatasetStore, src: Path, root: Path
) -> None:
    path = src / DAY / "customers.csv"
    good = write_delimited(path, CUSTOMERS_HEADER, [customer("C1"), customer("C2")], encoding="cp1252")
    good.write_bytes(good.read_bytes() + ",".join(customer("C3", name="X\x81Y")).encode("latin-1") + b"\n")
    with pytest.raises(DataPlaneError, match=r"customers\.csv: line 4: not cp1252 text \(byte 0x81"):
        ingest.run(COMPANY, [path], encoding="cp1252", on_error="quarantine")
    nothing_published(store, root)


def test_a_latin1_jsonl_file_round_trips(ingest: BronzeIngest, store: DatasetStore, src: Path) -> None:
    record = {
        "call_id": "K1",
        "from_number": "+15550100",
        "direction": "inbound",
        "started_at": "2026-09-30 10:00:00",
        "duration_seconds": 60,
        "outcome": "booked",
        "transcript": "Grüß Gott, ça va?",
        "updated_at": "2026-09-30 10:00:00",
    }
    path = src / DAY / "calls.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes((json.dumps(record, ensure_ascii=False) + "\n").encode("latin-1"))
    ingest.run(COMPANY, [path], encoding="latin-1")
    assert [r["transcript"] for r in bronze(store, "calls")] == ["Grüß Gott, ça va?"]


def test_a_quarantined_row_of_a_latin1_file_keeps_its_decoded_text(
    ingest: BronzeIngest, store: DatasetStore, src: Path, root: Path
) -> None:
    rows = [customer("C1", name="Anaïs"), customer("C2", name="Jürgen", customer_type="alien")]
    path = write_delimited(src / DAY / "customers.csv", CUSTOMERS_HEADER, rows, encoding="latin-1")
    result = ingest.run(COMPANY, [path], encoding="latin-1", on_error="quarantine")
    assert (result.rows, result.rejected_rows) == (1, 1)
    [rejects] = result.rejects_files
    [reject] = [json.loads(line) for line in store.root.resolve(rejects).read_text().splitlines()]
    assert reject["line"] == 3 and "Jürgen" in reject["raw"] and reject["header"].startswith("customer_id,")
    assert [r["name"] for r in bronze(store, "customers")] == ["Anaïs"]


# --- gzip ------------------------------------------------------------------------------------------


def test_gzipped_extracts_ingest_row_for_row_like_the_plain_ones(
    ingest: BronzeIngest, store: DatasetStore, tmp_path: Path
) -> None:
    """The generator's extracts (multi-line transcripts, quiet days with an empty calls.jsonl), once as
    they are and once each file gzip-compressed (``.csv.gz``, ``.jsonl.gz``), into two companies."""
    plain = tmp_path / "plain"
    generate(COMPANY, plain, days=3, scale=0.01, seed=7)
    packed = tmp_path / "packed"
    for file in sorted(p for p in plain.rglob("*") if p.is_file()):
        gzipped(file, packed / file.relative_to(plain).parent / (file.name + ".gz"))
    assert any(p.name == "calls.jsonl.gz" for p in packed.rglob("*"))

    ingest.run(COMPANY, [plain])
    result = ingest.run("globex", [packed])
    assert result.run_id is not None
    for dataset in RAW_SCHEMAS:
        assert bronze(store, dataset, "globex") == bronze(store, dataset, COMPANY), dataset
    assert store.read_dataset("globex", "bronze", "jobs").num_rows > 0

    sources = sources_of(store, result.run_id)
    assert {s["compression"] for s in sources} == {"gzip"}
    assert {s["format"] for s in sources} == {"csv", "jsonl"}
    again = ingest.run("globex", [packed])  # claimed by the sha256 of the compressed bytes
    assert again.run_id is None and len(again.skipped) == len(sources)


def test_a_csv_gz_and_a_jsonl_gz_ingest_through_the_cli(env: DatasetStore, src: Path, tmp_path: Path) -> None:
    plain = write_delimited(tmp_path / "plain" / "jobs.csv", JOBS_HEADER, [job_row("J1"), job_row("J2")])
    gzipped(plain, src / DAY / "jobs.csv.gz")
    calls = tmp_path / "plain" / "calls.jsonl"
    calls.write_text(
        json.dumps(
            {
                "call_id": "K1",
                "from_number": "+15550100",
                "direction": "inbound",
                "started_at": "2026-09-30 10:00:00",
                "duration_seconds": 60,
                "outcome": "booked",
                "updated_at": "2026-09-30 10:00:00",
            }
        )
        + "\n\n"
    )
    gzipped(calls, src / DAY / "calls.jsonl.gz")
    summary = json.loads(ok("ingest", str(src), "-c", COMPANY, "-o", "json").stdout)
    assert summary["files_ingested"] == 2 and summary["rows"] == 3
    jobs = bronze(env, "jobs")
    assert [(r["job_id"], r["_source_line"]) for r in jobs] == [("J1", 2), ("J2", 3)]
    assert (
        env.read_dataset(COMPANY, "bronze", "jobs").column("_source_file").to_pylist()
        == [str(src / DAY / "jobs.csv.gz")] * 2
    )
    assert [r["call_id"] for r in bronze(env, "calls")] == ["K1"]


def _truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _damaged(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    path.write_bytes(bytes(data))


def _bad_checksum(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:-8] + bytes(4) + data[-4:])  # the gzip trailer's CRC32


def _not_gzip(path: Path) -> None:
    path.write_bytes(b"job_id,customer_id\nJ1,C1\n")


def _emptied(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize(
    ("spoil", "expected"),
    [
        (_truncated, "truncated"),
        (_damaged, "not a complete gzip file"),
        (_bad_checksum, "damaged (CRC check failed"),
        (_not_gzip, "damaged (Not a gzipped file"),
        (_emptied, "it is empty"),
    ],
)
@pytest.mark.parametrize("on_error", ["abort", "quarantine"])
def test_a_truncated_or_damaged_gzip_is_refused_naming_the_file(
    env: DatasetStore, src: Path, root: Path, tmp_path: Path, spoil: Any, expected: str, on_error: str
) -> None:
    rows = [job_row(f"J{i}", job_type=f"repair number {i} " * 4) for i in range(3000)]
    good = gzipped(
        write_delimited(tmp_path / "plain" / "jobs.csv", JOBS_HEADER, rows), src / DAY / "jobs.csv.gz"
    )
    gzipped(write_delimited(tmp_path / "plain" / "customers.csv", CUSTOMERS_HEADER, [customer("C1")]),
            src / DAY / "customers.csv.gz")  # fmt: skip
    spoil(good)
    line = one_line_error("ingest", str(src), "-c", COMPANY, "--on-error", on_error)
    assert f"{good}: not a complete gzip file" in line and expected in line, line
    nothing_published(env, root)  # the good customers.csv.gz was not published either


def test_a_gz_whose_text_is_not_utf8_is_named_by_line(
    ingest: BronzeIngest, store: DatasetStore, src: Path, root: Path
) -> None:
    plain = write_delimited(
        src / "plain" / "customers.csv",
        CUSTOMERS_HEADER,
        [customer("C1"), customer("C2", name="Zoë")],
        encoding="latin-1",
    )
    packed = gzipped(plain, src / DAY / "customers.csv.gz")
    with pytest.raises(
        DataPlaneError,
        match=r"customers\.csv\.gz: line 3: not UTF-8 text \(byte 0xeb at offset [0-9,]+ of the decompressed text",
    ):
        ingest.run(COMPANY, [packed])
    nothing_published(store, root)
    ingest.run(COMPANY, [packed], encoding="latin-1")
    assert [r["name"] for r in bronze(store, "customers")] == ["Ann Lee", "Zoë"]


# --- header case -----------------------------------------------------------------------------------


def test_header_case_insensitive_maps_names_to_the_declared_columns(
    env: DatasetStore, src: Path, root: Path
) -> None:
    header = [name.title() if name != "customer_id" else "Customer_ID" for name in CUSTOMERS_HEADER]
    path = write_delimited(src / DAY / "customers.csv", header, [customer("C1"), customer("C2")])

    line = one_line_error("ingest", str(path), "-c", COMPANY, error=SchemaMismatchError)  # exact, the default
    assert "missing required column(s) customer_id" in line and "Customer_ID" in line
    assert "--header-case insensitive" in line
    nothing_published(env, root)
    line = one_line_error(
        "ingest", str(path), "-c", COMPANY, "--header-case", "exact", error=SchemaMismatchError
    )
    assert "missing required column(s) customer_id" in line

    summary = json.loads(
        ok("ingest", str(path), "-c", COMPANY, "--header-case", "insensitive", "-o", "json").stdout
    )
    table = env.read_dataset(COMPANY, "bronze", "customers")
    assert [c for c in table.column_names if c not in (*LINEAGE, "dt", "_source_line")] == list(
        CUSTOMERS_HEADER
    )
    assert [(r["customer_id"], r["name"]) for r in bronze(env, "customers")] == [
        ("C1", "Ann Lee"),
        ("C2", "Ann Lee"),
    ]
    [source] = sources_of(env, summary["run_id"])
    assert source["header_case"] == "insensitive"


def test_header_case_insensitive_matches_jsonl_keys(
    ingest: BronzeIngest, store: DatasetStore, src: Path
) -> None:
    record = {
        "Call_ID": "K1",
        "FROM_NUMBER": "+15550100",
        "Direction": "inbound",
        "started_at": "2026-09-30 10:00:00",
        "Duration_Seconds": "60",
        "outcome": "booked",
        "updated_at": "2026-09-30 10:00:00",
    }
    path = src / DAY / "calls.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record) + "\n")
    with pytest.raises(SchemaMismatchError, match="missing required column"):
        ingest.run(COMPANY, [path])
    result = ingest.run(COMPANY, [path], header_case="insensitive")
    [entry] = result.ingested
    assert entry["renamed_columns"]["Call_ID"] == "call_id"
    [row] = bronze(store, "calls")
    assert (row["call_id"], row["from_number"], row["duration_seconds"]) == ("K1", "+15550100", 60)


def test_headers_that_collide_ignoring_case_are_an_error_naming_both(
    env: DatasetStore, src: Path, root: Path
) -> None:
    header = [*CUSTOMERS_HEADER, "CUSTOMER_ID"]
    path = write_delimited(src / DAY / "customers.csv", header, [[*customer("C1"), "C9"]])
    line = one_line_error(
        "ingest", str(path), "-c", COMPANY, "--header-case", "insensitive", error=SchemaMismatchError
    )
    assert str(path) in line and "customer_id" in line and "CUSTOMER_ID" in line
    nothing_published(env, root)


def test_header_case_insensitive_keeps_an_undeclared_datasets_recorded_names(
    ingest: BronzeIngest, store: DatasetStore, src: Path
) -> None:
    first = write_delimited(src / "2026-09-29" / "widgets.csv", ["id", "Qty"], [["1", "5"]])
    ingest.run(COMPANY, [first])
    later = write_delimited(src / DAY / "widgets.csv", ["ID", "qty"], [["2", "7"]])
    with pytest.raises(SchemaMismatchError, match="columns differ"):
        ingest.run(COMPANY, [later])
    ingest.run(COMPANY, [later], header_case="insensitive")
    assert [(r["id"], r["Qty"]) for r in bronze(store, "widgets")] == [(1, 5), (2, 7)]


# --- bad option values -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--delimiter", ""],
            "Invalid value for '--delimiter': '' is not a valid delimiter: expected one character",
        ),
        (["--delimiter", ";;"], "';;' is not a valid delimiter"),
        (["--delimiter", '"'], "is not a valid delimiter"),
        (["--delimiter", "x"], "'x' is not a valid delimiter"),
        (
            ["--encoding", "klingon"],
            "'klingon' is not a valid encoding: expected a character set: utf-8, utf-16",
        ),
        (["--encoding", "rot13"], "'rot13' is not a valid encoding"),
        (["--header-case", "sometimes"], "'sometimes' is not a valid header case: expected exact"),
    ],
)
def test_bad_option_values_are_usage_errors(
    env: DatasetStore, src: Path, root: Path, args: list[str], expected: str
) -> None:
    path = write_delimited(src / DAY / "customers.csv", CUSTOMERS_HEADER, [customer("C1")])
    message = usage_error("ingest", str(path), "-c", COMPANY, *args)
    assert expected in message, message
    nothing_published(env, root)
    assert env.dal.list_pipeline_runs(COMPANY) == []


def test_bad_option_values_are_refused_by_the_python_api_before_any_run(
    ingest: BronzeIngest, store: DatasetStore, src: Path
) -> None:
    path = write_delimited(src / DAY / "customers.csv", CUSTOMERS_HEADER, [customer("C1")])
    for kwargs in ({"delimiter": ""}, {"encoding": "klingon"}, {"header_case": "sometimes"}):
        with pytest.raises(InvalidArgumentError):
            ingest.run(COMPANY, [path], **kwargs)  # type: ignore[arg-type]
    assert store.dal.list_pipeline_runs(COMPANY) == []
    assert ReadOptions.parse("TAB", "Latin-1", "insensitive") == ReadOptions("\t", "iso8859-1", "insensitive")


def test_unknown_suffixes_are_named_without_a_format_flag(ingest: BronzeIngest, src: Path) -> None:
    odd = src / DAY / "jobs.txt.gz"
    odd.parent.mkdir(parents=True)
    odd.write_bytes(gzip.compress(b"a\n"))
    with pytest.raises(DataPlaneError) as caught:
        ingest.run(COMPANY, [odd])
    assert ".csv.gz" in str(caught.value) and "explicitly" not in str(caught.value)
    packed = src / DAY / "widgets.parquet.gz"
    packed.write_bytes(gzip.compress(b"PAR1"))
    with pytest.raises(DataPlaneError, match="gzip-compressed Parquet file is not read"):
        ingest.run(COMPANY, [src / DAY])
