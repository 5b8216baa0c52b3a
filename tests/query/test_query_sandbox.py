"""Read-only analyst SQL: statement checks, file-access sandbox, bound parameters, saved queries."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from lakehouse.dataplane.schemas import RAW_SCHEMAS
from lakehouse.errors import QueryError, QueryRefusedError
from lakehouse.query.catalog import write_catalog
from lakehouse.query.sandbox import check_read_only, parse_params, run_query
from lakehouse.query.saved import list_saved_queries, resolve_query

REPO_QUERIES = Path(__file__).resolve().parents[2] / "queries"


@functools.cache
def _writer() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


class Company:
    """A company folder with zones, a catalog and the folders a query may read."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.catalog = root / "catalog.duckdb"
        self.zones = [root / zone for zone in ("bronze", "silver", "gold")]
        self.views: dict[str, dict[str, list[Path]]] = {}

    def add(self, zone: str, dataset: str, select_sql: str, day: str = "2024-01-01") -> Path:
        folder = self.root / zone / f"dataset={dataset}" / f"dt={day}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"part-{len(self.views.get(zone, {}).get(dataset, []))}.parquet"
        _writer().execute(f"copy ({select_sql}) to '{path}' (format parquet)")
        self.views.setdefault(zone, {}).setdefault(dataset, []).append(path)
        return path

    def publish(self) -> None:
        write_catalog(self.catalog, self.views)

    def run(
        self, sql: str, params: dict[str, object] | Sequence[object] | None = None, limit: int | None = None
    ) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = run_query(self.catalog, sql, params, self.zones, limit).to_pylist()
        return rows


def _company(root: Path) -> Company:
    for zone in ("bronze", "silver", "gold"):
        (root / "data" / "acme" / zone).mkdir(parents=True)
    acme = Company(root / "data" / "acme")
    acme.add(
        "silver",
        "jobs",
        "select * from (values ('j1', 'HVAC', 100.00::decimal(12,2)), ('j2', 'Plumbing', 50.00::decimal(12,2)))"
        " as t(job_id, business_unit, job_total)",
    )
    acme.publish()
    return acme


@pytest.fixture
def company(tmp_path: Path) -> Company:
    return _company(tmp_path)


# --- statement checks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ("create table t as select 1 as a", "CREATE"),
        ("create view v as select 1 as a", "CREATE"),
        ("drop view silver.jobs", "DROP"),
        ("alter view silver.jobs rename to j", "ALTER"),
        ("insert into silver.jobs values ('x', 'HVAC', 1)", "INSERT"),
        ("update silver.jobs set job_total = 0", "UPDATE"),
        ("delete from silver.jobs", "DELETE"),
        ("merge into t using (select 1 as a) as s on t.a = s.a when matched then delete", "MERGE"),
        ("copy (select 1) to '/tmp/out.csv'", "COPY"),
        ("copy silver.jobs from '/tmp/in.csv'", "COPY"),
        ("attach '/tmp/other.duckdb' as other", "ATTACH"),
        ("detach catalog", "DETACH"),
        ("install httpfs", "INSTALL/LOAD"),
        ("load httpfs", "INSTALL/LOAD"),
        ("set threads = 1", "SET"),
        ("reset threads", "SET"),
        ("use memory", "SET"),
        ("export database '/tmp/dump'", "EXPORT"),
        ("call pragma_version()", "CALL"),
        ("checkpoint", "CALL"),
        ("pragma enable_profiling", "PRAGMA"),
        ("pragma threads = 4", "SET"),
        ("vacuum", "VACUUM"),
        ("begin transaction", "BEGIN"),
        ("prepare p as select 1", "PREPARE"),
        ("pivot silver.jobs on business_unit using sum(job_total)", "CREATE"),
        ("explain analyze copy (select 1) to '/tmp/out.csv'", "COPY"),
        ("with x as (select 1 as a) insert into t select * from x", "INSERT"),
        ("update extensions", "UPDATE"),
    ],
)
def test_write_and_config_statements_are_refused(sql: str, kind: str) -> None:
    with pytest.raises(QueryRefusedError, match=f"refused {kind}.*only read statements run"):
        check_read_only(sql)


@pytest.mark.parametrize(
    "sql",
    [
        "select 1",
        "from silver.jobs",
        "values (1), (2)",
        "with x as (select 1 as a) select * from x",
        "describe silver.jobs",
        "summarize silver.jobs",
        "show tables",
        "pragma table_info('silver.jobs')",
        "explain select 1",
        "explain analyze select 1",
        "pivot silver.jobs on business_unit in ('HVAC', 'Plumbing') using sum(job_total)",
        "-- leading comment\nselect 1 -- trailing comment\n;",
    ],
)
def test_read_statements_pass(sql: str) -> None:
    check_read_only(sql)


def test_more_than_one_statement_is_refused() -> None:
    with pytest.raises(QueryRefusedError, match="2 statements"):
        check_read_only("select 1; select 2")


def test_write_hidden_after_a_select_is_refused_by_type() -> None:
    with pytest.raises(QueryRefusedError, match="refused DROP"):
        check_read_only("select 1; drop view silver.jobs")


def test_import_database_is_refused_without_reading_the_files() -> None:
    with pytest.raises(QueryRefusedError, match="reads files"):
        check_read_only("import database '/etc'")


def test_empty_and_unparsable_sql_are_query_errors() -> None:
    with pytest.raises(QueryError, match="empty"):
        check_read_only("  -- nothing\n")
    with pytest.raises(QueryError, match="cannot parse the query: Parser Error") as info:
        check_read_only("selec 1")
    assert "\n" not in str(info.value)


def test_explain_analyze_cannot_write_into_an_allowed_folder(company: Company) -> None:
    target = company.zones[1] / "stolen.csv"
    with pytest.raises(QueryRefusedError, match="refused COPY"):
        company.run(f"explain analyze copy (select 1) to '{target}'")
    assert not target.exists()


# --- running ---------------------------------------------------------------------------------------


def test_run_query_reads_views_and_returns_arrow(company: Company) -> None:
    table = run_query(company.catalog, "select * from silver.jobs order by job_id", None, company.zones)

    assert table.column_names == ["job_id", "business_unit", "job_total", "dt"]
    assert table.to_pylist()[0] == {
        "job_id": "j1",
        "business_unit": "HVAC",
        "job_total": Decimal("100.00"),
        "dt": dt.date(2024, 1, 1),
    }


def test_limit_caps_the_rows(company: Company) -> None:
    assert len(company.run("select * from silver.jobs", limit=1)) == 1
    assert len(company.run("describe silver.jobs", limit=2)) == 2
    with pytest.raises(QueryError, match="limit"):
        company.run("select 1", limit=-1)


@pytest.mark.parametrize(
    "sql",
    [
        "select * from read_csv('/etc/passwd')",
        "select * from read_text('/etc/hostname')",
        "select * from glob('/etc/*')",
        "select * from read_csv('{silver}/../../../../../../etc/passwd')",
        "select * from read_csv('{silver}/../manifests/run.csv')",
        "select * from read_csv('{root}/silverx/secret.csv')",
        "select * from read_csv('http://127.0.0.1:9/x.csv')",
    ],
    ids=["etc-passwd", "read_text", "glob", "dotdot", "dotdot-manifests", "sibling-prefix", "url"],
)
def test_reads_outside_the_allowed_folders_are_refused(company: Company, sql: str) -> None:
    (company.root / "silverx").mkdir()
    (company.root / "silverx" / "secret.csv").write_text("a\n1\n")
    (company.root / "manifests").mkdir()
    (company.root / "manifests" / "run.csv").write_text("a\n1\n")

    with pytest.raises(QueryRefusedError, match="outside this company's data folders"):
        company.run(sql.format(silver=company.zones[1], root=company.root))


def test_files_inside_the_allowed_folders_can_be_read(company: Company) -> None:
    path = company.views["silver"]["jobs"][0]
    assert company.run(f"select count(*) as n from read_parquet('{path}')") == [{"n": 2}]


def test_named_parameters_are_bound_not_formatted(company: Company) -> None:
    rows = company.run("select job_id from silver.jobs where business_unit = $unit", {"unit": "HVAC"})
    assert rows == [{"job_id": "j1"}]

    attack = "x' or '1'='1"
    assert company.run("select job_id from silver.jobs where business_unit = $unit", {"unit": attack}) == []
    assert company.run("select $v as v", {"v": "'; drop view silver.jobs; --"}) == [
        {"v": "'; drop view silver.jobs; --"}
    ]
    assert len(company.run("select * from silver.jobs")) == 2


def test_bound_strings_are_cast_by_context(company: Company) -> None:
    rows = company.run(
        "select count(*) as n from silver.jobs where dt >= cast($since as date)", {"since": "2024-01-01"}
    )
    assert rows == [{"n": 2}]


def test_missing_named_parameters_are_null(company: Company) -> None:
    assert company.run("select 1 as one", {}) == [{"one": 1}]
    rows = company.run("select count(*) as n from silver.jobs where $unit is null or business_unit = $unit")
    assert rows == [{"n": 2}]


def test_unknown_parameter_is_an_error(company: Company) -> None:
    with pytest.raises(QueryError, match=r"unknown parameter\(s\) typo: the query takes \$unit"):
        company.run("select $unit as u", {"typo": "x"})


def test_positional_parameters(company: Company) -> None:
    assert company.run("select ? as a, ? as b", [1, "two"]) == [{"a": 1, "b": "two"}]
    with pytest.raises(QueryError, match="positional"):
        company.run("select ? as a")
    with pytest.raises(QueryError, match="as a list"):
        company.run("select ? as a", {"a": 1})


def test_duckdb_errors_become_query_errors_on_one_line(company: Company) -> None:
    with pytest.raises(QueryError, match="query failed: Catalog Error: Table with name nope") as info:
        company.run("select * from silver.nope")
    assert "\n" not in str(info.value)


def test_missing_catalog_is_a_query_error(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match="no catalog"):
        run_query(tmp_path / "catalog.duckdb", "select 1", None, [tmp_path])


def test_sandbox_does_not_leak_into_other_connections(company: Company) -> None:
    holder = duckdb.connect(str(company.catalog), read_only=True)
    try:
        assert holder.execute("select count(*) from silver.jobs").fetchone() == (2,)
        company.add(
            "silver",
            "jobs",
            "select 'j3' as job_id, 'HVAC' as business_unit, 1.00::decimal(12,2) as job_total",
        )
        company.publish()

        # The query sees the catalog now on disk, not the instance `holder` keeps open ...
        assert company.run("select count(*) as n from silver.jobs") == [{"n": 3}]
        # ... and the holder's configuration is neither locked nor cut off from files.
        holder.execute("set threads = 1")
        assert holder.execute("select current_setting('enable_external_access')").fetchone() == (True,)
    finally:
        holder.close()


# --- parse_params ----------------------------------------------------------------------------------


def test_parse_params() -> None:
    assert parse_params(["since=2024-01-01", "$unit=HVAC", "expr=a=b", "empty="]) == {
        "since": "2024-01-01",
        "unit": "HVAC",
        "expr": "a=b",
        "empty": "",
    }
    assert parse_params([]) == {}


@pytest.mark.parametrize("item", ["novalue", "=x", "1abc=x", "bad name=x", "a-b=1"])
def test_parse_params_refuses_malformed_items(item: str) -> None:
    with pytest.raises(QueryError, match="malformed parameter"):
        parse_params([item])


def test_parse_params_refuses_duplicates() -> None:
    with pytest.raises(QueryError, match="given twice"):
        parse_params(["a=1", "a=2"])


# --- saved queries ---------------------------------------------------------------------------------


@pytest.fixture
def queries_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "queries"
    folder.mkdir()
    (folder / "by_unit.sql").write_text(
        "-- Jobs of one business unit.\n--\n-- Params: $unit\nselect * from silver.jobs where business_unit = $unit\n"
    )
    (folder / "plain.sql").write_text("select 1 as one\n")
    (folder / "notes.txt").write_text("not a query")
    return folder


def test_list_saved_queries(queries_dir: Path) -> None:
    saved = list_saved_queries(queries_dir)

    assert [(q.name, q.description, q.params) for q in saved] == [
        ("by_unit", "Jobs of one business unit.", ("unit",)),
        ("plain", "", ()),
    ]
    assert saved[0].path == queries_dir / "by_unit.sql"
    assert list_saved_queries(queries_dir / "missing") == []


def test_resolve_query_by_name_path_or_text(
    queries_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    expected = (queries_dir / "plain.sql").read_text()

    assert resolve_query("plain", queries_dir) == ("plain", expected)
    assert resolve_query("queries/plain.sql", queries_dir) == ("plain", expected)
    assert resolve_query("plain.sql", queries_dir) == ("plain", expected)
    assert resolve_query(str(queries_dir / "plain.sql"), queries_dir) == ("plain", expected)
    assert resolve_query("select 2 as two", queries_dir) == ("adhoc", "select 2 as two")


@pytest.mark.parametrize("arg", ["plian", "queries/missing.sql", "missing.sql", "elsewhere/plain.sql"])
def test_resolve_query_names_the_available_queries_when_missing(queries_dir: Path, arg: str) -> None:
    with pytest.raises(QueryError, match="no saved query .*available: by_unit, plain"):
        resolve_query(arg, queries_dir)


def test_shipped_queries_have_a_description() -> None:
    saved = list_saved_queries(REPO_QUERIES)
    assert {
        "revenue_by_month",
        "top_customers",
        "open_receivables",
        "estimate_conversion",
        "active_events",
    } <= {q.name for q in saved}
    assert all(q.description for q in saved)


def _typed_nulls(dataset: str) -> str:
    columns = ", ".join(f"cast(null as {c.type}) as {c.name}" for c in RAW_SCHEMAS[dataset].columns)
    return f"select {columns} where false"


@pytest.fixture(scope="module")
def business(tmp_path_factory: pytest.TempPathFactory) -> Company:
    """A catalog with every view the shipped queries read, with a few rows."""
    company = _company(tmp_path_factory.mktemp("business"))
    for dataset in ("customers", "jobs", "calls", "estimates"):
        company.views.get("silver", {}).pop(dataset, None)
        company.add("silver", dataset, _typed_nulls(dataset))
    company.add(
        "silver",
        "invoices",
        "select 'i1' as invoice_id, 'j1' as job_id, 'c1' as customer_id, date '2024-01-05' as invoice_date,"
        " date '2024-02-04' as due_date, 100.00::decimal(12,2) as subtotal, 8.00::decimal(12,2) as tax,"
        " 108.00::decimal(12,2) as total, 108.00::decimal(12,2) as balance, 'open' as status,"
        " null::timestamp as paid_at, timestamp '2024-01-05 10:00' as updated_at",
    )
    company.add(
        "gold",
        "revenue_by_month",
        "select * from (values (date '2024-01-01', 'HVAC', 3, 300.00::decimal(12,2), 200.00::decimal(12,2)),"
        " (date '2024-02-01', 'HVAC', 1, 100.00::decimal(12,2), 0.00::decimal(12,2)))"
        " as t(month, business_unit, invoice_count, invoiced_total, collected_total)",
    )
    company.add(
        "gold",
        "customer_360",
        "select * from (values ('c1', 'Ann', 'residential', 2, timestamp '2024-01-01', timestamp '2024-02-01',"
        " 500.00::decimal(12,2), 108.00::decimal(12,2), 0.00::decimal(12,2), 3, timestamp '2024-02-03'),"
        " ('c2', 'Bob', 'commercial', 1, timestamp '2024-01-01', timestamp '2024-01-01',"
        " 900.00::decimal(12,2), 0.00::decimal(12,2), 50.00::decimal(12,2), 1, timestamp '2024-01-02'))"
        " as t(customer_id, name, customer_type, completed_jobs, first_job_completed_at, last_job_completed_at,"
        " lifetime_revenue, open_balance, open_estimates_total, total_calls, last_call_at)",
    )
    company.add(
        "gold",
        "estimate_conversion",
        "select date '2024-01-01' as month, 'HVAC' as business_unit, 4 as estimates_created,"
        " 1 as estimates_sold, 900.00::decimal(12,2) as sold_total, 0.25 as conversion_rate",
    )
    company.add(
        "gold",
        "event_facts",
        "select * from (values ('e1', 'acme', 'overdue_invoice', 'invoice', 'i1', 'c1', 'high', date '2024-03-01', '{}'),"
        " ('e0', 'acme', 'overdue_invoice', 'invoice', 'i0', 'c1', 'high', date '2024-02-01', '{}'))"
        " as t(event_id, company, event_type, entity_type, entity_id, customer_id, severity, as_of_date, details)",
    )
    company.add(
        "gold",
        "customer_profiles",
        "select 'c1' as customer_id, 'Trane' as equipment_brand, 14 as system_age_years, 'replace' as intent",
    )
    company.publish()
    return company


@pytest.mark.parametrize("name", sorted(p.stem for p in REPO_QUERIES.glob("*.sql")))
def test_shipped_queries_run_without_parameters(business: Company, name: str) -> None:
    _, sql = resolve_query(name, REPO_QUERIES)
    business.run(sql)


def test_shipped_queries_give_the_expected_answers(business: Company) -> None:
    def run(name: str, params: dict[str, object] | None = None) -> list[dict[str, object]]:
        return business.run(resolve_query(name, REPO_QUERIES)[1], params)

    assert [r["month"] for r in run("revenue_by_month")] == [dt.date(2024, 1, 1), dt.date(2024, 2, 1)]
    assert [r["month"] for r in run("revenue_by_month", {"since": "2024-02-01"})] == [dt.date(2024, 2, 1)]
    assert [r["customer_id"] for r in run("top_customers", {"limit": "1"})] == ["c2"]
    receivables = run("open_receivables", {"as_of": "2024-03-15"})
    assert [(r["invoice_id"], r["days_past_due"], r["aging_bucket"]) for r in receivables] == [
        ("i1", 40, "31-60")
    ]
    assert [r["event_id"] for r in run("active_events")] == ["e1"]
    assert run("estimate_conversion", {"business_unit": "Plumbing"}) == []
    assert [r["customer_id"] for r in run("aging_systems", {"min_age": "15"})] == []
