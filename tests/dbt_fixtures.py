"""Helpers of the dbt project tests: a tiny hand-written bronze, a way to run dbt in-process on it.

The bronze rows below are the test input. Each one is written as the raw extract would carry it
(dirty phones, emails, states; several versions of an id; exact duplicates) plus the lineage columns
the bronze ingest adds. The labels in the comments say which event rule each row is a positive or a
negative case of, at ``AS_OF`` with ``DEFAULT_EVENTS``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from dbt.cli.main import dbtRunner, dbtRunnerResult

from lakehouse.dataplane.schemas import BRONZE_LINEAGE_COLUMNS, RAW_SCHEMAS
from lakehouse.transform.dbt_runner import release_dbt_resources, temporary_environ

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"

AS_OF = date(2024, 6, 30)
COMPANY = "acme"

DEFAULT_EVENTS: dict[str, dict[str, Any]] = {
    "unsold_estimate": {
        "enabled": True,
        "severity": "medium",
        "entity_type": "estimate",
        "min_age_days": 14,
        "min_total": 500.0,
    },
    "overdue_invoice": {"enabled": True, "severity": "high", "entity_type": "invoice", "grace_days": 7},
    "lapsed_customer": {"enabled": True, "severity": "low", "entity_type": "customer", "months_inactive": 12},
    "missed_call": {
        "enabled": True,
        "severity": "high",
        "entity_type": "call",
        "lookback_days": 7,
        "callback_hours": 24,
    },
}

Row = dict[str, Any]


def ts(text: str) -> datetime:
    """A naive timestamp from ``YYYY-MM-DD HH:MM[:SS]``."""
    return datetime.fromisoformat(text)


def d(text: str) -> date:
    """A date from ``YYYY-MM-DD``."""
    return date.fromisoformat(text)


@dataclass
class BronzeBuilder:
    """Collects bronze rows and fills in the lineage columns the ingest would add.

    Rows of one ``dt`` of one dataset come from one ingest run (``run-<dataset>-<dt>``, ingested one
    hour after midnight UTC of the next day) and get consecutive source lines, unless told otherwise.
    """

    rows: dict[str, list[Row]]
    _lines: dict[tuple[str, str], int]

    @classmethod
    def empty(cls) -> BronzeBuilder:
        return cls(rows={name: [] for name in RAW_SCHEMAS}, _lines={})

    def add(
        self,
        dataset: str,
        dt: str,
        run_id: str | None = None,
        ingested_at: datetime | None = None,
        source_line: int | None = None,
        **values: Any,
    ) -> Row:
        """Append one row of ``dataset`` in partition ``dt`` and return it (complete, lineage included)."""
        schema = RAW_SCHEMAS[dataset]
        unknown = set(values) - set(schema.column_names)
        if unknown:
            raise KeyError(f"{dataset} has no column(s) {sorted(unknown)}")
        run = run_id or f"run-{dataset}-{dt}"
        line = source_line or self._lines.get((dataset, run), 0) + 1
        self._lines[(dataset, run)] = line
        row: Row = dict.fromkeys(schema.column_names)
        row.update(values)
        row.update(
            _ingest_run_id=run,
            _ingested_at=ingested_at or datetime.combine(d(dt) + timedelta(days=1), time(1, 0), tzinfo=UTC),
            _source_file=f"{dataset}/{dt}/{dataset}.csv",
            _source_line=line,
            dt=d(dt),
        )
        self.rows[dataset].append(row)
        return row

    def duplicate(self, dataset: str, row: Row) -> None:
        """Append an exact copy of ``row`` (same values, same lineage)."""
        self.rows[dataset].append(dict(row))


def _customer(b: BronzeBuilder, dt: str, customer_id: str, name: str, **values: Any) -> Row:
    base: Row = {
        "customer_type": "residential",
        "email": None,
        "phone": None,
        "street": "1 Main St",
        "city": "Austin",
        "state": "TX",
        "zip": "78701",
        "created_at": ts("2023-01-01 09:00"),
        "updated_at": ts(f"{dt} 09:00"),
        "do_not_service": False,
    }
    base.update(values)
    return b.add("customers", dt, customer_id=customer_id, name=name, **base)


def _job(
    b: BronzeBuilder, dt: str, job_id: str, customer_id: str, unit: str, status: str, **values: Any
) -> Row:
    base: Row = {
        "job_type": "repair",
        "technician_id": "T1",
        "created_at": ts(f"{dt} 08:00"),
        "scheduled_for": ts(f"{dt} 09:00"),
        "completed_at": None,
        "job_total": Decimal("100.00"),
        "updated_at": ts(f"{dt} 18:00"),
    }
    base.update(values)
    return b.add(
        "jobs", dt, job_id=job_id, customer_id=customer_id, business_unit=unit, status=status, **base
    )


def _estimate(
    b: BronzeBuilder,
    dt: str,
    estimate_id: str,
    job_id: str,
    customer_id: str,
    status: str,
    total: str,
    **v: Any,
) -> Row:
    base: Row = {
        "created_at": ts(f"{dt} 09:00"),
        "sold_at": None,
        "updated_at": ts(f"{dt} 09:00"),
    }
    base.update(v)
    amount = Decimal(total)
    return b.add(
        "estimates",
        dt,
        estimate_id=estimate_id,
        job_id=job_id,
        customer_id=customer_id,
        status=status,
        subtotal=amount,
        tax=Decimal("0.00"),
        total=amount,
        **base,
    )


def _invoice(
    b: BronzeBuilder,
    dt: str,
    invoice_id: str,
    job_id: str,
    customer_id: str,
    status: str,
    total: str,
    balance: str,
    due: str,
    **v: Any,
) -> Row:
    base: Row = {"invoice_date": d(dt), "paid_at": None, "updated_at": ts(f"{dt} 12:00")}
    base.update(v)
    amount = Decimal(total)
    return b.add(
        "invoices",
        dt,
        invoice_id=invoice_id,
        job_id=job_id,
        customer_id=customer_id,
        status=status,
        subtotal=amount - Decimal("1.00"),
        tax=Decimal("1.00"),
        total=amount,
        balance=Decimal(balance),
        due_date=d(due),
        **base,
    )


def _call(
    b: BronzeBuilder,
    dt: str,
    call_id: str,
    customer_id: str | None,
    number: str,
    direction: str,
    outcome: str,
    started: str,
    **v: Any,
) -> Row:
    base: Row = {
        "duration_seconds": 60,
        "agent_id": "A1",
        "job_id": None,
        "transcript": "hello",
        "updated_at": ts(started) + timedelta(minutes=5),
    }
    base.update(v)
    return b.add(
        "calls",
        dt,
        call_id=call_id,
        customer_id=customer_id,
        from_number=number,
        direction=direction,
        outcome=outcome,
        started_at=ts(started),
        **base,
    )


def sample_bronze() -> BronzeBuilder:
    """The hand-written bronze of the tests (as_of 2024-06-30, as-of instant 2024-07-01 00:00)."""
    b = BronzeBuilder.empty()
    # fmt: off

    # --- customers ------------------------------------------------------------------------------
    _customer(b, "2024-01-01", "C1", "Alice Smyth", email=" Alice@Example.COM ", phone="(512) 555-0143",
              state=" tx ")
    c1 = _customer(b, "2024-03-01", "C1", "  Alice Smith ", email="  ALICE.SMITH@Example.com",
                   phone="+1 512 555 0143", state="tx")
    b.duplicate("customers", c1)  # exact duplicate row
    # re-ingested the same values a day later: same entity version, later ingest wins the tie
    _customer(b, "2024-03-02", "C1", "  Alice Smith ", email="  ALICE.SMITH@Example.com",
              phone="+1 512 555 0143", state="tx", updated_at=ts("2024-03-01 09:00"))
    _customer(b, "2024-01-01", "C2", "Bob's Plumbing Supply", customer_type="commercial",
              email="OPS@BIZ.COM", phone="512.555.0199", state="ca")
    _customer(b, "2024-01-01", "C3", "Carol", phone="+1 (512) 555-0177", state=None)
    _customer(b, "2024-01-01", "C4", "Dan", email="dan@example.com", phone="5125550100")
    # C5: two versions with the same updated_at and _ingested_at: the greater run id wins over the line
    same_time = datetime(2024, 1, 2, 1, 0, tzinfo=UTC)
    _customer(b, "2024-01-01", "C5", "Eve A", email="   ", phone="2 512 555 0100", state="",
              run_id="run-a", ingested_at=same_time, source_line=7)
    _customer(b, "2024-01-01", "C5", "Eve B", email="   ", phone="2 512 555 0100", state="",
              run_id="run-b", ingested_at=same_time, source_line=1)
    # C6: three rows with the same updated_at: the later ingest beats a higher source line; within
    # one ingest the higher source line wins
    _customer(b, "2024-02-01", "C6", "Frank Old", updated_at=ts("2024-02-01 08:00"), source_line=99)
    _customer(b, "2024-02-05", "C6", "Frank New", updated_at=ts("2024-02-01 08:00"))
    _customer(b, "2024-02-05", "C6", "Frank Newest", updated_at=ts("2024-02-01 08:00"))
    # C7: its newer version lands after as_of; C8 exists only after as_of
    _customer(b, "2024-06-01", "C7", "Gina")
    _customer(b, "2024-07-02", "C7", "Gina Future")
    _customer(b, "2024-07-03", "C8", "Hank Future")

    # --- jobs -----------------------------------------------------------------------------------
    _job(b, "2024-06-01", "J1", "C1", "HVAC", "completed", completed_at=ts("2024-06-01 12:00"),
         job_total=Decimal("500.00"))
    _job(b, "2023-01-10", "J2", "C2", "Plumbing", "completed", completed_at=ts("2023-01-10 15:00"))
    _job(b, "2023-02-01", "J3", "C3", "HVAC", "completed", completed_at=ts("2023-02-01 10:00"))
    _job(b, "2024-06-20", "J4", "C3", "Electrical", "scheduled", scheduled_for=ts("2024-07-10 09:00"))
    _job(b, "2024-04-20", "J5", "C4", "Electrical", "scheduled")
    _job(b, "2024-05-01", "J5", "C4", "Electrical", "completed", completed_at=ts("2024-05-01 16:00"))
    _job(b, "2024-06-10", "J6", "C1", "Plumbing", "canceled")
    _job(b, "2023-09-15", "J7", "C6", "HVAC", "completed", completed_at=ts("2023-09-15 11:00"))
    _job(b, "2024-02-10", "J8", "C4", "Plumbing", "completed", completed_at=ts("2024-02-10 10:00"))
    _job(b, "2024-07-02", "J9", "C7", "HVAC", "scheduled")  # after as_of: not seen

    # --- estimates ------------------------------------------------------------------------------
    _estimate(b, "2024-06-01", "E1", "J1", "C1", "open", "1200.00")  # unsold_estimate: fires
    _estimate(b, "2024-06-25", "E2", "J1", "C1", "open", "2000.00")  # too young
    _estimate(b, "2024-05-01", "E3", "J2", "C2", "open", "300.00")  # total below 500 (fires at 200)
    _estimate(b, "2024-04-10", "E4", "J3", "C3", "open", "900.00")
    _estimate(b, "2024-04-15", "E4", "J3", "C3", "sold", "900.00", created_at=ts("2024-04-10 09:00"),
              sold_at=ts("2024-04-15 10:00"))  # latest version is sold
    _estimate(b, "2024-05-02", "E5", "J5", "C4", "dismissed", "700.00")
    # created 14 days 14 hours before the as-of instant: fires; exactly 14 days before: does not
    _estimate(b, "2024-06-16", "E6", "J1", "C1", "open", "600.00", created_at=ts("2024-06-16 10:00"))
    _estimate(b, "2024-06-17", "E7", "J1", "C1", "open", "600.00", created_at=ts("2024-06-17 00:00"))
    _estimate(b, "2023-09-10", "E8", "J7", "C6", "sold", "450.00", sold_at=ts("2023-09-12 10:00"))
    _estimate(b, "2024-07-01", "E9", "J1", "C1", "open", "5000.00")  # after as_of: not seen

    # --- invoices -------------------------------------------------------------------------------
    _invoice(b, "2024-06-02", "I1", "J1", "C1", "open", "500.00", "500.00", "2024-06-16")  # overdue
    _invoice(b, "2023-01-11", "I2", "J2", "C2", "paid", "800.00", "0.00", "2023-01-25",
             paid_at=ts("2023-01-20 10:00"))
    _invoice(b, "2023-02-02", "I3", "J3", "C3", "open", "300.00", "300.00", "2023-02-16")
    _invoice(b, "2023-03-01", "I3", "J3", "C3", "open", "300.00", "100.00", "2023-02-16",
             invoice_date=d("2023-02-02"))  # partly paid, still overdue
    _invoice(b, "2024-05-02", "I4", "J5", "C4", "open", "400.00", "400.00", "2024-06-25")  # in grace
    _invoice(b, "2024-06-05", "I5", "J1", "C1", "void", "999.00", "999.00", "2024-06-01")  # void
    _invoice(b, "2023-09-16", "I6", "J7", "C6", "paid", "250.00", "0.00", "2023-09-30",
             paid_at=ts("2023-09-20 10:00"))
    _invoice(b, "2024-02-11", "I7", "J8", "C4", "open", "100.00", "0.00", "2024-03-01")  # no balance
    _invoice(b, "2024-06-09", "I8", "J4", "C3", "open", "150.00", "150.00", "2024-06-23")  # due = as_of - 7
    _invoice(b, "2024-06-20", "I9", "J1", "C1", "open", "200.00", "50.00", "2024-07-20")  # not due yet

    # --- calls ------------------------------------------------------------------------------------
    # missed_call with lookback 7 days and callback 24 h: an unanswered inbound call started on or
    # after 2024-06-24 00:00 whose callback window has closed, i.e. started at or before 2024-06-30
    # 00:00 (started_at + 24 h <= the as-of instant 2024-07-01 00:00), with no outbound call to the
    # same number strictly after it and within 24 h
    k1 = _call(b, "2024-06-28", "K1", "C1", "(512) 555-0143", "inbound", "abandoned", "2024-06-28 10:00")
    b.duplicate("calls", k1)  # exact duplicate row
    _call(b, "2024-06-28", "K16", "C1", "512-555-0143", "outbound", "booked", "2024-06-28 09:00")  # before K1
    _call(b, "2024-06-27", "K2", "C2", "512.555.0199", "inbound", "not_booked", "2024-06-27 09:00")
    _call(b, "2024-06-27", "K3", "C2", "+1 512 555 0199", "outbound", "booked", "2024-06-27 15:00")
    _call(b, "2024-06-26", "K4", "C3", "5125550177", "inbound", "abandoned", "2024-06-26 08:00")
    _call(b, "2024-06-28", "K5", "C3", "512-555-0177", "outbound", "booked", "2024-06-28 08:00")  # 48 h
    _call(b, "2024-06-29", "K6", "C4", "5125550100", "inbound", "booked", "2024-06-29 10:00")
    _call(b, "2024-06-10", "K7", "C1", "5125550143", "inbound", "abandoned", "2024-06-10 10:00")  # too old
    _call(b, "2024-06-29", "K8", "C4", "5125550100", "outbound", "not_booked", "2024-06-29 11:00")
    _call(b, "2024-06-29", "K9", "C2", "5125550199", "inbound", "voicemail", "2024-06-29 12:00")
    # one hour before the as-of instant: its callback window is still open, not missed (yet)
    _call(b, "2024-06-30", "K10", None, "+1 (737) 555-0101", "inbound", "abandoned", "2024-06-30 23:00")
    _call(b, "2024-06-30", "K11", None, "737 555 0101", "inbound", "booked", "2024-06-30 23:30")
    _call(b, "2024-07-01", "K12", "C1", "5125550143", "inbound", "abandoned", "2024-07-01 09:00")  # after
    _call(b, "2024-06-25", "K13", "C6", "5125550111", "inbound", "not_booked", "2024-06-25 10:00")
    _call(b, "2024-06-26", "K13", "C6", "5125550111", "inbound", "booked", "2024-06-25 10:00",
          updated_at=ts("2024-06-26 10:00"))  # latest version booked
    _call(b, "2024-06-24", "K14", "C4", "5125550100", "inbound", "abandoned", "2024-06-24 00:00")  # edge in
    _call(b, "2024-06-23", "K15", "C4", "5125550100", "inbound", "abandoned", "2024-06-23 23:59:59")  # out
    # from an unknown number, window closed: missed, with no customer
    _call(b, "2024-06-29", "K17", None, "737-555-0188", "inbound", "abandoned", "2024-06-29 18:00")
    # window ends exactly at the as-of instant: missed; one second later: still open, not missed
    _call(b, "2024-06-30", "K18", None, "7375550133", "inbound", "not_booked", "2024-06-30 00:00")
    _call(b, "2024-06-30", "K19", None, "7375550144", "inbound", "abandoned", "2024-06-30 00:00:01")
    # called back exactly callback_hours later: answered, not missed
    _call(b, "2024-06-25", "K20", None, "7375550155", "inbound", "abandoned", "2024-06-25 12:00")
    _call(b, "2024-06-26", "K21", None, "(737) 555-0155", "outbound", "booked", "2024-06-26 12:00")
    # fmt: on
    return b


EXPECTED_EVENTS: dict[str, set[str]] = {
    "unsold_estimate": {"E1", "E6"},
    "overdue_invoice": {"I1", "I3"},
    "lapsed_customer": {"C2"},
    "missed_call": {"K1", "K4", "K14", "K17", "K18"},
}


def _bronze_columns(dataset: str) -> list[tuple[str, str]]:
    schema = RAW_SCHEMAS[dataset]
    return [(c.name, c.type) for c in (*schema.columns, *BRONZE_LINEAGE_COLUMNS)] + [("dt", "DATE")]


def create_bronze(db_path: Path, rows: Mapping[str, Sequence[Row]]) -> None:
    """Create schema ``bronze`` in a new DuckDB file with one typed table per dataset, as the contract says."""
    con = duckdb.connect(str(db_path))
    try:
        con.execute("create schema bronze")
        for name in RAW_SCHEMAS:
            ddl = ", ".join(f'"{column}" {type_}' for column, type_ in _bronze_columns(name))
            con.execute(f"create table bronze.{name} ({ddl})")
    finally:
        con.close()
    insert_bronze(db_path, rows)


def insert_bronze(db_path: Path, rows: Mapping[str, Sequence[Row]]) -> None:
    """Append rows to the bronze tables of a DuckDB file."""
    con = duckdb.connect(str(db_path))
    try:
        for name, dataset_rows in rows.items():
            if not dataset_rows:
                continue
            names = [column for column, _ in _bronze_columns(name)]
            placeholders = ", ".join("?" for _ in names)
            data = [[row[n] for n in names] for row in dataset_rows]
            con.executemany(f"insert into bronze.{name} values ({placeholders})", data)
    finally:
        con.close()


def latest_versions(rows: Sequence[Row], key: str, as_of: date = AS_OF) -> dict[str, Row]:
    """The silver rule in plain Python: per id the row with the greatest (updated_at, ingest order)."""
    best: dict[str, Row] = {}
    for row in rows:
        if row["dt"] > as_of:
            continue

        def order(r: Row) -> tuple[Any, ...]:
            return (r["updated_at"], r["_ingested_at"], r["_ingest_run_id"], r["_source_line"])

        current = best.get(row[key])
        if current is None or order(row) > order(current):
            best[row[key]] = row
    return best


def run_dbt(
    command: str,
    db_path: Path,
    work_dir: Path,
    dbt_vars: Mapping[str, Any] | None,
    project_dir: Path = DBT_PROJECT_DIR,
    select: Sequence[str] = (),
) -> dbtRunnerResult:
    """Run one dbt command in-process the way the lead's Python does; artifacts and logs go to ``work_dir``."""
    args = [
        command,
        *(["--select", *select] if select else []),
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
        "--no-use-colors",
    ]
    if dbt_vars is not None:
        args += ["--vars", json.dumps(dict(dbt_vars))]
    env = {"LAKEHOUSE_DBT_DB_PATH": str(db_path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    with temporary_environ(env):
        try:
            return dbtRunner().invoke(args)
        finally:
            release_duckdb()


def release_duckdb() -> None:
    """Release what an in-process invoke leaves open (the DuckDB file and dbt.log)."""
    release_dbt_resources()


def node_statuses(result: dbtRunnerResult) -> dict[str, str]:
    """unique_id -> status (``success``, ``pass``, ``fail``, ``error``, ``skipped``) of a build result."""
    run_results = result.result
    assert run_results is not None and hasattr(run_results, "results")
    return {r.node.unique_id: str(r.status) for r in run_results.results}


def query(db_path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of one query on the run's DuckDB file (opened read-only)."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def query_dicts(db_path: Path, sql: str) -> list[Row]:
    """Rows of one query as dicts."""
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        cursor = con.execute(sql)
        names = [c[0] for c in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()
