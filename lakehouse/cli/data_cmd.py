"""Data-plane commands: datasets, runs, verify, gc, catalog."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lakehouse.cli.errors import catch_errors, err_console
from lakehouse.cli.options import (
    FROM_CONFIG,
    KNOWN_PIPELINES,
    CompanyOpt,
    OptionalCompanyOpt,
    OutputOpt,
    default_company,
    require_company,
    require_known,
)
from lakehouse.cli.output import OutputFormat, console, emit, note_cut, print_json, print_run, run_document
from lakehouse.errors import DataPlaneError
from lakehouse.names import validate_slug
from lakehouse.runtime import open_dal, open_store
from lakehouse.settings import get_settings

if TYPE_CHECKING:  # `lakehouse datasets` reads control-plane rows only: no DuckDB, pyarrow or config
    from lakehouse.dataplane.maintenance import GcReport


@catch_errors
def datasets_command(
    company: CompanyOpt = FROM_CONFIG,
    limit: Annotated[
        int | None, typer.Option(min=1, metavar="N", help="Show at most N datasets (default: all).")
    ] = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """List the published datasets of a company: current version, its as-of date, row counts.

    Silver/gold: the current version is the one with the newest as-of (then the latest commit);
    bronze: the newest commit, and as_of its newest dt.
    """
    validate_slug("company", company)
    with open_dal() as dal:
        require_company(dal, company)
        versions = dal.list_dataset_versions(company, with_schema=False)
    by_dataset: dict[tuple[str, str], list[Any]] = {}
    for v in versions:
        by_dataset.setdefault((v.zone, v.dataset_name), []).append(v)
    rows = []
    for (zone, name), group in by_dataset.items():
        # (what dataplane.store.current_of picks: the newest as-of, then the latest commit)
        current = group[-1] if zone == "bronze" else max(group, key=lambda v: v.currency_key)
        backfills = 0 if zone == "bronze" else _backfills(group)
        rows.append(
            {
                "zone": zone,
                "dataset": name,
                "current": current.version_tag,
                "as_of": max((v.as_of for v in group if v.as_of), default=None)
                if zone == "bronze"
                else current.as_of,
                "schema_version": current.schema_version,
                "versions": len(group),
                "backfills": backfills,
                "rows": sum(v.row_count for v in group) if zone == "bronze" else current.row_count,
                "created_at": current.created_at,
            }
        )
    total = len(rows)
    rows = rows if limit is None else rows[:limit]
    emit(
        output,
        f"datasets of {company}",
        rows,
        ["zone", "dataset", "current", "as_of", "schema_version", "versions", "backfills", "rows"],
    )
    note_cut(len(rows), total, "datasets")


def _backfills(versions: list[Any]) -> int:
    """Versions that were backfills when committed: an as-of before one already published."""
    count, newest = 0, None
    for v in sorted(versions, key=lambda v: v.commit_seq):
        if v.as_of is not None and newest is not None and v.as_of < newest:
            count += 1
        if v.as_of is not None and (newest is None or v.as_of > newest):
            newest = v.as_of
    return count


runs_app = typer.Typer(
    help="Pipeline runs: `runs -c COMPANY` lists the newest, `runs show RUN_ID` prints one whole.",
    invoke_without_command=True,
)


@runs_app.callback()
@catch_errors
def runs_command(
    ctx: typer.Context,
    company: OptionalCompanyOpt = None,
    pipeline: Annotated[
        str | None, typer.Option(help=f"Only runs of this pipeline ({', '.join(KNOWN_PIPELINES)}).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, metavar="N", help="Show at most N runs.")] = 20,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """List recent pipeline runs, newest first; a run whose process died is marked failed first.

    A line on stderr says when --limit cuts the list.
    """
    if ctx.invoked_subcommand is not None:
        return
    if company is None:
        company = default_company()
    validate_slug("company", company)
    with open_store() as store:
        require_company(store.dal, company)
        counts = store.dal.count_pipeline_runs(company)
        require_known("pipeline", pipeline, [*KNOWN_PIPELINES, *(p for _, p in counts)])
        total = sum(n for (_, p), n in counts.items() if pipeline in (None, p))
        from lakehouse.dataplane.recovery import recover_runs

        recover_runs(store, company, command="runs")
        runs = store.dal.list_pipeline_runs(company, pipeline, limit)
    rows = [
        {
            "run_id": r.run_id,
            "pipeline": r.pipeline_name,
            "status": r.status,
            "started_at": r.started_at,
            "finished_at": r.finished_at,
            "error": (r.error or {}).get("message"),
        }
        for r in runs
    ]
    if output == OutputFormat.text:  # keep the table readable; --output json has everything
        rows = [
            r
            | {
                "started_at": f"{r['started_at']:%Y-%m-%d %H:%M:%S}",
                "finished_at": f"{r['finished_at']:%H:%M:%S}" if r["finished_at"] else "",
                "error": _shorten(str(r["error"] or ""), 90),
            }
            for r in rows
        ]
    emit(output, f"runs of {company}", rows)
    note_cut(len(rows), total, "runs")


@runs_app.command("show")
@catch_errors
def runs_show_command(
    run_id: Annotated[str, typer.Argument(help="The run id (as `lakehouse runs -c COMPANY` lists it).")],
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Print one run whole: holder, error, inputs, outputs, dataset versions, dbt nodes."""
    with open_store() as store:
        run = store.dal.get_pipeline_run(run_id)
        if run.status == "running" and run_id in store.dal.reap_dead_runs(run.company, command="runs"):
            run = store.dal.get_pipeline_run(run_id)
        versions = store.dal.list_dataset_versions(
            run.company, include_expired=True, produced_by_run_id=run_id
        )
    if output == OutputFormat.json:
        print_json(run_document(run, versions))
        return
    print_run(run, versions, store.dal.run_alive(run) if run.status == "running" else None)


@catch_errors
def verify_command(
    company: CompanyOpt = FROM_CONFIG,
    dataset: Annotated[str | None, typer.Option(help="Only this dataset.")] = None,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Recompute the checksums of the published files; exit 1 naming every missing, extra or altered file."""
    validate_slug("company", company)
    with open_store() as store:
        require_company(store.dal, company)
        report = store.maintenance.verify(company, dataset)
        if report.versions_checked == 0 and not report.problems:
            what = f"dataset {dataset!r} of company {company!r}" if dataset else f"company {company!r}"
            raise DataPlaneError(f"nothing to verify: {what} has no published version (check the name)")
    if output == OutputFormat.json:
        print_json(
            {
                "ok": report.ok,
                "versions_checked": report.versions_checked,
                "files_checked": report.files_checked,
                "problems": [{"kind": p.kind, "path": p.path, "detail": p.detail} for p in report.problems],
            }
        )
    else:
        for p in report.problems:
            err_console.print(str(p), markup=False)
        state = "OK" if report.ok else f"FAILED: {len(report.problems)} problem(s)"
        console.print(
            f"{state}: {report.files_checked} file(s) in {report.versions_checked} version(s) checked",
            markup=False,
        )
        if any(p.kind == "extra" for p in report.problems):
            err_console.print(
                "extra files are listed by no committed version (leftovers of a crashed run): "
                f"`lakehouse gc -c {company}` removes them",
                markup=False,
            )
    if not report.ok:
        raise typer.Exit(1)


@catch_errors
def gc_command(
    company: CompanyOpt = FROM_CONFIG,
    keep: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Silver/gold versions to keep per dataset, the current one included "
            "(default: retention.keep_versions of config/global.json).",
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="Only list what would be removed.")] = False,
    output: OutputOpt = OutputFormat.text,
) -> None:
    """Remove leftovers of crashed runs and silver/gold versions older than the newest KEEP."""
    validate_slug("company", company)
    from lakehouse.config import load_config

    settings = get_settings()
    retention = load_config(settings.config_dir).global_.retention
    if keep is None:
        keep = retention.keep_versions
    with open_store(settings) as store:
        require_company(store.dal, company)
        report = store.maintenance.gc(
            company, keep, dry_run, min_age=timedelta(minutes=retention.min_age_minutes)
        )
        stale = None if dry_run else store.stale_catalog(company)
    _print_gc(report, dry_run, output)
    if stale is not None:
        raise stale


def _print_gc(report: GcReport, dry_run: bool, output: OutputFormat) -> None:
    if output == OutputFormat.json:
        print_json(
            {
                "dry_run": dry_run,
                "removed_files": report.removed_files,
                "expired_versions": report.expired_versions,
                "abandoned_runs": report.abandoned_runs,
            }
        )
        return
    verb = "would remove" if dry_run else "removed"
    for path in report.removed_files:
        console.print(f"{verb} {path}", markup=False)
    for run_id in report.abandoned_runs:
        console.print(
            f"{'would mark' if dry_run else 'marked'} run {run_id} failed: its process died", markup=False
        )
    console.print(
        f"{verb} {len(report.removed_files)} file(s); {len(report.expired_versions)} version(s) expired; "
        f"{len(report.abandoned_runs)} abandoned run(s)",
        markup=False,
    )


def _shorten(text: str | None, width: int) -> str:
    if not text:
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@catch_errors
def catalog_command(company: CompanyOpt = FROM_CONFIG, output: OutputOpt = OutputFormat.text) -> None:
    """Rebuild the company's DuckDB catalog (data/<company>/catalog.duckdb) from what is committed."""
    validate_slug("company", company)
    with open_store() as store:
        require_company(store.dal, company)
        if not store.dal.list_dataset_versions(company):
            raise DataPlaneError(f"company {company!r} has nothing published yet")
        path = store.refresh_catalog(company)
    if output == OutputFormat.json:
        print_json({"company": company, "catalog": str(path)})
        return
    console.print(f"rebuilt {path}", markup=False)
