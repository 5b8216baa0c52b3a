"""Migrations lose nothing: a downgrade followed by the upgrade gives back every row and value.

The database is filled at head with realistic rows of every table (through the DAL, as the pipelines
write them), then every revision of the Alembic script directory is walked: one step down and up
again, compared with the content before; then down to the first revision and back up to head,
compared with the content at head. Content is every column of every row of every table, rows sorted
by primary key, as the driver returns it (JSON as text, so JSON ``null`` differs from SQL NULL).

A NEW MIGRATION extends :func:`_fill` so the new table or column holds realistic rows: the
``filled_url`` fixture fails every test with "add realistic rows for table X" for a table without
rows, and asks for at least two different values (one of them not NULL) in every column, so a column
an upgrade refills with one constant (NULL or a default) cannot come back equal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.script import Script, ScriptDirectory

from lakehouse.dal import DataAccessLayer
from lakehouse.dataplane.manifest import manifest_relpath, run_manifest
from lakehouse.db.engine import make_engine
from lakehouse.db.migrate import (
    VERSION_TABLE,
    DowngradeRefusedError,
    alembic_config,
    current_revision,
    downgrade,
    upgrade,
)
from lakehouse.db.models import EventIndex, Notification, PipelineRun, ReviewGate, table_of
from lakehouse.db.records import (
    DatasetFileRecord,
    DatasetVersionSpec,
    DetectedEvent,
    NotificationSpec,
    PullRequest,
    ReviewChecks,
    TaskOutcome,
    TaskRun,
    TaskSpec,
    TaskUpdate,
)

Row = dict[str, Any]
#: Table name -> primary key (as text) -> row, in primary-key order.
Content = dict[str, dict[str, Row]]


def _revisions() -> list[Script]:
    """Every revision of the script directory, newest first (the history must stay linear)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    heads = script.get_heads()
    assert len(heads) == 1, f"the migration history has several heads {heads}: merge them"
    return list(script.walk_revisions())


REVISIONS = _revisions()
HEAD = REVISIONS[0].revision
FIRST = REVISIONS[-1].revision
STEPS = [r for r in REVISIONS if r.down_revision is not None]


def _label(script: Script) -> str:
    return Path(script.path).stem


# --- the content of a database ---------------------------------------------------------------------


def _content(url: str) -> Content:
    """Every row of every table (the Alembic version table aside), sorted by primary key."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            content: Content = {}
            for name in sorted(inspector.get_table_names()):
                if name == VERSION_TABLE:
                    continue
                columns = inspector.get_columns(name)
                table = sa.table(name, *(sa.column(c["name"]) for c in columns))
                # Untyped columns: the values as the driver returns them; JSON as its text.
                selected = [
                    sa.cast(table.c[c["name"]], sa.Text).label(c["name"])
                    if isinstance(c["type"], sa.JSON)
                    else table.c[c["name"]]
                    for c in columns
                ]
                key = inspector.get_pk_constraint(name)["constrained_columns"] or [c["name"] for c in columns]
                query = sa.select(*selected).order_by(*(table.c[k] for k in key))
                rows = [dict(row) for row in conn.execute(query).mappings()]
                content[name] = {", ".join(f"{k}={row[k]}" for k in key): row for row in rows}
            return content
    finally:
        engine.dispose()


def _differences(before: Content, after: Content) -> list[str]:
    """What changed between two contents, one line per table, row or value (empty if nothing)."""
    problems = [f"table {t} is gone" for t in sorted(before.keys() - after.keys())]
    problems += [f"table {t} is new" for t in sorted(after.keys() - before.keys())]
    for name in sorted(before.keys() & after.keys()):
        old, new = before[name], after[name]
        problems += [f"{name} row {k} is gone: {old[k]}" for k in old if k not in new]
        problems += [f"{name} row {k} is new: {new[k]}" for k in new if k not in old]
        for k in (k for k in old if k in new):
            a, b = old[k], new[k]
            problems += [f"{name}: column {c} is gone" for c in a if c not in b]
            problems += [f"{name}: column {c} is new" for c in b if c not in a]
            problems += [
                f"{name} row {k}: {c} {a[c]!r} became {b[c]!r}" for c in a if c in b and a[c] != b[c]
            ]
    return list(dict.fromkeys(problems))


def _assert_same(before: Content, after: Content, what: str) -> None:
    problems = _differences(before, after)
    shown = "\n  ".join(problems[:25]) + (
        f"\n  ... and {len(problems) - 25} more" if len(problems) > 25 else ""
    )
    assert not problems, f"{what} changed the data:\n  {shown}"


def _revision_of(url: str) -> str | None:
    engine = make_engine(url)
    try:
        return current_revision(engine)
    finally:
        engine.dispose()


# --- realistic rows of every table -----------------------------------------------------------------

T0 = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _schema(dataset: str, version: str, columns: list[tuple[str, str, bool]]) -> dict[str, Any]:
    """A recorded column schema, in the form ``lakehouse.dataplane.schemas.schema_to_json`` writes."""
    return {
        "name": dataset,
        "version": version,
        "primary_key": [columns[0][0]],
        "columns": [{"name": n, "type": t, "nullable": null, "enum": None} for n, t, null in columns],
    }


ORDERS_V1 = _schema("orders", "1", [("order_id", "VARCHAR", False), ("amount", "DECIMAL(12,2)", False)])
ORDERS_V2 = _schema(
    "orders",
    "2",
    [("order_id", "VARCHAR", False), ("amount", "DECIMAL(12,2)", False), ("coupon", "VARCHAR", True)],
)
CUSTOMERS_V1 = _schema("customers", "1", [("customer_id", "VARCHAR", False), ("country", "VARCHAR", True)])
STG_ORDERS_V1 = _schema("stg_orders", "1", [("order_id", "VARCHAR", False), ("amount_eur", "DOUBLE", False)])
INVOICES_V1 = _schema("invoices", "1", [("invoice_id", "VARCHAR", False), ("due_date", "DATE", True)])
REVENUE_V1 = _schema("revenue_monthly", "1", [("month", "DATE", False), ("revenue_eur", "DOUBLE", False)])


def _version(
    company: str,
    zone: str,
    dataset: str,
    run_id: str,
    schema: dict[str, Any] | None,
    days: list[str],
    rows: int,
) -> tuple[DatasetVersionSpec, dict[str, Any]]:
    """A dataset version as the data plane registers it, and its entry in the run's output manifest."""
    files = [
        {
            "path": f"{company}/{zone}/dataset={dataset}/dt={day}/part-{run_id}-0.parquet",
            "size_bytes": 4096 + i * 512,
            "row_count": rows // len(days),
            "checksum": "sha256:" + _sha(f"{run_id}/{dataset}/{day}"),
            "dt": day,
        }
        for i, day in enumerate(days)
    ]
    version = schema["version"] if schema else "1"
    spec = DatasetVersionSpec(
        company=company,
        dataset_name=dataset,
        version_tag=run_id,
        schema_version=str(version),
        manifest_path=f"{company}/manifests/{manifest_relpath(zone, dataset, run_id).as_posix()}",
        row_count=rows // len(days) * len(days),
        checksum="sha256:" + _sha(f"{run_id}/{dataset}"),
        produced_by_run_id=run_id,
        zone=zone,
        schema=schema,
        as_of=date.fromisoformat(max(days)),
        files=tuple(
            DatasetFileRecord(
                f["path"],
                f["size_bytes"],
                f["row_count"],
                f["checksum"],
                date.fromisoformat(f["dt"]),
                dt_min=date.fromisoformat(f["dt"]),
                dt_max=date.fromisoformat(f["dt"]),
                key_min=f"{dataset}-{position:04d}",
                key_max=f"{dataset}-{position + f['row_count']:04d}",
            )
            for position, f in enumerate(files)
        ),
    )
    output = {"zone": zone, "dataset": dataset, "schema_version": str(version), "files": files}
    return spec, output


#: Datasets whose generated files are header-only: the same bytes on every day.
HEADER_ONLY = {"customers"}


def _ingest(
    dal: DataAccessLayer, company: str, datasets: dict[str, tuple[dict[str, Any] | None, list[str]]]
) -> str:
    """A successful bronze ingest of one source file per dataset and day, as ``lakehouse ingest`` runs it."""
    sources: list[dict[str, Any]] = [
        {
            "path": f"/srv/inbox/{company}/{name}_{day}.csv",
            "dataset": name,
            "dt": day,
            "format": "csv",
            "size_bytes": 10_240,
            # A header-only file has the same bytes every day (one claim per day all the same).
            "sha256": _sha(f"{company}/{name}/" + ("header-only" if name in HEADER_ONLY else day)),
        }
        for name, (_schema_json, days) in datasets.items()
        for day in days
    ]
    run_id = dal.start_pipeline_run(company, "ingest", stage="bronze", input_manifest={"sources": sources})
    staged = [_version(company, "bronze", n, run_id, s, d, 120 * len(d)) for n, (s, d) in datasets.items()]
    claims = [(f"ingest:{company}:{s['dataset']}", f"{s['dt']}/{s['sha256']}") for s in sources]
    dal.commit_dataset_versions([spec for spec, _ in staged], claims)
    manifest = run_manifest(
        run_id=run_id,
        company=company,
        pipeline="ingest",
        inputs=sources,
        outputs=[out for _, out in staged],
        rejected_rows=0,
        rejects_files=[],
    )
    dal.finish_pipeline_run(run_id, "success", manifests=manifest)
    return run_id


def _build(dal: DataAccessLayer, company: str, as_of: str) -> str:
    """A successful dbt build publishing a silver and a gold version, as ``lakehouse build`` runs it."""
    bronze = [
        {"dataset": v.dataset_name, "version": v.version_tag, "checksum": v.checksum, "rows": v.row_count}
        for v in dal.list_dataset_versions(company, zone="bronze")
    ]
    inputs = {"as_of": as_of, "select": [], "bronze_versions": bronze}
    run_id = dal.start_pipeline_run(company, "dbt_build", stage="silver_gold", input_manifest=inputs)
    staged = [
        _version(company, "silver", "stg_orders", run_id, STG_ORDERS_V1, [as_of], 240),
        _version(company, "gold", "revenue_monthly", run_id, REVENUE_V1, [as_of], 12),
    ]
    dal.commit_dataset_versions([spec for spec, _ in staged])
    manifest = run_manifest(
        run_id=run_id,
        company=company,
        pipeline="dbt_build",
        inputs=bronze,
        outputs=[out for _, out in staged],
        as_of=as_of,
        dbt_invocation_id=f"inv-{run_id[-8:]}",
        nodes=[{"unique_id": "model.lakehouse.stg_orders", "status": "success", "execution_time": 0.4}],
        events={"invoice_overdue": {"active": 2, "resolved": 1}},
    )
    dal.finish_pipeline_run(run_id, "success", manifests=manifest)
    return run_id


def _fill_runs_and_versions(dal: DataAccessLayer) -> None:
    first = _ingest(
        dal,
        "acme",
        {
            "orders": (ORDERS_V1, ["2026-10-30", "2026-10-31"]),
            "customers": (CUSTOMERS_V1, ["2026-10-30", "2026-10-31"]),
        },
    )
    _ingest(dal, "acme", {"orders": (ORDERS_V2, ["2026-11-01"]), "customers": (CUSTOMERS_V1, ["2026-11-01"])})
    # payments: a version recorded without a schema.
    _ingest(dal, "globex", {"invoices": (INVOICES_V1, ["2026-11-01"]), "payments": (None, ["2026-11-01"])})
    _build(dal, "acme", "2026-10-31")
    _build(dal, "acme", "2026-11-01")
    # gc expired the first ingest's versions.
    expired = [v.id for v in dal.list_dataset_versions("acme", zone="bronze") if v.version_tag == first]
    assert dal.expire_dataset_versions(expired) == 2

    failed = dal.start_pipeline_run(
        "acme",
        "dbt_build",
        stage="silver_gold",
        input_manifest={"as_of": "2026-11-01", "select": ["stg_orders"]},
    )
    dal.finish_pipeline_run(
        failed,
        "failed",
        error={"type": "BuildFailedError", "message": "dbt test failed", "failed_nodes": ["test.not_null"]},
    )
    running = dal.start_pipeline_run(
        "globex", "transcript_pipeline", stage="gold", input_manifest={"sources": []}
    )
    # One run is held by a process on another host; one was started before runs recorded a holder.
    runs = table_of(PipelineRun)
    with dal._engine.begin() as conn:
        conn.execute(
            sa.update(runs)
            .where(runs.c.run_id == running)
            .values(holder_host="worker-2.internal", holder_pid=48213, heartbeat_at=T0)
        )
        conn.execute(
            sa.update(runs)
            .where(runs.c.run_id == failed)
            .values(holder_host=None, holder_pid=None, heartbeat_at=None)
        )


def _fill_scheduler(dal: DataAccessLayer) -> None:
    dal.create_task(
        TaskSpec(
            "acme-nightly-build",
            "build",
            "acme",
            "cron",
            "0 3 * * *",
            timezone="Europe/Berlin",
            config={"select": ["marts"], "notify": ["slack:#data"]},
        )
    )
    dal.create_task(
        TaskSpec("acme-hourly-ingest", "ingest", "acme", "interval", "3600", config={"inbox": "acme"})
    )
    dal.update_task(TaskUpdate("acme-hourly-ingest", status="paused"))
    dal.create_task(TaskSpec("globex-extract", "extract", "globex", "cron", "30 6 * * 1-5", status="deleted"))
    dal.record_task_run(
        TaskRun(
            "acme-nightly-build",
            "sched-20261101T030000Z",
            T0,
            T0 + timedelta(minutes=4, seconds=12),
            True,
            "built 2 versions",
            {"versions": 2},
        )
    )
    dal.record_task_run(
        TaskRun(
            "acme-nightly-build",
            "sched-20261102T030000Z",
            T0 + timedelta(days=1),
            T0 + timedelta(days=1, seconds=38),
            False,
            "dbt test failed",
            {"failed_nodes": ["test.not_null"]},
        )
    )
    dal.record_task_run(TaskRun("acme-hourly-ingest", "sched-20261103T100000Z", T0 + timedelta(days=2)))
    # A retry recorded by a worker (migration 0007: occurrence, try and worker of a run).
    dal.record_task_run(
        TaskRun(
            "acme-nightly-build",
            "sched-20261102T031500Z",
            T0 + timedelta(days=1, minutes=15),
            T0 + timedelta(days=1, minutes=19),
            True,
            "built 2 versions",
            {"versions": 2},
            occurrence_at=T0 + timedelta(days=1),
            attempt=2,
            worker_id="worker-1.internal:3121",
        )
    )
    # Claimed by workers: a once task that ran (done), and a daily gc whose worker is running it.
    dal.create_task(
        TaskSpec("globex-once-backfill", "build", "globex", "once", "2026-11-01T06:00"),
        next_run_at=T0 - timedelta(hours=2),
    )
    dal.create_task(
        TaskSpec("acme-gc", "gc", "acme", "interval", "1d", config={"keep": 3}), T0 - timedelta(hours=1)
    )
    once, gc = dal.claim_due_tasks("worker-2.internal:48213", timedelta(minutes=5), limit=2)
    assert (once.task.task_key, gc.task.task_key) == ("globex-once-backfill", "acme-gc")
    dal.finish_task_claim(
        once, TaskOutcome(True, "built as of 2026-11-01", T0, None, 0, {"pipeline_run": once.run_id}, "done")
    )


def _fill_events(dal: DataAccessLayer) -> None:
    events = [
        DetectedEvent(
            "acme:overdue:INV-1001", "acme", "invoice_overdue", "invoice", "INV-1001", "high", {"days": 31}
        ),
        DetectedEvent(
            "acme:overdue:INV-1002", "acme", "invoice_overdue", "invoice", "INV-1002", "medium", {"days": 9}
        ),
        DetectedEvent(
            "acme:churn:C-17",
            "acme",
            "churn_risk",
            "customer",
            "C-17",
            "low",
            {"score": 0.71},
            "acme/bronze/dataset=customers/dt=2026-10-31/part-0.parquet",
        ),
    ]
    dal.upsert_events_index(events, run_id="20261101T030000000000Z-0a1b2c3d")
    # The next build sees INV-1001 again (last_seen_at moves), no longer INV-1002, and a globex event.
    later = [
        events[0],
        DetectedEvent(
            "globex:overdue:G-7", "globex", "invoice_overdue", "invoice", "G-7", "high", {"days": 45}
        ),
    ]
    dal.upsert_events_index(later, run_id="20261102T030000000000Z-4e5f6a7b")
    dal.resolve_missing_events(["acme:overdue:INV-1001"], "invoice_overdue", "acme")
    events_index = table_of(EventIndex)
    with dal._engine.begin() as conn:
        conn.execute(
            sa.update(events_index)
            .where(events_index.c.event_id == "acme:churn:C-17")
            .values(status="archived")
        )


def _fill_review_and_notifications(dal: DataAccessLayer) -> None:
    dal.upsert_review_gate(
        "task-412",
        PullRequest(88, "datahound/lakehouse", "fix/zone-roundtrip"),
        ReviewChecks(ci_passed=True, codex_passed=True, branch_up_to_date=True),
        mode="soft",
    )
    dal.mark_ready("task-412")
    dal.upsert_review_gate(
        "task-413",
        PullRequest(91, "datahound/dbt-models", "feat/revenue"),
        ReviewChecks(ci_passed=False, claude_passed=True, gemini_passed=True, screenshots_included=True),
    )
    dal.record_notification(
        NotificationSpec("task-412", "slack", "#data-eng", "ready", "sent", {"pr": 88}, "1730516400.000100")
    )
    dal.record_notification(
        NotificationSpec(
            "task-413", "email", "oncall@example.com", "failed", "failed", {"error": "smtp timeout"}
        )
    )
    dal.record_notification(
        NotificationSpec("task-413", "slack", "#data-eng", "info", "sent", {"note": "ci rerun"})
    )


def _fill_gate_heads_and_notification_keys(dal: DataAccessLayer) -> None:
    """Migration 0008's columns: a gate's head commit; a receipt's key, attempts and error."""
    gates, receipts = table_of(ReviewGate), table_of(Notification)
    with dal._engine.begin() as conn:
        conn.execute(
            sa.update(gates).where(gates.c.task_id == "task-412").values(head_commit="9f3c2a1e7b44d0c5")
        )
        conn.execute(
            sa.update(receipts)
            .where(receipts.c.task_id == "task-413", receipts.c.status == "failed")
            .values(idempotency_key="task-413:failed:ci", attempts=3, error="smtp timeout after 10s")
        )
        conn.execute(
            sa.update(receipts)
            .where(receipts.c.task_id == "task-412")
            .values(idempotency_key="task-412:ready:9f3c2a1e7b44d0c5")
        )


def _fill_idempotency(dal: DataAccessLayer) -> None:
    assert dal.claim_idempotency_key("notify", "task-412:ready", run_id="call-5e1d")
    assert dal.claim_idempotency_key(
        "build-lease", "acme", ttl=timedelta(minutes=10), run_id="20261103T0900Z-77aa"
    )
    assert dal.claim_idempotency_key("webhook", "delivery-6c2f")


def _fill(url: str) -> None:
    """Fill every table at head with realistic rows (a new table or column needs rows here too)."""
    dal = DataAccessLayer.from_url(url)
    try:
        _fill_scheduler(dal)
        _fill_runs_and_versions(dal)
        _fill_events(dal)
        _fill_review_and_notifications(dal)
        _fill_gate_heads_and_notification_keys(dal)
        _fill_idempotency(dal)
    finally:
        dal.close()


def _coverage_problems(content: Content) -> list[str]:
    """Tables without rows and columns whose loss a round trip could not notice."""
    problems: list[str] = []
    for name, by_key in content.items():
        rows = list(by_key.values())
        if len(rows) < 2:
            problems.append(
                f"add realistic rows for table {name} (at least two) to _fill in tests/control/test_migrations_roundtrip.py"
            )
            continue
        for column in rows[0]:
            values = {repr(row[column]) for row in rows}
            if len(values) < 2 or values == {"None"}:
                problems.append(
                    f"give column {name}.{column} at least two different values, one not NULL, in _fill "
                    "(tests/control/test_migrations_roundtrip.py): a lossy downgrade of a one-valued column goes unnoticed"
                )
    return problems


@pytest.fixture
def filled_url(empty_db_url: str) -> Iterator[str]:
    """A database at head with realistic rows in every table (every test fails loudly otherwise)."""
    upgrade(empty_db_url, "head")
    _fill(empty_db_url)
    problems = _coverage_problems(_content(empty_db_url))
    if problems:
        pytest.fail("the round-trip fixture does not cover the schema at head:\n" + "\n".join(problems))
    yield empty_db_url


# --- tests -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("step", STEPS, ids=_label)
def test_one_step_down_and_up_gives_back_every_row(filled_url: str, step: Script) -> None:
    downgrade(filled_url, step.revision)  # every step above ``step`` may change the data; this one may not
    before = _content(filled_url)
    assert isinstance(step.down_revision, str)
    downgrade(filled_url, step.down_revision)
    upgrade(filled_url, step.revision)
    _assert_same(before, _content(filled_url), f"downgrading {_label(step)} and upgrading it again")


def test_walk_down_to_the_first_revision_and_back_to_head(filled_url: str) -> None:
    at_head = _content(filled_url)
    for step in STEPS:
        assert _revision_of(filled_url) == step.revision
        before = _content(filled_url)
        assert isinstance(step.down_revision, str)
        downgrade(filled_url, step.down_revision)
        upgrade(filled_url, step.revision)
        _assert_same(before, _content(filled_url), f"downgrading {_label(step)} and upgrading it again")
        downgrade(filled_url, step.down_revision)
    assert _revision_of(filled_url) == FIRST
    upgrade(filled_url, "head")
    assert _revision_of(filled_url) == HEAD
    _assert_same(at_head, _content(filled_url), f"the walk from head down to {FIRST} and back")


def test_downgrade_to_base_refuses_while_tables_hold_rows(filled_url: str) -> None:
    at_head = _content(filled_url)
    with pytest.raises(DowngradeRefusedError, match="--drop-data") as refused:
        downgrade(filled_url, "base")
    for name in at_head:
        assert f"{name} (" in str(refused.value)
    assert _revision_of(filled_url) == HEAD  # refused before any step ran
    _assert_same(at_head, _content(filled_url), "a refused downgrade")

    downgrade(filled_url, "base", drop_data=True)
    assert _revision_of(filled_url) is None
    assert _content(filled_url) == {}


def test_downgrade_to_base_proceeds_when_every_table_is_empty(empty_db_url: str) -> None:
    upgrade(empty_db_url, "head")
    downgrade(empty_db_url, "base")
    assert _content(empty_db_url) == {}
