"""A consistent command line: one meaning per flag (``-o`` the format, ``--out`` the file), listings
that say when they cut, unknown names refused, ``--company`` from the config, unbound query
parameters refused, exit codes by kind of failure, JSON errors, progress lines off a terminal and
JSON numbers. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner, Result

import lakehouse.cli.build_cmd as build_cmd
import lakehouse.cli.progress as progress
from lakehouse.cli.errors import catch_errors, exit_code_of
from lakehouse.cli.main import app
from lakehouse.cli.output import print_json
from lakehouse.cli.progress import DbtNodeReporter, IngestReporter, Steps
from lakehouse.dal import DataAccessLayer
from lakehouse.db.records import DetectedEvent
from lakehouse.errors import (
    BuildFailedError,
    DataPlaneError,
    LockBusyError,
    RowValidationError,
    SchemaConflictError,
    UsageError,
)
from lakehouse.query.render import json_decimal
from lakehouse.query.sandbox import query_parameters
from lakehouse.query.saved import optional_parameters
from lakehouse.settings import get_settings
from tests.data_fixtures import (
    COMPANY,
    JOBS_HEADER,
    REPO,
    job_row,
    make_store,
    publish_many,
    write_csv,
    write_jobs,
)

runner = CliRunner()
EVENT_TYPES = "lapsed_customer, missed_call, overdue_invoice, unsold_estimate"


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "config"


@pytest.fixture
def env(
    db_url: str, root: Path, config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("LAKEHOUSE_DATABASE_URL", db_url)
    monkeypatch.setenv("LAKEHOUSE_DATA_ROOT", str(root))
    queries = tmp_path / "queries"
    queries.mkdir()
    monkeypatch.setenv("LAKEHOUSE_QUERIES_DIR", str(queries))
    shutil.copytree(REPO / "config", config_dir)
    monkeypatch.setenv("LAKEHOUSE_CONFIG_DIR", str(config_dir))
    monkeypatch.delenv("LAKEHOUSE_LOG_LEVEL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def dal(env: None) -> Iterator[DataAccessLayer]:
    layer = DataAccessLayer.from_settings(get_settings())
    yield layer
    layer.close()


@pytest.fixture
def published(dal: DataAccessLayer, root: Path) -> DataAccessLayer:
    """Three datasets of acme, each published by its own run (three ``test_build`` runs)."""
    publish_many(
        make_store(dal, root),
        [
            ("silver", "jobs", pa.table({"job_id": ["j1", "j2"], "total": [1.5, 2.0]})),
            ("gold", "kpis", pa.table({"k": [1]})),
            ("gold", "revenue", pa.table({"month": ["2026-09-01"], "total": pa.array([Decimal("10.50")])})),
        ],
    )
    return dal


def cli(*args: str) -> Result:
    return runner.invoke(app, list(args))


def ok(*args: str) -> Result:
    result = cli(*args)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def error_line(result: Result, exit_code: int) -> str:
    """The one ``error:`` line of a failed command, which exited ``exit_code``."""
    assert result.exit_code == exit_code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and result.stderr.strip().splitlines()[-1] == errors[0], result.stderr
    return errors[0]


def flat(text: str) -> str:
    """``text`` on one line, without the borders of rich's boxes (help and usage errors)."""
    return " ".join(text.replace("│", " ").split())


def usage_error(result: Result) -> str:
    """The message of a usage error (exit 2) found by the option parser, on one line."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    return flat(result.stderr)


def _events(dal: DataAccessLayer, count: int, event_type: str = "overdue_invoice") -> None:
    dal.upsert_events_index(
        [
            DetectedEvent(f"{event_type}:{i}", COMPANY, event_type, "invoice", f"I{i}", "high")
            for i in range(count)
        ]
    )


# --- -o is the format everywhere; --out the file, its extension the format ----------------------


@pytest.mark.usefixtures("published")
def test_query_output_flag_and_the_format_of_out(tmp_path: Path) -> None:
    sql = "select job_id from silver.jobs order by job_id"
    assert json.loads(ok("query", "-c", COMPANY, sql, "-o", "json").stdout) == [
        {"job_id": "j1"},
        {"job_id": "j2"},
    ]
    assert ok("query", "-c", COMPANY, sql, "--output", "csv").stdout == '"job_id"\n"j1"\n"j2"\n'
    assert "j2" in ok("query", "-c", COMPANY, sql, "-o", "text").stdout  # text: the terminal table
    # the deprecated --format/-f still works
    assert json.loads(ok("query", "-c", COMPANY, sql, "-f", "json").stdout)[0] == {"job_id": "j1"}

    for name, check in [
        ("x.csv", lambda p: p.read_text() == '"job_id"\n"j1"\n"j2"\n'),
        ("x.json", lambda p: json.loads(p.read_text()) == [{"job_id": "j1"}, {"job_id": "j2"}]),
        ("x.jsonl", lambda p: p.read_text() == '{"job_id": "j1"}\n{"job_id": "j2"}\n'),
        ("x.PARQUET", lambda p: pq.read_table(p).column("job_id").to_pylist() == ["j1", "j2"]),
    ]:
        out = tmp_path / name
        assert "wrote 2 row(s)" in ok("query", "-c", COMPANY, sql, "--out", str(out)).stdout
        assert check(out), name
    # an explicit -o that agrees with the extension, or gives the format of an unknown one
    ok("query", "-c", COMPANY, sql, "-o", "csv", "--out", str(tmp_path / "y.csv"))
    ok("query", "-c", COMPANY, sql, "-o", "csv", "--out", str(tmp_path / "y.txt"))
    assert (tmp_path / "y.txt").read_text() == '"job_id"\n"j1"\n"j2"\n'


@pytest.mark.usefixtures("published")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "csv", "--out", "{tmp}/x.json"], "error: -o csv contradicts --out {tmp}/x.json (a .json file is json)"),
        (["--out", "{tmp}/x.txt"], "error: cannot tell the format of --out {tmp}/x.txt: its extension is none of "
         ".csv, .json, .jsonl, .parquet"),
        (["-o", "xml"], "error: unknown output format 'xml': use -o table, csv, json, jsonl, parquet"),
        (["-o", "parquet"], "error: -o parquet needs a file: add --out FILE.parquet"),
        (["-o", "table", "--out", "{tmp}/x.csv"], "error: -o table is for the terminal"),
        (["-o", "json", "-f", "csv"], "error: -o json and --format csv disagree"),
    ],
)  # fmt: skip
def test_contradicting_or_unknown_formats_are_usage_errors(
    tmp_path: Path, args: list[str], message: str
) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    line = error_line(cli("query", "-c", COMPANY, "select 1 as n", *args), 2)
    assert line.startswith(message.replace("{tmp}", str(tmp_path))), line
    assert not any(p.name.startswith("x.") for p in tmp_path.iterdir())  # nothing written


def test_every_command_gives_o_one_meaning() -> None:
    """``-o`` is the output format wherever it exists; ``--out`` is where query and generate write."""
    for command in (
        ["build"], ["catalog"], ["datasets"], ["events", "list"], ["extract"], ["gc"], ["generate"],
        ["ingest"], ["query"], ["runs"], ["runs", "show"], ["verify"], ["config", "validate"], ["db", "current"],
    ):  # fmt: skip
        text = flat(cli(*command, "--help").stdout)
        assert "-o" in text and "--output" in text, command
        assert "text or json" in text or "table, csv, json, jsonl, parquet" in text, command


# --- listings say when they cut --------------------------------------------------------------------


def test_listings_take_limit_and_say_when_they_cut(published: DataAccessLayer) -> None:
    _events(published, 5)
    listed = ok("events", "list", "-c", COMPANY, "--limit", "2")
    assert listed.stderr.strip() == "showing 2 of 5 events (--limit N shows more)"
    assert listed.stdout.count("overdue_invoice") == 2
    as_json = ok("events", "list", "-c", COMPANY, "--limit", "2", "-o", "json")
    assert len(json.loads(as_json.stdout)) == 2  # stdout stays the data: a JSON array of the rows shown
    assert as_json.stderr.strip() == "showing 2 of 5 events (--limit N shows more)"
    assert ok("events", "list", "-c", COMPANY, "--type", "overdue_invoice").stderr == ""  # all shown
    assert ok("events", "list", "-c", COMPANY, "--status", "resolved").stderr == ""

    runs = ok("runs", "-c", COMPANY, "--limit", "1", "-o", "json")
    assert len(json.loads(runs.stdout)) == 1
    assert runs.stderr.strip() == "showing 1 of 3 runs (--limit N shows more)"
    assert ok("runs", "-c", COMPANY, "--pipeline", "test_build").stderr == ""

    datasets = ok("datasets", "-c", COMPANY, "--limit", "2")
    assert datasets.stderr.strip() == "showing 2 of 3 datasets (--limit N shows more)"
    assert len(json.loads(ok("datasets", "-c", COMPANY, "-o", "json").stdout)) == 3


@pytest.mark.usefixtures("published")
def test_query_limit_says_when_it_cuts() -> None:
    sql = "select range as n from range(10)"
    cut = ok("query", "-c", COMPANY, sql, "--limit", "3", "-o", "json")
    assert json.loads(cut.stdout) == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert cut.stderr.strip() == "showing the first 3 rows (--limit 3; the result has more)"
    table = ok("query", "-c", COMPANY, sql, "--limit", "3")
    assert "3 rows" in table.stdout and "the result has more" in table.stderr
    assert ok("query", "-c", COMPANY, sql, "--limit", "10", "-o", "csv").stderr == ""
    assert ok("query", "-c", COMPANY, sql, "--limit", "0", "-o", "json").stdout.strip() == "[]"


# --- unknown names are errors listing the known ones ----------------------------------------------


def test_unknown_filter_values_list_the_valid_ones(published: DataAccessLayer) -> None:
    _events(published, 1)
    line = error_line(cli("events", "list", "-c", COMPANY, "--type", "no_such_type"), 2)
    assert line == f"error: no event type 'no_such_type' (known: {EVENT_TYPES})"
    line = error_line(cli("runs", "-c", COMPANY, "--pipeline", "bogus"), 2)
    assert (
        line
        == "error: no pipeline 'bogus' (known: dbt_build, events_refresh, ingest, test_build, transcript_pipeline)"
    )
    # a known type with no events, and a known pipeline with no runs, are empty listings
    assert "none" in ok("events", "list", "-c", COMPANY, "--type", "missed_call").stdout
    assert "none" in ok("runs", "-c", COMPANY, "--pipeline", "ingest").stdout


@pytest.mark.usefixtures("published")
def test_a_company_without_data_is_refused_by_read_commands(config_dir: Path) -> None:
    for command in (
        ["datasets"], ["runs"], ["events", "list"], ["verify"], ["catalog"], ["gc"], ["query", "select 1"]
    ):  # fmt: skip
        assert error_line(cli(*command, "-c", "acmee"), 2) == "error: no company 'acmee' (known: acme)", (
            command
        )
    # a company of the config that holds no data yet says so
    path = config_dir / "global.json"
    document = json.loads(path.read_text())
    document["companies"].append({"slug": "beta", "display_name": "Beta", "business_units": ["HVAC"]})
    path.write_text(json.dumps(document))
    assert error_line(cli("datasets", "-c", "beta"), 1).startswith(
        "error: company 'beta' has no data yet: `lakehouse ingest -c beta EXTRACTS`"
    )
    assert error_line(cli("datasets", "-c", "gamma"), 2) == "error: no company 'gamma' (known: acme, beta)"


# --- --company falls back to default_company --------------------------------------------------------


@pytest.mark.usefixtures("published")
def test_company_defaults_to_the_default_company_of_the_config(
    config_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ok("datasets").stdout.startswith("datasets of acme")
    assert [r["pipeline"] for r in json.loads(ok("runs", "-o", "json").stdout)] == ["test_build"] * 3
    assert json.loads(ok("query", "select count(*) as n from silver.jobs", "-o", "json").stdout) == [{"n": 2}]
    assert ok("verify").stdout.startswith("OK: ")
    assert "--company" in cli("datasets", "--help").stdout

    monkeypatch.setenv("LAKEHOUSE_CONFIG_DIR", str(tmp_path / "no-config"))
    get_settings.cache_clear()
    for command in (["datasets"], ["runs"], ["events", "list"], ["query", "select 1"]):
        message = usage_error(cli(*command))
        assert "no company given, and no default_company could be read from config/global.json" in message
    assert ok("datasets", "-c", COMPANY).stdout.startswith(
        "datasets of acme"
    )  # an explicit one needs no config


# --- unbound query parameters ---------------------------------------------------------------------


@pytest.mark.usefixtures("published")
def test_an_unbound_parameter_is_an_error_naming_it(tmp_path: Path) -> None:
    line = error_line(cli("query", "-c", COMPANY, "select $since as s, $unit as u", "-p", "unit=x"), 2)
    assert line.startswith("error: no value for parameter(s) $since: give --param since=VALUE")
    rows = json.loads(ok("query", "-c", COMPANY, "select $n as n", "-p", "n=7", "-o", "json").stdout)
    assert rows == [{"n": "7"}]
    # a saved query's header declares the parameters it can do without
    (tmp_path / "queries" / "jobs_since.sql").write_text(
        "-- Jobs, optionally of one job.\n--\n-- Params (optional):\n--   $job  only this job (default: all)\n"
        "--\n-- Params:\n--   $min_total  smallest total\n\n"
        "select job_id from silver.jobs where ($job is null or job_id = $job) and total >= cast($min_total as double)"
        " order by job_id\n"
    )
    line = error_line(cli("query", "-c", COMPANY, "jobs_since"), 2)
    assert line.startswith("error: no value for parameter(s) $min_total:")
    rows = json.loads(ok("query", "-c", COMPANY, "jobs_since", "-p", "min_total=0", "-o", "json").stdout)
    assert rows == [{"job_id": "j1"}, {"job_id": "j2"}]


def test_optional_parameters_of_a_header() -> None:
    assert optional_parameters("select $a") == ()
    assert optional_parameters(
        "-- Title\n-- Params (all optional):\n--   $a  x\n--   $b  y\n-- Params:\n--   $c  z\n"
        "--   $d  w (default: 3)\n--   $e  optional: v\nselect 1 -- $f (optional)\n"
    ) == ("a", "b", "d", "e")
    for path in sorted((REPO / "queries").glob("*.sql")):  # every shipped query runs without parameters
        sql = path.read_text()
        assert set(query_parameters(sql)) <= set(optional_parameters(sql)), path.name


# --- exit codes and JSON errors ---------------------------------------------------------------------


def test_exit_codes_are_on_the_error_classes() -> None:
    assert exit_code_of(DataPlaneError("x")) == 1
    assert exit_code_of(UsageError("x")) == 2
    assert exit_code_of(LockBusyError("build:acme", "run r1")) == 3
    assert exit_code_of(RowValidationError("f.csv", 2, "a", "bad type")) == 4
    assert exit_code_of(BuildFailedError("r1", ["test.x"])) == 4
    assert (
        exit_code_of(SchemaConflictError("bronze.x", "1", "r0", [("a", "BIGINT")], [("a", "VARCHAR")])) == 1
    )
    assert exit_code_of(ValueError("unexpected")) == 1

    @catch_errors
    def fails(output: str = "text") -> None:
        raise LockBusyError("build:acme", "run r1")

    probe = typer.Typer()
    probe.command()(fails)
    result = runner.invoke(probe, ["--output", "json"])
    assert result.exit_code == 3
    assert json.loads(result.stdout)["type"] == "LockBusyError"


@pytest.mark.usefixtures("published")
def test_errors_under_json_output_are_a_json_document_on_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli("datasets", "-c", "acmee", "-o", "json")
    assert error_line(result, 2) == "error: no company 'acmee' (known: acme)"  # the line for people stays
    assert json.loads(result.stdout) == {
        "error": "no company 'acmee' (known: acme)",
        "type": "UnknownNameError",
        "exit_code": 2,
    }
    assert cli("datasets", "-c", "acmee").stdout == ""  # text output: stderr only

    def busy(*args: Any, **kwargs: Any) -> Any:
        raise LockBusyError(f"build:{COMPANY}", "run r1 (host h, pid 1)")

    monkeypatch.setattr(build_cmd.DbtBuild, "run", busy)
    result = cli("build", "-c", COMPANY, "-o", "json")
    assert error_line(result, 3).startswith("error: lock 'build:acme' is busy, held by run r1")
    assert json.loads(result.stdout)["type"] == "LockBusyError"

    def fails(*args: Any, **kwargs: Any) -> Any:
        raise BuildFailedError("r2", ["test.lakehouse.never_holds: fail"])

    monkeypatch.setattr(build_cmd.DbtBuild, "run", fails)
    result = cli("build", "-c", COMPANY, "-o", "json")
    assert error_line(result, 4).startswith("error: build r2 failed, nothing published")
    assert json.loads(result.stdout) | {"error": None} == {
        "error": None,
        "type": "BuildFailedError",
        "exit_code": 4,
    }


@pytest.mark.usefixtures("env")
def test_rejected_rows_exit_4(tmp_path: Path) -> None:
    good = write_jobs(tmp_path / "extract", "2026-09-29", ["J1"])
    ok("ingest", str(good), "-c", COMPANY)
    bad = write_csv(
        tmp_path / "extract" / "2026-09-30" / "jobs.csv", JOBS_HEADER, [job_row("J2", job_total="x")]
    )
    assert "bad type" in error_line(cli("ingest", str(bad), "-c", COMPANY), 4)


# --- progress: bars on a terminal, lines elsewhere -------------------------------------------------


def test_progress_lines_off_a_terminal_and_bars_on_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["generate", "-c", COMPANY, "--days", "3", "--scale", "0.01"]
    lines = ok(*args, "--out", str(tmp_path / "a")).stderr.splitlines()
    assert lines[-2:-1] == ["generate acme: days written [3/3]"] and lines[0].startswith("generate acme: ")
    assert lines[-1].startswith("generate acme: 3 day(s) in ") and lines[-1].endswith(" s")
    assert not any(line.startswith("error:") for line in lines)

    monkeypatch.setattr(progress, "interactive", lambda: True)  # a terminal: a bar, no lines
    assert "days written" not in ok(*args, "--out", str(tmp_path / "b")).stderr


def test_dbt_nodes_are_one_line_each_off_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with Steps("build acme", unit="dbt node(s)", bars=False) as steps:
        report = DbtNodeReporter(steps)
        report("model.lakehouse.customers", "started")
        report("model.lakehouse.customers", "success")
        report("test.lakehouse.not_null_customers_id", "started")
        report("test.lakehouse.not_null_customers_id", "fail")
    lines = capsys.readouterr().err.splitlines()
    assert [line.rsplit(" (", 1)[0] for line in lines[:2]] == [
        "build acme: model customers ok",
        "build acme: test not_null_customers_id fail",
    ]
    assert lines[0].endswith(" s) [1]") and lines[1].endswith(" s) [2]")
    assert lines[2].startswith("build acme: 2 dbt node(s) in ")

    with Steps("build acme", bars=True) as steps:  # a bar (disabled here: stderr is no terminal)
        DbtNodeReporter(steps)("model.lakehouse.customers", "success")
    assert capsys.readouterr().err == ""


def test_steps_lines_are_throttled_but_the_last_is_always_shown(capsys: pytest.CaptureFixture[str]) -> None:
    with Steps("ingest acme", total=100, min_interval=3600, bars=False, unit="file(s)") as steps:
        for done in range(1, 101):
            steps.step(f"file {done}", done=done)
    assert capsys.readouterr().err.splitlines()[:2] == [
        "ingest acme: file 1 [1/100]",
        "ingest acme: file 100 [100/100]",
    ]


def test_an_ingest_file_gets_its_line_once_it_is_done(capsys: pytest.CaptureFixture[str]) -> None:
    with Steps("ingest acme", bars=False, unit="file(s)") as steps:
        report = IngestReporter(steps)
        report("jobs 2026-09-29 (jobs.csv)", 0, 2)  # before the first file: nothing is done yet
        report("jobs 2026-09-30 (jobs.csv)", 1, 2)
        report("publishing", 2, 2)
    lines = capsys.readouterr().err.splitlines()
    assert [line.rsplit(" (", 1)[0] for line in lines[:2]] == [
        "ingest acme: jobs 2026-09-29 (jobs.csv)",
        "ingest acme: jobs 2026-09-30 (jobs.csv)",
    ]
    assert lines[0].endswith(" s) [1/2]") and lines[1].endswith(" s) [2/2]")
    assert lines[2].startswith("ingest acme: 2 file(s) in ")


def test_a_short_run_stays_quiet_off_a_terminal_and_a_long_one_does_not(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    with Steps("ingest acme", total=3, bars=False, unit="file(s)", quiet_seconds=2.0) as steps:
        steps.step("file 1", done=1)  # at once: quiet
        clock[0] += 5
        steps.step("file 2", done=2)
        steps.step("file 3", done=3)
    assert capsys.readouterr().err.splitlines() == [
        "ingest acme: file 2 [2/3]",
        "ingest acme: file 3 [3/3]",
        "ingest acme: 3 file(s) in 5.0 s",
    ]
    with Steps("ingest acme", total=1, bars=False, quiet_seconds=2.0) as steps:
        steps.step("file 1", done=1)
    assert capsys.readouterr().err == ""


# --- JSON keeps numbers as numbers ----------------------------------------------------------------


def test_decimals_are_json_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    assert json_decimal(Decimal("1234.50")) == 1234.5
    assert json_decimal(Decimal("3.00")) == 3 and isinstance(json_decimal(Decimal("3.00")), int)
    assert json_decimal(Decimal("123456789012345678901234567890")) == 123456789012345678901234567890
    assert json_decimal(Decimal("12345678901234567890.12")) == "12345678901234567890.12"  # no digit lost
    assert json_decimal(Decimal("NaN")) is None
    print_json({"amount": Decimal("10.25"), "count": Decimal("2"), "day": date(2026, 9, 30)})
    assert json.loads(capsys.readouterr().out) == {"amount": 10.25, "count": 2, "day": "2026-09-30"}


@pytest.mark.usefixtures("published")
def test_query_json_keeps_sums_of_money_as_numbers() -> None:
    sql = (
        "select sum(total) as total, cast(3 as decimal(18, 2)) as whole, date '2024-01-31' as day "
        "from gold.revenue"
    )
    assert json.loads(ok("query", "-c", COMPANY, sql, "-o", "json").stdout) == [
        {"total": 10.5, "whole": 3, "day": "2024-01-31"}
    ]
    rows = json.loads(ok("datasets", "-c", COMPANY, "-o", "json").stdout)
    assert all(isinstance(r["rows"], int) and isinstance(r["versions"], int) for r in rows)
