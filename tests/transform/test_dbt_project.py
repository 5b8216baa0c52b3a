"""The dbt project (dbt_project/) built in-process on a tiny hand-written bronze.

Gold values are checked against plain-Python computations over the input rows (not the same SQL);
each event rule against hand-labelled entities. dbt runs are shared per module: the first in-process
invoke costs about 5 s.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from dbt.cli.main import dbtRunnerResult

from lakehouse.config import load_config
from tests.build_fixtures import REPO
from tests.dbt_fixtures import (
    AS_OF,
    COMPANY,
    DBT_PROJECT_DIR,
    DEFAULT_EVENTS,
    EXPECTED_EVENTS,
    BronzeBuilder,
    Row,
    create_bronze,
    insert_bronze,
    latest_versions,
    node_statuses,
    query,
    query_dicts,
    run_dbt,
    sample_bronze,
    ts,
)

pytestmark = pytest.mark.slow

SILVER_KEYS = {
    "customers": "customer_id",
    "jobs": "job_id",
    "calls": "call_id",
    "estimates": "estimate_id",
    "invoices": "invoice_id",
}
GOLD_MODELS = ("revenue_by_month", "customer_360", "estimate_conversion", "event_facts")
# what dbt may write into a project directory; none of it may appear in the repo's dbt_project/
REPO_ARTIFACT_DIRS = ("target", "logs", "dbt_packages", ".user.yml", "package-lock.yml")
_ARTIFACTS_BEFORE = {name for name in REPO_ARTIFACT_DIRS if (DBT_PROJECT_DIR / name).exists()}


@dataclass(frozen=True)
class DbtRun:
    """One dbt build on its own DuckDB file."""

    db_path: Path
    work_dir: Path
    result: dbtRunnerResult

    def manifest(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.work_dir / "target" / "manifest.json").read_text())
        return data


def _build(
    work_dir: Path,
    dbt_vars: dict[str, Any] | None,
    bronze: BronzeBuilder | None = None,
    base: DbtRun | None = None,
    more_bronze: BronzeBuilder | None = None,
    select: tuple[str, ...] = (),
    project_dir: Path = DBT_PROJECT_DIR,
) -> DbtRun:
    """``dbt build`` on a new DuckDB file: a fresh bronze of ``bronze``, or a copy of ``base``'s file.

    A copy keeps every table of the base run, so a selective build only rebuilds what it selects;
    ``more_bronze`` rows are appended to its bronze first. The file is always named run.duckdb:
    dbt-duckdb qualifies relations with the file's stem.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    db_path = work_dir / "run.duckdb"
    if base is not None:
        shutil.copyfile(base.db_path, db_path)
    else:
        assert bronze is not None
        create_bronze(db_path, bronze.rows)
    if more_bronze is not None:
        insert_bronze(db_path, more_bronze.rows)
    result = run_dbt("build", db_path, work_dir, dbt_vars, project_dir=project_dir, select=select)
    return DbtRun(db_path=db_path, work_dir=work_dir, result=result)


def _vars(company: str = COMPANY, **overrides: dict[str, Any]) -> dict[str, Any]:
    events = {name: {**settings, **overrides.get(name, {})} for name, settings in DEFAULT_EVENTS.items()}
    return {"company": company, "as_of": AS_OF.isoformat(), "events": events}


def _not_passed(run: DbtRun) -> str:
    """What went wrong in a run, for assertion messages."""
    if run.result.exception is not None:
        return repr(run.result.exception)
    statuses = node_statuses(run.result)
    return repr({uid: status for uid, status in statuses.items() if status not in {"success", "pass"}})


def _assert_repo_untouched() -> None:
    """No dbt artifact appeared in dbt_project/ (left-overs of a manual dbt run there are ignored)."""
    leftovers = {name for name in REPO_ARTIFACT_DIRS if (DBT_PROJECT_DIR / name).exists()} - _ARTIFACTS_BEFORE
    assert not leftovers, f"dbt wrote into the repo: {sorted(leftovers)}"


@pytest.fixture(scope="module")
def bronze() -> BronzeBuilder:
    return sample_bronze()


@pytest.fixture(scope="module")
def silver(bronze: BronzeBuilder) -> dict[str, dict[str, Row]]:
    """The expected silver, computed in Python: dataset -> id -> latest row."""
    return {name: latest_versions(bronze.rows[name], key) for name, key in SILVER_KEYS.items()}


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory, bronze: BronzeBuilder) -> DbtRun:
    """The one full build: every model and test."""
    return _build(tmp_path_factory.mktemp("dbt-default"), _vars(), bronze=bronze)


@pytest.fixture(scope="module")
def changed_run(tmp_path_factory: pytest.TempPathFactory, default_run: DbtRun) -> DbtRun:
    """event_facts rebuilt with other parameters, on a copy of the default run's file."""
    dbt_vars = _vars(
        company="beta-co",
        unsold_estimate={"min_total": 200},
        overdue_invoice={"grace_days": 3},
        lapsed_customer={"months_inactive": 6, "severity": "high"},
        missed_call={"callback_hours": 72},
    )
    return _build(tmp_path_factory.mktemp("dbt-changed"), dbt_vars, base=default_run, select=("event_facts",))


def _events(run: DbtRun) -> dict[str, dict[str, Row]]:
    """event_type -> entity_id -> event row."""
    events: dict[str, dict[str, Row]] = defaultdict(dict)
    for row in query_dicts(run.db_path, "select * from gold.event_facts"):
        events[row["event_type"]][row["entity_id"]] = row
    return events


# --- build, schemas, zones ----------------------------------------------------------------------


def test_build_passes_and_lays_out_the_zones(default_run: DbtRun) -> None:
    assert default_run.result.success, _not_passed(default_run)
    statuses = node_statuses(default_run.result)
    assert statuses and set(statuses.values()) <= {"success", "pass"}
    assert any(uid.startswith("test.lakehouse.reconcile_") for uid in statuses)
    reconciled = [uid for uid in statuses if uid.startswith("test.lakehouse.sums_to_non_void_invoice_total_")]
    assert len(reconciled) == 2  # revenue_by_month.invoiced_total and customer_360.lifetime_revenue

    tables = set(
        query(
            default_run.db_path, "select table_schema, table_name, table_type from information_schema.tables"
        )
    )
    for name in SILVER_KEYS:
        assert ("staging", f"stg_{name}", "VIEW") in tables
        assert ("silver", name, "BASE TABLE") in tables
    for name in GOLD_MODELS:
        assert ("gold", name, "BASE TABLE") in tables

    nodes = default_run.manifest()["nodes"]
    for name in SILVER_KEYS:
        assert nodes[f"model.lakehouse.{name}"]["config"]["meta"] == {"zone": "silver", "schema_version": "1"}
        # staging inherits schema_version from the project defaults but is never published
        assert nodes[f"model.lakehouse.stg_{name}"]["config"]["meta"]["zone"] == "staging"
        assert nodes[f"model.lakehouse.stg_{name}"]["config"]["materialized"] == "view"
    for name in GOLD_MODELS:
        assert nodes[f"model.lakehouse.{name}"]["config"]["meta"] == {"zone": "gold", "schema_version": "1"}
    _assert_repo_untouched()


# --- staging and silver -----------------------------------------------------------------------------


def test_staging_normalizes_and_keeps_every_row_up_to_as_of(
    default_run: DbtRun, bronze: BronzeBuilder
) -> None:
    for name in SILVER_KEYS:
        expected = sum(1 for row in bronze.rows[name] if row["dt"] <= AS_OF)
        assert query(default_run.db_path, f"select count(*) from staging.stg_{name}") == [(expected,)]

    customers = query(
        default_run.db_path,
        "select distinct customer_id, name, email, phone, state from staging.stg_customers "
        "where customer_id in ('C1', 'C5') order by all",
    )
    assert customers == [
        ("C1", "Alice Smith", "alice.smith@example.com", "5125550143", "TX"),
        ("C1", "Alice Smyth", "alice@example.com", "5125550143", "TX"),
        ("C5", "Eve A", None, None, None),
        ("C5", "Eve B", None, None, None),
    ]
    numbers = dict(query(default_run.db_path, "select distinct call_id, from_number from staging.stg_calls"))
    assert numbers["K3"] == numbers["K2"] == "5125550199"
    assert numbers["K10"] == numbers["K11"] == "7375550101"


def test_silver_keeps_the_latest_version_of_each_id(
    default_run: DbtRun, silver: dict[str, dict[str, Row]]
) -> None:
    for name, key in SILVER_KEYS.items():
        rows = query_dicts(default_run.db_path, f"select * from silver.{name}")
        got = {row[key]: row for row in rows}
        assert len(got) == len(rows), f"silver.{name} has duplicate ids"
        assert set(got) == set(silver[name])
        for entity_id, row in got.items():
            want = silver[name][entity_id]
            assert row["updated_at"] == want["updated_at"]
            assert row["_ingest_run_id"] == want["_ingest_run_id"]
            assert row["_source_line"] == want["_source_line"]
            assert row["_bronze_dt"] == want["dt"]

    names = dict(query(default_run.db_path, "select customer_id, name from silver.customers"))
    # C1: re-ingested copy wins; C5: run id breaks the tie; C6: ingest time, then source line
    assert names["C1"] == "Alice Smith"
    assert names["C5"] == "Eve B"
    assert names["C6"] == "Frank Newest"
    assert names["C7"] == "Gina"  # its newer version lands after as_of
    assert "C8" not in names
    c1_dt = query(default_run.db_path, "select _bronze_dt from silver.customers where customer_id = 'C1'")
    assert c1_dt == [(date(2024, 3, 2),)]
    statuses = dict(query(default_run.db_path, "select job_id, status from silver.jobs"))
    assert statuses["J5"] == "completed" and "J9" not in statuses


# --- gold marts against plain-Python computations -----------------------------------------------------


def test_revenue_by_month_matches_python(default_run: DbtRun, silver: dict[str, dict[str, Row]]) -> None:
    expected: dict[tuple[date, str], list[Any]] = defaultdict(lambda: [0, Decimal(0), Decimal(0)])
    for invoice in silver["invoices"].values():
        if invoice["status"] == "void":
            continue
        unit = silver["jobs"][invoice["job_id"]]["business_unit"]
        acc = expected[(invoice["invoice_date"].replace(day=1), unit)]
        acc[0] += 1
        acc[1] += invoice["total"]
        acc[2] += invoice["total"] - invoice["balance"]

    rows = query(
        default_run.db_path,
        "select month, business_unit, invoice_count, invoiced_total, collected_total from gold.revenue_by_month",
    )
    got = {(month, unit): [count, invoiced, collected] for month, unit, count, invoiced, collected in rows}
    assert got == dict(expected)
    assert got[(date(2024, 6, 1), "HVAC")] == [2, Decimal("700.00"), Decimal("150.00")]  # I5 (void) left out


def test_customer_360_matches_python(default_run: DbtRun, silver: dict[str, dict[str, Row]]) -> None:
    expected: dict[str, dict[str, Any]] = {}
    for cid, customer in silver["customers"].items():
        completed = [
            j["completed_at"]
            for j in silver["jobs"].values()
            if j["customer_id"] == cid and j["status"] == "completed"
        ]
        invoices = [
            i for i in silver["invoices"].values() if i["customer_id"] == cid and i["status"] != "void"
        ]
        estimates = [
            e for e in silver["estimates"].values() if e["customer_id"] == cid and e["status"] == "open"
        ]
        calls = [c["started_at"] for c in silver["calls"].values() if c["customer_id"] == cid]
        expected[cid] = {
            "customer_id": cid,
            "name": customer["name"].strip(),
            "customer_type": customer["customer_type"],
            "completed_jobs": len(completed),
            "first_job_completed_at": min(completed, default=None),
            "last_job_completed_at": max(completed, default=None),
            "lifetime_revenue": sum((i["total"] for i in invoices), Decimal(0)),
            "open_balance": sum((i["balance"] for i in invoices if i["status"] == "open"), Decimal(0)),
            "open_estimates_total": sum((e["total"] for e in estimates), Decimal(0)),
            "total_calls": len(calls),
            "last_call_at": max(calls, default=None),
        }

    got = {
        row["customer_id"]: row for row in query_dicts(default_run.db_path, "select * from gold.customer_360")
    }
    assert got == expected
    assert got["C5"]["completed_jobs"] == 0 and got["C5"]["lifetime_revenue"] == Decimal(0)
    assert got["C1"]["lifetime_revenue"] == Decimal("700.00")  # I1 + I9, the void I5 left out


def test_estimate_conversion_matches_python(default_run: DbtRun, silver: dict[str, dict[str, Row]]) -> None:
    expected: dict[tuple[date, str], list[Any]] = defaultdict(lambda: [0, 0, Decimal(0)])
    for estimate in silver["estimates"].values():
        unit = silver["jobs"][estimate["job_id"]]["business_unit"]
        acc = expected[(estimate["created_at"].date().replace(day=1), unit)]
        acc[0] += 1
        if estimate["status"] == "sold":
            acc[1] += 1
            acc[2] += estimate["total"]

    rows = query_dicts(default_run.db_path, "select * from gold.estimate_conversion")
    got = {(r["month"], r["business_unit"]): r for r in rows}
    assert set(got) == set(expected)
    for key, (created, sold, sold_total) in expected.items():
        row = got[key]
        assert (row["estimates_created"], row["estimates_sold"], row["sold_total"]) == (
            created,
            sold,
            sold_total,
        )
        assert row["conversion_rate"] == pytest.approx(sold / created)
        assert isinstance(row["conversion_rate"], float)


# --- events --------------------------------------------------------------------------------------------


def test_each_event_rule_fires_exactly_on_the_expected_entities(default_run: DbtRun) -> None:
    events = _events(default_run)
    assert {t: set(by_id) for t, by_id in events.items()} == EXPECTED_EVENTS

    for event_type, by_id in events.items():
        entity_type = DEFAULT_EVENTS[event_type]["entity_type"]
        for entity_id, row in by_id.items():
            key = f"{COMPANY}|{event_type}|{entity_type}|{entity_id}"
            assert row["event_id"] == hashlib.md5(key.encode()).hexdigest()
            assert row["company"] == COMPANY
            assert row["entity_type"] == entity_type
            assert row["severity"] == DEFAULT_EVENTS[event_type]["severity"]
            assert row["as_of_date"] == AS_OF
            assert isinstance(json.loads(row["details"]), dict)

    assert events["missed_call"]["K17"]["customer_id"] is None
    assert events["missed_call"]["K1"]["customer_id"] == "C1"
    assert events["lapsed_customer"]["C2"]["customer_id"] == "C2"
    assert events["overdue_invoice"]["I3"]["customer_id"] == "C3"


def test_event_details_carry_the_facts(default_run: DbtRun) -> None:
    events = _events(default_run)

    e1 = json.loads(events["unsold_estimate"]["E1"]["details"])
    assert e1["total"] == 1200 and e1["age_days"] == 29 and e1["job_id"] == "J1"
    assert ts(e1["created_at"]) == ts("2024-06-01 09:00")
    assert json.loads(events["unsold_estimate"]["E6"]["details"])["age_days"] == 14

    i3 = json.loads(events["overdue_invoice"]["I3"]["details"])
    assert i3["balance"] == 100 and i3["due_date"] == "2023-02-16"
    assert i3["days_overdue"] == (AS_OF - date(2023, 2, 16)).days

    c2 = json.loads(events["lapsed_customer"]["C2"]["details"])
    assert ts(c2["last_completed_at"]) == ts("2023-01-10 15:00") and c2["completed_jobs"] == 1
    assert c2["months_inactive"] == 17

    k4 = json.loads(events["missed_call"]["K4"]["details"])
    assert k4 == {
        "started_at": k4["started_at"],
        "outcome": "abandoned",
        "from_number": "5125550177",
        "duration_seconds": 60,
        "callback_hours": 24,
    }
    assert datetime.fromisoformat(k4["started_at"]) == ts("2024-06-26 08:00")


def _missed_calls_in_python(calls: dict[str, Row], lookback_days: int, callback_hours: int) -> set[str]:
    """The missed_call rule in plain Python over the expected silver calls."""

    def number(raw: str | None) -> str | None:
        digits = re.sub(r"[^0-9]", "", raw or "")
        if len(digits) == 11 and digits.startswith("1"):
            digits = digits[1:]
        return digits if len(digits) == 10 else None

    instant = datetime.combine(AS_OF + timedelta(days=1), time())
    window = timedelta(hours=callback_hours)
    outbound = [
        (number(c["from_number"]), c["started_at"])
        for c in calls.values()
        if c["direction"] == "outbound" and number(c["from_number"]) is not None
    ]
    missed = set()
    for call_id, call in calls.items():
        start, from_number = call["started_at"], number(call["from_number"])
        if (
            call["direction"] == "inbound"
            and call["outcome"] in {"abandoned", "not_booked"}
            and instant - timedelta(days=lookback_days) <= start < instant
            and start + window <= instant
            and not any(
                n is not None and n == from_number and start < at <= start + window for n, at in outbound
            )
        ):
            missed.add(call_id)
    return missed


def test_missed_call_waits_for_the_callback_window_to_close(
    default_run: DbtRun, changed_run: DbtRun, silver: dict[str, dict[str, Row]]
) -> None:
    missed = set(_events(default_run)["missed_call"])
    assert missed == _missed_calls_in_python(silver["calls"], 7, 24)
    # window ends exactly at the as-of instant (2024-07-01 00:00): missed; one second later, or one
    # hour before the instant: still open; a callback exactly 24 h later answers the call
    assert "K18" in missed
    assert {"K19", "K10", "K20"}.isdisjoint(missed)
    assert set(_events(changed_run)["missed_call"]) == _missed_calls_in_python(silver["calls"], 7, 72)


def test_changed_parameters_change_the_events(changed_run: DbtRun) -> None:
    assert changed_run.result.success, _not_passed(changed_run)
    events = _events(changed_run)
    assert {t: set(by_id) for t, by_id in events.items()} == {
        "unsold_estimate": {"E1", "E3", "E6"},  # min_total 200 lets E3 (300) in
        "overdue_invoice": {"I1", "I3", "I4", "I8"},  # grace 3 days: due 06-25 and 06-23 now overdue
        "lapsed_customer": {"C2", "C6"},  # 6 months: C6 (last job 2023-09-15) lapses too
        # 72 h: K5 answers K4; K1, K17 and K18 (started after 06-28 00:00) are still in their window
        "missed_call": {"K14"},
    }
    assert {row["severity"] for row in events["lapsed_customer"].values()} == {"high"}
    row = events["unsold_estimate"]["E1"]
    assert row["company"] == "beta-co"
    assert row["event_id"] == hashlib.md5(b"beta-co|unsold_estimate|estimate|E1").hexdigest()
    _assert_repo_untouched()


def test_event_thresholds_live_only_in_the_config() -> None:
    """dbt_project.yml has no event rules: the build passes those of config/events/*.json as vars."""
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    assert "events" not in project["vars"]
    # the rules these tests pass are the shipped config's (the build passes exactly those)
    assert load_config(REPO / "config").events_dbt_vars() == DEFAULT_EVENTS


def test_without_the_events_var_every_rule_is_disabled(tmp_path: Path, default_run: DbtRun) -> None:
    run = _build(
        tmp_path,
        {"company": COMPANY, "as_of": AS_OF.isoformat()},
        base=default_run,
        select=("event_facts",),
    )
    assert run.result.success, _not_passed(run)
    assert query(run.db_path, "select count(*) from gold.event_facts") == [(0,)]


def test_an_enabled_rule_without_its_parameter_fails_at_parse(tmp_path: Path) -> None:
    events = {"overdue_invoice": {"enabled": True, "severity": "high", "entity_type": "invoice"}}
    result = run_dbt("parse", tmp_path / "unused.duckdb", tmp_path, {"as_of": "2024-06-30", "events": events})

    assert not result.success
    assert "events.overdue_invoice.grace_days" in str(result.exception)
    assert not (tmp_path / "unused.duckdb").exists()


# --- write-audit-publish: a bad row fails the build ----------------------------------------------------


def test_broken_rows_fail_the_build_and_skip_gold(tmp_path: Path, default_run: DbtRun) -> None:
    broken = BronzeBuilder.empty()
    job: Row = {
        "job_type": "repair",
        "business_unit": "HVAC",
        "created_at": ts("2024-06-15 08:00"),
        "scheduled_for": ts("2024-06-15 09:00"),
        "job_total": Decimal("10.00"),
        "updated_at": ts("2024-06-15 11:00"),
    }
    # J404 is for a customer that does not exist; J405 has a status that is not an enum value
    broken.add("jobs", "2024-06-15", job_id="J404", customer_id="C404", status="scheduled", **job)
    broken.add("jobs", "2024-06-15", job_id="J405", customer_id="C1", status="done", **job)
    # silver jobs and everything downstream of it, with their tests, on a copy of the default run's file
    run = _build(tmp_path, _vars(), base=default_run, more_bronze=broken, select=("jobs+",))

    assert not run.result.success
    statuses = node_statuses(run.result)
    failed = sorted(uid.split(".")[2] for uid, status in statuses.items() if status == "fail")
    assert len(failed) == 2
    assert failed[0].startswith("accepted_values_jobs_status")
    assert failed[1].startswith("relationships_jobs_customer_id")
    for name in GOLD_MODELS:  # every mart reads silver jobs, whose tests failed
        assert statuses[f"model.lakehouse.{name}"] == "skipped"
    _assert_repo_untouched()


# --- a model dropped into models/ or models/gold gets the gold defaults --------------------------------


def test_a_new_model_gets_gold_defaults_and_defaults_fill_missing_vars(
    tmp_path: Path, default_run: DbtRun, silver: dict[str, dict[str, Row]]
) -> None:
    project = tmp_path / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns(*REPO_ARTIFACT_DIRS))
    (project / "models" / "gold" / "jobs_per_unit.sql").write_text(
        "select business_unit, count(*) as job_count\nfrom {{ ref('jobs') }}\ngroup by business_unit\n"
    )
    # straight in models/, outside any configured folder: the project-level defaults apply
    (project / "models" / "my_root_model.sql").write_text(
        "select count(*) as customer_count\nfrom {{ ref('customers') }}\n"
    )
    # company and as_of left to their defaults ('default', the run's date); every rule disabled
    disabled = {name: {**settings, "enabled": False} for name, settings in DEFAULT_EVENTS.items()}
    run = _build(
        tmp_path / "work",
        {"events": disabled},
        base=default_run,
        select=("jobs_per_unit", "my_root_model", "event_facts", "stg_customers"),
        project_dir=project,
    )

    assert run.result.success, _not_passed(run)
    nodes = run.manifest()["nodes"]
    for name in ("jobs_per_unit", "my_root_model"):
        node = nodes[f"model.lakehouse.{name}"]
        assert node["config"]["meta"] == {"zone": "gold", "schema_version": "1"}
        assert node["config"]["materialized"] == "table"
        assert node["schema"] == "gold"
        assert node_statuses(run.result)[f"model.lakehouse.{name}"] == "success"
    assert query(run.db_path, "select customer_count from gold.my_root_model") == [
        (len(silver["customers"]),)
    ]

    expected: dict[str, int] = defaultdict(int)
    for job in silver["jobs"].values():
        expected[job["business_unit"]] += 1
    assert dict(query(run.db_path, "select business_unit, job_count from gold.jobs_per_unit")) == expected
    # as_of defaults to the run's date: customer rows after 2024-06-30 are in
    assert query(run.db_path, "select count(*) from staging.stg_customers where customer_id = 'C8'") == [(1,)]

    assert query(run.db_path, "select count(*) from gold.event_facts") == [(0,)]
    types = query(
        run.db_path,
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'gold' and table_name = 'event_facts' order by ordinal_position",
    )
    assert types == [
        ("event_id", "VARCHAR"),
        ("company", "VARCHAR"),
        ("event_type", "VARCHAR"),
        ("entity_type", "VARCHAR"),
        ("entity_id", "VARCHAR"),
        ("customer_id", "VARCHAR"),
        ("severity", "VARCHAR"),
        ("as_of_date", "DATE"),
        ("details", "VARCHAR"),
    ]
    assert not (project / "target").exists() and not (project / "logs").exists()
    _assert_repo_untouched()


@pytest.fixture(autouse=True, scope="module")
def _no_dbt_artifacts_in_repo() -> Iterator[None]:
    yield
    _assert_repo_untouched()
