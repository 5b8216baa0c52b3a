"""``lakehouse demo``: the main job end to end on the embedded defaults.

generate -> ingest (bronze) -> build (dbt silver/gold, events, transcript profiles) -> verify ->
the saved query ``revenue_by_month``, then a short summary. Re-running it is safe: the ingest of
already-ingested extracts is a no-op, and the build publishes new versions of silver and gold.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer
from rich.rule import Rule

from lakehouse.cli.errors import catch_errors, err_console
from lakehouse.cli.options import OptionalCompanyOpt
from lakehouse.cli.output import OutputFormat, console, emit
from lakehouse.cli.progress import DbtNodeReporter, IngestReporter, Steps
from lakehouse.config import load_config
from lakehouse.config.models import LakehouseConfig
from lakehouse.dataplane.ingest import BronzeIngest
from lakehouse.dataplane.store import DatasetStore
from lakehouse.dataplane.zones import DATA_ZONES
from lakehouse.db import migrate
from lakehouse.db.engine import redact_url
from lakehouse.db.records import NotificationRecord, ReviewGateRecord, TaskUpdate
from lakehouse.errors import DataPlaneError, IntegrityError, NotFoundError
from lakehouse.names import validate_slug
from lakehouse.ops import task_admin
from lakehouse.ops.gates import ready_message, sync_gates
from lakehouse.ops.notify import Notifier
from lakehouse.ops.tasks import TaskContext
from lakehouse.ops.worker import Worker
from lakehouse.query.render import render
from lakehouse.query.sandbox import run_query
from lakehouse.query.saved import resolve_query
from lakehouse.runtime import open_store
from lakehouse.sample.gates import write_sample_gates
from lakehouse.sample.generator import DEFAULT_SCALE, DEFAULT_SEED, generate
from lakehouse.sample.writer import TRUTH_FILE, TRUTH_SUFFIX, default_truth_dir
from lakehouse.settings import Settings, get_settings
from lakehouse.transform.build import DbtBuild


def _step(title: str) -> None:
    console.print(Rule(title, align="left"))


@catch_errors
def demo_command(
    company: OptionalCompanyOpt = None,
    days: Annotated[int, typer.Option(min=1, help="Days of sample data to generate.")] = 90,
    scale: Annotated[
        float, typer.Option(help="Sample volume: 1.0 is ~10,000 customers a year.")
    ] = DEFAULT_SCALE,
    seed: Annotated[int, typer.Option(help="Random seed of the sample data.")] = DEFAULT_SEED,
) -> None:
    """Run the main job end to end: sample data -> bronze -> dbt silver/gold -> manifests -> a query."""
    if company is not None:
        validate_slug("company", company)
    settings = get_settings()
    # Without LAKEHOUSE_CONFIG_DIR and ./config (a wheel install run in any folder): the shipped default config.
    config_dir, shipped = settings.config_dir_or_shipped()
    config = load_config(config_dir)
    company = company or config.global_.default_company
    console.print(
        f"config: {config_dir}"
        + (" (the default shipped with the package: no ./config here)" if shipped else ""),
        markup=False,
    )
    _step("control plane")
    migrate.upgrade(settings.database_url, "head")
    console.print(f"migrated {redact_url(settings.database_url)} to head", markup=False)

    with open_store(settings) as store:
        _step("sample data")
        samples = store.root.root / "_samples"
        extract = samples / f"{company}-{days}d-x{scale:g}-seed{seed}"
        other = (
            sorted(
                p.name
                for p in samples.glob(f"{company}-*")
                if p != extract and not p.name.endswith(TRUTH_SUFFIX)  # a sample's ground truth
            )
            if samples.exists()
            else []
        )
        if other:
            # Another sample shares this company's ids with other contents: the two would mix in bronze.
            raise DataPlaneError(
                f"company {company!r} already holds the sample {other[0]}; use another --company, "
                "the same --days/--scale/--seed, or start over with `make clean-data`"
            )
        if not (default_truth_dir(extract) / TRUTH_FILE).exists():
            summary = generate(company, extract, days=days, scale=scale, seed=seed)
            counts = ", ".join(f"{n} {k}" for k, n in summary.row_counts.items())
            console.print(f"generated {days} daily extracts in {extract}: {counts}", markup=False)
        else:
            console.print(f"reusing the extracts in {extract}", markup=False)

        _step("bronze ingest")
        with Steps(f"ingest {company}", min_interval=1.0, unit="file(s)") as steps:
            ingest = BronzeIngest(store).run(
                company,
                [extract],
                progress=IngestReporter(steps),
            )
        if ingest.run_id is None:
            console.print("every extract was ingested before: nothing new (idempotent)", markup=False)
        else:
            console.print(
                f"run {ingest.run_id}: {ingest.rows} rows from {len(ingest.ingested)} files", markup=False
            )

        _step("dbt build (write-audit-publish), events, transcript profiles")
        with Steps(f"build {company}", unit="dbt node(s)") as steps:
            on_node = DbtNodeReporter(steps)

            build = DbtBuild(store, config, settings.dbt_project_dir).run(company, progress=on_node)
        console.print(
            f"build {build.run_id} as of {build.as_of}: {len(build.versions)} datasets published",
            markup=False,
        )

        _step("verify")
        report = store.maintenance.verify(company)
        if not report.ok:
            for p in report.problems:
                err_console.print(str(p), markup=False)
            raise IntegrityError(f"verify found {len(report.problems)} problem(s) in the data of {company!r}")
        console.print(
            f"OK: {report.files_checked} files in {report.versions_checked} versions match their checksums",
            markup=False,
        )

        _operations_plane(store, config, settings, company)

        _step("summary")
        runs = store.dal.list_pipeline_runs(company, limit=5)
        emit(
            OutputFormat.text,
            "latest runs",
            [{"run_id": r.run_id, "pipeline": r.pipeline_name, "status": r.status} for r in runs],
        )
        emit(
            OutputFormat.text,
            "current dataset versions",
            _current_versions(store.dal.list_dataset_versions(company)),
        )
        events = store.dal.count_events_by_type(company)
        emit(
            OutputFormat.text,
            "active events by type",
            [{"event_type": k, "active": v} for k, v in events.items()],
        )

        _name, sql = resolve_query("revenue_by_month", settings.queries_dir)
        allowed = [store.root.zone_location(company, z) for z in DATA_ZONES]
        since = _months_before(build.as_of, 2)
        table = run_query(
            store.root.catalog_path(company), sql, {"since": since.isoformat()}, allowed, limit=12
        )
        # the analysts' catalog: under a local data root, or in this worker's state folder (s3://)
        catalog = store.root.catalog_path(company) if store.root.is_remote else None
    console.print(
        f"revenue by month since {since} (queries/revenue_by_month.sql --param since={since}):", markup=False
    )
    render(table, "table", None, console)
    console.print(
        f"\nnext: lakehouse query -c {company} top_customers   |   "
        f"duckdb -readonly {catalog or f'{settings.data_root}/{company}/catalog.duckdb'}",
        markup=False,
    )


def _months_before(day: date, months: int) -> date:
    """The first day of the month ``months`` months before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _current_versions(versions: list[Any]) -> list[dict[str, Any]]:
    current: dict[tuple[str, str], dict[str, Any]] = {}
    for v in versions:
        row = current.setdefault(
            (v.zone, v.dataset_name), {"zone": v.zone, "dataset": v.dataset_name, "rows": 0}
        )
        row["version"] = v.version_tag
        row["schema_version"] = v.schema_version
        row["rows"] = row["rows"] + v.row_count if v.zone == "bronze" else v.row_count
    return [current[k] for k in sorted(current, key=lambda k: (DATA_ZONES.index(k[0]), k[1]))]


def _operations_plane(store: DatasetStore, config: LakehouseConfig, settings: Settings, company: str) -> None:
    """A schedule, one worker tick, a sample review-gate folder synced, the notifications written."""
    _step("operations plane: a schedule, one worker tick, review gates, notifications")
    key = f"{company}-daily-gc"
    try:
        store.dal.get_task(key)
    except NotFoundError:
        task_admin.add_task(
            store.dal,
            task_admin.NewTask(key, "gc", company, "cron", "15 4 * * *", config.global_.timezone_of(company)),
        )
        console.print(f"added the scheduled task {key} (gc, daily at 04:15)", markup=False)
    # Due now, so that this tick runs it (a worker would run it at 04:15).
    store.dal.update_task(TaskUpdate(key, status="active"), next_run_at=datetime.now(UTC))
    ctx = TaskContext(store, config, settings)
    report = Worker(ctx, only=[key]).run(once=True, max_tasks=1)
    for run in report.runs:
        console.print(
            f"worker tick: {run.task_key} {'ok' if run.success else 'FAILED'} (run {run.run_id}): {run.message}",
            markup=False,
        )
    gates_dir = store.root.root / "_samples" / "gates"
    write_sample_gates(gates_dir)
    notifier = Notifier.from_config(store.dal, config, store.root.root)
    for warning in notifier.warnings:
        err_console.print(f"warning: {warning}", markup=False)
    sent: list[NotificationRecord] = []

    def announce(gate: ReviewGateRecord) -> list[NotificationRecord]:
        receipts = notifier.send(ready_message(gate))
        sent.extend(receipts)
        return receipts

    synced = sync_gates(store.dal, gates_dir, announce)
    console.print(synced.summary(), markup=False)
    if sent:
        for receipt in sent:
            console.print(
                f"notified {receipt.channel} -> {receipt.target}: {receipt.payload.get('text', '')}",
                markup=False,
            )
    else:
        console.print(
            "notifications: each ready gate was announced before (once per head commit)", markup=False
        )
