"""Limits of analyst queries: statement timeout, memory limit, threads, one-line DuckDB errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from lakehouse.config import load_config
from lakehouse.config.models import QueryConfig
from lakehouse.errors import QueryError, QueryRefusedError
from lakehouse.query.catalog import write_catalog
from lakehouse.query.limits import Deadline, error_message, query_error
from lakehouse.query.sandbox import run_query, stream_query

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"
CROSS_JOIN = "select count(*) as n from range(1000000000) a, range(1000000000) b"


class Company:
    def __init__(self, root: Path) -> None:
        self.catalog = root / "catalog.duckdb"
        self.zones = [root / zone for zone in ("bronze", "silver", "gold")]
        folder = root / "silver" / "dataset=jobs" / "dt=2026-01-01"
        folder.mkdir(parents=True)
        self.file = folder / "part-0.parquet"
        pq.write_table(pa.table({"job_id": ["j1", "j2"], "total": [10, 20]}), self.file)
        for zone in self.zones:
            zone.mkdir(exist_ok=True)
        write_catalog(self.catalog, {"silver": {"jobs": [self.file]}})

    def run(self, sql: str, limits: QueryConfig | None = None) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = run_query(
            self.catalog, sql, None, self.zones, limits=limits
        ).to_pylist()
        return rows


@pytest.fixture
def company(tmp_path: Path) -> Company:
    return Company(tmp_path / "data" / "acme")


# --- timeout ---------------------------------------------------------------------------------------


def test_a_long_cross_join_is_stopped_at_the_timeout(company: Company) -> None:
    started = time.monotonic()

    with pytest.raises(QueryError) as info:
        company.run(CROSS_JOIN, QueryConfig(timeout_seconds=1))

    assert str(info.value) == "query stopped after 1 s (query.timeout_seconds / --timeout)"
    assert 0.9 <= time.monotonic() - started < 15


def test_the_timeout_covers_reading_a_streamed_result(company: Company) -> None:
    started = time.monotonic()
    rows = 0
    with pytest.raises(QueryError, match=r"query stopped after 0.5 s"):  # noqa: PT012
        with stream_query(
            company.catalog,
            "select range as x from range(1000000000)",
            None,
            company.zones,
            limits=QueryConfig(timeout_seconds=0.5),
            batch_rows=1000,
        ) as reader:
            for batch in reader:
                rows += batch.num_rows
                time.sleep(0.05)  # a slow consumer (writing a file)
    assert rows > 0
    assert time.monotonic() - started < 15


def test_a_fast_query_is_untouched_and_leaves_no_timer_behind(company: Company) -> None:
    before = threading.active_count()

    assert company.run("select count(*) as n from silver.jobs", QueryConfig(timeout_seconds=0.2)) == [
        {"n": 2}
    ]
    time.sleep(0.4)

    assert threading.active_count() == before
    assert company.run("select 1 as one", QueryConfig(timeout_seconds=0)) == [{"one": 1}]


# --- memory and threads ----------------------------------------------------------------------------


def test_the_memory_limit_and_threads_are_set(company: Company) -> None:
    rows = company.run(
        "select current_setting('memory_limit') as m, current_setting('threads') as t",
        QueryConfig(memory_limit="100MB", threads=1),
    )
    assert rows == [{"m": "95.3 MiB", "t": 1}]
    # The default is 4GB, not DuckDB's 80% of the machine's memory.
    assert company.run("select current_setting('memory_limit') as m") == [{"m": "3.7 GiB"}]


def test_a_query_over_the_memory_limit_fails_naming_the_limit(company: Company) -> None:
    with pytest.raises(
        QueryError, match=r"Out of Memory Error.*at most 20MB \(query.memory_limit / --memory-limit\)"
    ):
        company.run("select list(range::varchar) as l from range(20000000)", QueryConfig(memory_limit="20MB"))


def test_the_memory_limit_cannot_be_changed_by_the_query(company: Company) -> None:
    with pytest.raises(QueryRefusedError, match="refused SET"):
        company.run("set memory_limit = '100GB'", QueryConfig(memory_limit="100MB"))
    with pytest.raises(QueryRefusedError, match="refused SET"):
        company.run("pragma memory_limit = '100GB'", QueryConfig(memory_limit="100MB"))


# --- errors ----------------------------------------------------------------------------------------


@pytest.mark.skipif(duckdb.__version__ != "1.5.5", reason="provokes a bug of DuckDB 1.5.5 (fixed in 1.5.6)")
def test_a_duckdb_internal_error_is_one_short_line(company: Company) -> None:
    raw_hive = f"select max(dt) as m from read_parquet(['{company.file}'], hive_partitioning = true)"

    with pytest.raises(QueryError) as info:
        company.run(raw_hive)

    message = str(info.value)
    assert message.startswith("query failed: INTERNAL Error: Attempted to access index")
    assert "DuckDB 1.5.5 bug" in message
    assert "\n" not in message and "Stack Trace" not in message
    assert len(message) < 300


def test_error_messages_drop_stack_traces() -> None:
    trace = "\n".join(f"/lib/_duckdb.so(_ZN6duckdb{i}) [0x7f]" for i in range(200))
    internal = duckdb.InternalException(f"INTERNAL Error: it broke\n\nStack Trace:\n\n{trace}")
    streamed = OSError(f"INTERNAL Error: it broke\n\nStack Trace:\n\n{trace}")
    binder = duckdb.BinderException(
        'Binder Error: column "x" not found\n\nLINE 1: select x\n               ^'
    )

    assert error_message(internal) == "INTERNAL Error: it broke"
    assert error_message(streamed) == "INTERNAL Error: it broke"
    assert error_message(binder) == 'Binder Error: column "x" not found LINE 1: select x ^'


def test_an_error_while_the_result_streams_is_a_query_error(company: Company) -> None:
    sql = "select case when range = 300000 then error('boom') else range end as x from range(400000)"
    # One thread: with more, DuckDB now and then reports the stop of the others instead (see below).
    one_thread = QueryConfig(threads=1)
    batches = 0
    with pytest.raises(QueryError, match=r"^query failed: Invalid Input Error: boom$"):  # noqa: PT012
        with stream_query(company.catalog, sql, None, company.zones, limits=one_thread, batch_rows=1000) as r:
            for _ in r:
                batches += 1
    assert batches < 400


def test_an_interrupt_nobody_asked_for_says_duckdb_stopped_the_query() -> None:
    # Under load a streamed result whose thread failed sometimes reports DuckDB's stop of the
    # query's other threads ("Interrupted!") instead of the failure: not a timeout, not "failed: INTERRUPT".
    con = duckdb.connect()
    try:
        timer = Deadline(con, 300)
        with timer:
            stopped = query_error(OSError("INTERRUPT Error: Interrupted!"), timer, QueryConfig())
            raised = query_error(
                duckdb.InterruptException("INTERRUPT Error: Interrupted!"), timer, QueryConfig()
            )
    finally:
        con.close()
    for error in (stopped, raised):
        assert isinstance(error, QueryError)
        assert str(error).startswith("query failed: DuckDB stopped it after an error in one of its threads")
        assert "run the query again" in str(error)
        assert "timeout" not in str(error)


# --- config ----------------------------------------------------------------------------------------


def test_query_config_defaults_and_the_shipped_global_json() -> None:
    assert QueryConfig() == QueryConfig(timeout_seconds=300, memory_limit="4GB", threads=None)
    assert load_config(REPO_CONFIG).global_.query == QueryConfig(timeout_seconds=300, memory_limit="4GB")


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("memory_limit", "80%", "invalid memory size '80%'"),
        ("memory_limit", "lots", "invalid memory size"),
        ("timeout_seconds", "30", "valid number"),
        ("timeout_seconds", -1, "greater than or equal to 0"),
        ("threads", 0, "greater than or equal to 1"),
        ("statement_timeout", 3, "Extra inputs are not permitted"),
    ],
)
def test_query_config_is_strict(field: str, value: object, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        QueryConfig.model_validate({field: value})
